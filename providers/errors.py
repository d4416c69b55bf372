# ruff: noqa: E501  (the error table reads best one code per line)
"""Provider error codes mapped to ours, with Vietnamese and English texts (provider-apis.md §1.15, §2.10).

Each entry says what the dispatcher should do:
- `kind`: "permanent" (never retry this payload), "retry" (try again later), "token" (refresh the
  access token and retry once; after that it counts as "retry").
- `scope`: who the error is about — "message" (this recipient/payload only), "template" (every message
  using the template will fail the same way), "oa" (the whole OA is blocked: pause the batch).
"""

from dataclasses import dataclass

from django.utils.translation import get_language

PERMANENT, RETRY, TOKEN = "permanent", "retry", "token"
MESSAGE, TEMPLATE, OA = "message", "template", "oa"


@dataclass(frozen=True)
class ErrorInfo:
    code: str  # ours, stable, upper snake case
    kind: str
    scope: str
    vi: str
    en: str

    @property
    def permanent(self) -> bool:
        return self.kind == PERMANENT

    @property
    def halts_batch(self) -> bool:
        return self.scope == OA

    def text(self, language: str | None = None) -> str:
        """The text in `language` (default: the active one): English for "en…", else Vietnamese."""
        if language is None:
            language = get_language() or "vi"
        return self.en if language.startswith("en") else self.vi


def _e(code, kind, scope, vi, en):
    return ErrorInfo(code, kind, scope, vi, en)


# fmt: off
ZALO_ERRORS: dict[int, ErrorInfo] = {
    -100: _e("PROVIDER_UNKNOWN_ERROR", RETRY, MESSAGE, "Lỗi không xác định từ Zalo, thử lại sau", "Unknown Zalo error, retry later"),
    -101: _e("APP_INVALID", PERMANENT, OA, "Ứng dụng không hợp lệ", "Application is invalid"),
    -102: _e("APP_NOT_FOUND", PERMANENT, OA, "Ứng dụng không tồn tại", "Application does not exist"),
    -103: _e("APP_NOT_ACTIVATED", PERMANENT, OA, "Ứng dụng chưa được kích hoạt", "Application is not activated"),
    -104: _e("APP_SECRET_INVALID", PERMANENT, OA, "App secret key không hợp lệ", "App secret key is invalid"),
    -105: _e("APP_NOT_LINKED_TO_OA", PERMANENT, OA, "Ứng dụng chưa liên kết với OA nào", "Application is not linked to any OA"),
    -106: _e("METHOD_UNSUPPORTED", PERMANENT, OA, "Phương thức không được hỗ trợ", "Method is not supported"),
    -107: _e("MESSAGE_ID_INVALID", PERMANENT, MESSAGE, "ID thông báo không hợp lệ", "Message id is invalid"),
    -108: _e("PHONE_INVALID", PERMANENT, MESSAGE, "Số điện thoại không hợp lệ", "Phone number is invalid"),
    -109: _e("TEMPLATE_ID_INVALID", PERMANENT, TEMPLATE, "ID mẫu thông báo không hợp lệ", "Template id is invalid"),
    -1091: _e("TEMPLATE_NOT_EDITABLE", PERMANENT, TEMPLATE, "Không thể chỉnh sửa mẫu này", "This template cannot be edited"),
    -110: _e("ZALO_APP_OUTDATED", PERMANENT, MESSAGE, "Phiên bản Zalo của người nhận không hỗ trợ", "The recipient's Zalo app version is not supported"),
    -111: _e("TEMPLATE_DATA_EMPTY", PERMANENT, MESSAGE, "Dữ liệu mẫu thông báo trống", "Template data is empty"),
    -112: _e("TEMPLATE_DATA_TYPE_UNDEFINED", PERMANENT, MESSAGE, "Kiểu dữ liệu mẫu chưa được định nghĩa", "Template data type is not defined"),
    -1121: _e("PARAM_TOO_LONG", PERMANENT, MESSAGE, "Dữ liệu tham số vượt quá độ dài tối đa", "Parameter exceeds its maximum length"),
    -1122: _e("PARAM_MISSING", PERMANENT, MESSAGE, "Thiếu tham số của mẫu", "A template parameter is missing"),
    -1123: _e("QR_CODE_FAILED", RETRY, MESSAGE, "Không tạo được mã QR", "QR code generation failed"),
    -1124: _e("PARAM_FORMAT_INVALID", PERMANENT, MESSAGE, "Tham số sai định dạng", "A parameter has an invalid format"),
    -113: _e("BUTTON_INVALID", PERMANENT, TEMPLATE, "Nút bấm không hợp lệ", "Button is invalid"),
    -1131: _e("BUTTON_CONTENT_INVALID", PERMANENT, MESSAGE, "Nội dung hoặc liên kết của nút bấm sai định dạng", "Button content or link has an invalid format"),
    -114: _e("RECIPIENT_CANNOT_RECEIVE", PERMANENT, MESSAGE, "Người dùng không nhận được thông báo (không hoạt động, đã từ chối ZNS…)", "The user cannot receive the message (inactive, refused ZNS, …)"),
    -115: _e("OUT_OF_BALANCE", RETRY, OA, "Hết hạn mức hoặc số dư ZNS không đủ", "Out of quota or insufficient ZNS balance"),
    -116: _e("CONTENT_INVALID", PERMANENT, MESSAGE, "Nội dung không hợp lệ", "Content is invalid"),
    -117: _e("TEMPLATE_NOT_PERMITTED", PERMANENT, TEMPLATE, "OA hoặc ứng dụng không có quyền dùng mẫu này", "The OA or app may not use this template"),
    -118: _e("RECIPIENT_NOT_ON_ZALO", PERMANENT, MESSAGE, "Tài khoản Zalo không tồn tại hoặc đã bị vô hiệu hóa", "The Zalo account does not exist or is deactivated"),
    -119: _e("RECIPIENT_ACCOUNT_CANNOT_RECEIVE", PERMANENT, MESSAGE, "Tài khoản không thể nhận thông báo", "The account cannot receive messages"),
    -120: _e("OA_FEATURE_NOT_PERMITTED", PERMANENT, OA, "OA không có quyền dùng tính năng này", "The OA has no permission for this feature"),
    -1201: _e("OA_CANNOT_CREATE_PROMOTION_TEMPLATE", PERMANENT, TEMPLATE, "OA không được tạo mẫu hậu mãi (tag 3)", "The OA may not create tag-3 templates"),
    -1202: _e("OA_MEDIA_NOT_PERMITTED", PERMANENT, TEMPLATE, "OA không có quyền dùng tài nguyên media", "The OA may not use media resources"),
    -121: _e("BODY_EMPTY", PERMANENT, MESSAGE, "Dữ liệu yêu cầu trống", "Request body is empty"),
    -122: _e("BODY_NOT_JSON", PERMANENT, MESSAGE, "Dữ liệu yêu cầu không phải JSON hợp lệ", "Request body is not valid JSON"),
    -123: _e("RSA_DECODE_FAILED", PERMANENT, OA, "Giải mã RSA thất bại", "RSA decryption failed"),
    -124: _e("ACCESS_TOKEN_INVALID", TOKEN, OA, "Access token không hợp lệ", "Access token is invalid"),
    -1241: _e("APPSECRET_PROOF_INVALID", PERMANENT, OA, "appsecret_proof không hợp lệ", "appsecret_proof is invalid"),
    -125: _e("OA_ID_INVALID", PERMANENT, OA, "ID Official Account không hợp lệ", "Official Account id is invalid"),
    -126: _e("DEV_MODE_OUT_OF_QUOTA", RETRY, OA, "Hết hạn mức gửi ở chế độ development", "Out of quota in development mode"),
    -127: _e("DEV_MODE_ADMINS_ONLY", PERMANENT, MESSAGE, "Mẫu thử chỉ gửi được cho quản trị viên", "A test template can only be sent to administrators"),
    -128: _e("ENCRYPTION_KEY_MISSING", PERMANENT, OA, "Chưa có khóa mã hóa", "The encryption key does not exist"),
    -129: _e("RSA_KEY_GENERATION_FAILED", RETRY, OA, "Tạo khóa RSA thất bại", "RSA key generation failed"),
    -130: _e("CHARACTER_LIMIT_EXCEEDED", PERMANENT, MESSAGE, "Vượt quá giới hạn ký tự", "Character limit exceeded"),
    -131: _e("TEMPLATE_NOT_APPROVED", PERMANENT, TEMPLATE, "Mẫu ZNS chưa được duyệt", "The ZNS template is not approved"),
    -132: _e("PARAM_INVALID", PERMANENT, MESSAGE, "Tham số không hợp lệ", "A parameter is invalid"),
    -133: _e("NIGHT_TIME", RETRY, OA, "Không được gửi ZNS vào ban đêm (22:00–06:00)", "ZNS cannot be sent at night (22:00–06:00)"),
    -134: _e("RECIPIENT_NOT_OPTED_IN", PERMANENT, MESSAGE, "Người dùng chưa đồng ý nhận ZNS", "The user has not opted in to ZNS"),
    -135: _e("OA_NOT_PERMITTED_ZNS", PERMANENT, OA, "OA chưa có quyền gửi ZNS (cần xác thực và gói trả phí)", "The OA may not send ZNS (needs verification and a paid plan)"),
    -1351: _e("OA_BLOCKED", PERMANENT, OA, "Hệ thống đã chặn OA gửi ZNS", "The system has blocked this OA from sending ZNS"),
    -136: _e("ZCA_NOT_CONNECTED", PERMANENT, OA, "Cần kết nối Zalo Cloud Account", "A Zalo Cloud Account must be connected"),
    -137: _e("ZCA_CHARGE_FAILED", RETRY, OA, "Thanh toán ZCA thất bại hoặc số dư không đủ", "Zalo Cloud Account charge failed or balance is insufficient"),
    -138: _e("APP_FEATURE_NOT_PERMITTED", PERMANENT, OA, "Ứng dụng không có quyền dùng tính năng này", "The app has no permission for this feature"),
    -1381: _e("ZCA_EXTENSION_NOT_GRANTED", PERMANENT, OA, "OA chưa cấp quyền Extension ZCA", "The OA has not granted the ZCA Extension permission"),
    -139: _e("RECIPIENT_REFUSED_CONTENT_TYPE", PERMANENT, MESSAGE, "Người dùng từ chối nhận loại nội dung ZNS này", "The user refused this kind of ZNS content"),
    -140: _e("RECIPIENT_INELIGIBLE", PERMANENT, MESSAGE, "Người dùng không thuộc đối tượng nhận loại ZNS này", "The user is not eligible for this ZNS type"),
    -141: _e("RECIPIENT_REFUSED_OA", PERMANENT, MESSAGE, "Người dùng từ chối nhận ZNS từ OA này", "The user refused ZNS from this OA"),
    -142: _e("RSA_KEY_MISSING", PERMANENT, OA, "Khóa RSA chưa tồn tại, hãy tạo khóa", "The RSA key does not exist; generate one"),
    -143: _e("RSA_KEY_EXISTS", PERMANENT, OA, "Khóa RSA đã tồn tại, hãy lấy khóa hiện có", "The RSA key already exists; fetch it"),
    -144: _e("OA_DAILY_LIMIT_REACHED", RETRY, OA, "OA đã vượt hạn mức gửi trong ngày", "The OA reached its daily sending limit"),
    -1441: _e("OA_MONTHLY_PROMOTION_LIMIT_REACHED", RETRY, OA, "OA đã vượt hạn mức hậu mãi trong tháng", "The OA reached its monthly promotion quota"),
    -145: _e("OA_CONTENT_TYPE_NOT_ALLOWED", PERMANENT, TEMPLATE, "OA không được gửi loại nội dung này", "The OA may not send this content type"),
    -146: _e("TEMPLATE_DISABLED_LOW_QUALITY", PERMANENT, TEMPLATE, "Mẫu bị vô hiệu hóa do chất lượng thấp", "The template is disabled for low quality"),
    -147: _e("TEMPLATE_DAILY_LIMIT_REACHED", RETRY, TEMPLATE, "Mẫu đã vượt hạn mức gửi trong ngày", "The template reached its daily limit"),
    -1471: _e("RECIPIENT_MONTHLY_FOLLOW_UP_LIMIT", PERMANENT, MESSAGE, "Người dùng đã nhận đủ tin hậu mãi trong tháng", "The user reached the monthly follow-up limit"),
    -1472: _e("RECIPIENT_DAILY_PROMOTION_LIMIT", RETRY, MESSAGE, "Người dùng đã nhận đủ tin hậu mãi trong ngày", "The user reached the daily promotion limit"),
    -148: _e("JOURNEY_TOKEN_NOT_FOUND", PERMANENT, MESSAGE, "Không tìm thấy journey token", "Journey token not found"),
    -149: _e("JOURNEY_TOKEN_INVALID", PERMANENT, MESSAGE, "Journey token không hợp lệ", "Journey token is invalid"),
    -1491: _e("JOURNEY_TOKEN_TYPE_MISMATCH", PERMANENT, MESSAGE, "Loại journey token không phù hợp", "Journey token type is incompatible"),
    -150: _e("JOURNEY_TOKEN_EXPIRED", PERMANENT, MESSAGE, "Journey token đã hết hạn", "Journey token has expired"),
    -151: _e("TEMPLATE_NOT_E2EE", PERMANENT, TEMPLATE, "Mẫu không phải mẫu mã hóa đầu cuối", "The template is not an end-to-end encrypted template"),
    -152: _e("E2EE_KEY_FAILED", RETRY, MESSAGE, "Không lấy được khóa mã hóa đầu cuối", "Could not get the end-to-end encryption key"),
    -153: _e("DATA_VIOLATES_SPECIFICATION", PERMANENT, MESSAGE, "Dữ liệu vi phạm quy định", "The data violates the specification"),
    -158: _e("UPLOAD_TOO_LARGE", PERMANENT, MESSAGE, "Tệp tải lên quá lớn", "The upload is too large"),
    -159: _e("UPLOAD_FORMAT_NOT_ALLOWED", PERMANENT, MESSAGE, "Định dạng tệp không được phép", "The upload format is not allowed"),
    -160: _e("DAILY_TEMPLATE_OPERATIONS_LIMIT", RETRY, OA, "Đã vượt hạn mức tạo/sửa mẫu hoặc tải ảnh trong ngày", "Daily limit for template create/edit/upload reached"),
    -161: _e("SENDING_MODE_NOT_ALLOWED", PERMANENT, TEMPLATE, "Giá trị sending_mode không được phép", "This sending_mode is not allowed"),
    -162: _e("OVER_LIMIT_MODE_NOT_ALLOWED_FOR_TAG", PERMANENT, TEMPLATE, "Không được gửi vượt hạn mức (sending_mode 3) với mẫu tag 1/tag 2", "Over-limit sending (sending_mode 3) is not allowed for tag 1/2 templates"),
    # OA API host (openapi.zalo.me): UID channel and tokens
    -32: _e("RATE_LIMITED", RETRY, OA, "Ứng dụng/OA đã chạm giới hạn gọi API", "The app or OA hit the API rate limit"),
    -201: _e("PARAM_INVALID", PERMANENT, MESSAGE, "Tham số không hợp lệ", "A parameter is invalid"),
    -209: _e("APP_NOT_ACTIVATED", PERMANENT, OA, "Ứng dụng chưa được kích hoạt", "Application is not activated"),
    -211: _e("PROVIDER_UNAVAILABLE", RETRY, OA, "Dịch vụ Zalo tạm thời không khả dụng", "The Zalo service is temporarily unavailable"),
    -212: _e("API_NOT_REGISTERED", PERMANENT, OA, "Ứng dụng chưa đăng ký API này", "The app has not registered this API"),
    -213: _e("RECIPIENT_NOT_FOLLOWER", PERMANENT, MESSAGE, "Người dùng chưa quan tâm OA", "The user does not follow the OA"),
    -216: _e("ACCESS_TOKEN_INVALID", TOKEN, OA, "Access token không hợp lệ", "Access token is invalid"),
    -219: _e("APP_REMOVED", PERMANENT, OA, "Ứng dụng đã bị gỡ hoặc vô hiệu hóa", "The app was removed or disabled"),
    -220: _e("ACCESS_TOKEN_EXPIRED", TOKEN, OA, "Access token đã hết hạn hoặc bị thu hồi", "Access token expired or was revoked"),
    -221: _e("OA_NOT_VERIFIED", PERMANENT, OA, "OA cần được xác thực", "The OA must be verified"),
    -223: _e("OA_API_NOT_AUTHORISED", PERMANENT, OA, "OA chưa cấp quyền API này", "The OA has not authorised this API"),
    -224: _e("OA_TIER_TOO_LOW", PERMANENT, OA, "OA cần nâng cấp gói", "The OA must upgrade its tier"),
    -227: _e("RECIPIENT_INACTIVE", PERMANENT, MESSAGE, "Người dùng bị khóa hoặc không hoạt động quá 45 ngày", "The user is banned or inactive for more than 45 days"),
    -230: _e("RECIPIENT_NO_RECENT_INTERACTION", PERMANENT, MESSAGE, "Người dùng không tương tác với OA trong 7 ngày", "The user has not interacted with the OA in 7 days"),
    -234: _e("NIGHT_TIME", RETRY, OA, "Loại tin này không được gửi vào ban đêm", "This message type cannot be sent at night"),
    -240: _e("API_SHUT_DOWN", PERMANENT, OA, "API này đã ngừng hoạt động", "This API has been shut down"),
    -242: _e("APPSECRET_PROOF_INVALID", PERMANENT, OA, "appsecret_proof không hợp lệ", "appsecret_proof is invalid"),
    -244: _e("RECIPIENT_RESTRICTED_TYPE", PERMANENT, MESSAGE, "Người dùng đã hạn chế loại tin này", "The user restricted this message type"),
    -248: _e("POLICY_VIOLATION", PERMANENT, MESSAGE, "Vi phạm tiêu chuẩn nền tảng", "Violates platform standards"),
    -249: _e("TEMPLATE_NOT_SUPPORTED_FOR_UID", PERMANENT, TEMPLATE, "Mẫu không hỗ trợ gửi qua UID", "The template does not support sending by UID"),
    -320: _e("ZCA_NOT_CONNECTED", PERMANENT, OA, "Ứng dụng cần kết nối Zalo Cloud Account", "The app must connect a Zalo Cloud Account"),
    -321: _e("ZCA_OUT_OF_MONEY", RETRY, OA, "Zalo Cloud Account hết tiền", "The Zalo Cloud Account is out of money"),
}

# Transport-level outcomes that are not a provider code.
NETWORK_ERROR = _e("PROVIDER_UNREACHABLE", RETRY, OA, "Không kết nối được tới nhà cung cấp", "The provider could not be reached")
SERVER_ERROR = _e("PROVIDER_SERVER_ERROR", RETRY, OA, "Máy chủ nhà cung cấp gặp lỗi", "The provider's server failed")
RATE_LIMITED_HTTP = _e("RATE_LIMITED", RETRY, OA, "Nhà cung cấp giới hạn tốc độ gửi", "The provider is rate limiting us")
BAD_RESPONSE = _e("PROVIDER_BAD_RESPONSE", RETRY, OA, "Phản hồi của nhà cung cấp không đọc được", "The provider's response could not be read")
AMBIGUOUS_SEND = _e("SEND_OUTCOME_UNKNOWN", RETRY, OA, "Không rõ tin đã được gửi hay chưa (hết thời gian chờ)", "Unknown whether the message was sent (timed out)")
UNAUTHORISED = _e("PROVIDER_CREDENTIALS_INVALID", PERMANENT, OA, "Thông tin xác thực với nhà cung cấp không hợp lệ", "The provider rejected our credentials")
REQUEST_INVALID = _e("PROVIDER_REQUEST_INVALID", PERMANENT, MESSAGE, "Nhà cung cấp từ chối yêu cầu không hợp lệ", "The provider rejected the request as invalid")
NEEDS_REAUTHORISATION = _e("OA_NEEDS_REAUTHORISATION", PERMANENT, OA, "OA cần được cấp quyền lại", "The OA needs to be authorised again")
SENDING_STOPPED = _e("OA_SENDING_STOPPED", PERMANENT, OA, "OA đang bị dừng gửi (kill switch)", "Sending is stopped for this OA (kill switch)")
ENCRYPTION_FAILED = _e("TEMPLATE_DATA_ENCRYPTION_FAILED", PERMANENT, MESSAGE, "Không mã hóa được dữ liệu mẫu", "Template data could not be encrypted")
# Transport failures that no retry can fix: the request could not even be built or the provider's
# certificate is not trusted. Scope "oa": every call of the OA fails the same way until a person fixes it.
URL_INVALID = _e("PROVIDER_URL_INVALID", PERMANENT, OA, "Địa chỉ URL của nhà cung cấp không hợp lệ hoặc dùng giao thức không được hỗ trợ", "The provider URL is invalid or uses an unsupported scheme")
REQUEST_UNSENDABLE = _e("PROVIDER_REQUEST_UNSENDABLE", PERMANENT, OA, "Không tạo được yêu cầu tới nhà cung cấp (tiêu đề hoặc nội dung không hợp lệ, hãy kiểm tra thông tin xác thực)", "The request to the provider could not be built (invalid header or body; check the credentials)")
TLS_CERTIFICATE_INVALID = _e("PROVIDER_TLS_CERTIFICATE_INVALID", PERMANENT, OA, "Chứng chỉ TLS của nhà cung cấp không được tin cậy", "The provider's TLS certificate could not be verified")
TLS_ERROR = _e("PROVIDER_TLS_ERROR", RETRY, OA, "Bắt tay TLS với nhà cung cấp thất bại", "The TLS handshake with the provider failed")
# Every outcome the HTTP layer produces itself (no provider code behind it).
TRANSPORT_ERRORS = frozenset({NETWORK_ERROR, SERVER_ERROR, RATE_LIMITED_HTTP, BAD_RESPONSE, AMBIGUOUS_SEND, URL_INVALID, REQUEST_UNSENDABLE, TLS_CERTIFICATE_INVALID, TLS_ERROR})

# Infobip: status group -> default mapping; specific status ids refine it (§2.10).
INFOBIP_GROUPS: dict[int, ErrorInfo | None] = {
    0: None, 1: None, 3: None,  # OK / PENDING / DELIVERED: accepted
    2: _e("UNDELIVERABLE", PERMANENT, MESSAGE, "Không thể gửi tới người nhận", "The message is undeliverable"),
    4: _e("EXPIRED", PERMANENT, MESSAGE, "Tin đã hết hạn trước khi được gửi", "The message expired before delivery"),
    5: _e("REJECTED", PERMANENT, MESSAGE, "Tin bị từ chối", "The message was rejected"),
}
INFOBIP_STATUSES: dict[int, ErrorInfo] = {
    6: _e("REJECTED_NETWORK", PERMANENT, MESSAGE, "Mạng của người nhận từ chối", "Rejected by the recipient's network"),
    8: _e("PHONE_INVALID", PERMANENT, MESSAGE, "Số điện thoại thiếu mã quốc gia", "The phone number lacks a country prefix"),
    10: _e("RECIPIENT_REFUSED_OA", PERMANENT, MESSAGE, "Người nhận đã từ chối nhận tin", "The recipient refused messages"),
    11: _e("SENDER_REJECTED", PERMANENT, OA, "Nguồn gửi bị từ chối", "The source was rejected"),
    12: _e("OUT_OF_BALANCE", RETRY, OA, "Tài khoản Infobip không đủ tiền", "Not enough Infobip credit"),
    13: _e("SENDER_NOT_REGISTERED", PERMANENT, OA, "Sender chưa được đăng ký cho tài khoản", "The sender is not registered for this account"),
    14: _e("RECIPIENT_BLOCKLISTED", PERMANENT, MESSAGE, "Người nhận nằm trong danh sách chặn", "The recipient is blocklisted"),
    18: _e("RECIPIENT_NOT_ON_ZALO", PERMANENT, MESSAGE, "Người nhận không dùng Zalo", "The recipient is not registered on Zalo"),
    19: _e("ROUTE_NOT_AVAILABLE", RETRY, OA, "Không có tuyến gửi khả dụng", "No route is available"),
    20: _e("RATE_LIMITED", RETRY, OA, "Vượt giới hạn gửi (flooding filter)", "Sending limit reached (flooding filter)"),
    21: _e("PROVIDER_SERVER_ERROR", RETRY, MESSAGE, "Lỗi hệ thống Infobip", "Infobip system error"),
    51: _e("PHONE_INVALID", PERMANENT, MESSAGE, "Thiếu người nhận", "The destination is missing"),
    52: _e("PHONE_INVALID", PERMANENT, MESSAGE, "Địa chỉ người nhận không hợp lệ", "The destination is invalid"),
    87: _e("RECIPIENT_BLOCKED_SIGNALS", PERMANENT, MESSAGE, "Người nhận đã chặn tin", "The recipient blocked messages"),
}
# fmt: on
INFOBIP_DUPLICATE_MESSAGE_ID = 23  # we set messageId ourselves: a duplicate means an earlier try got through


def zalo_error(code: int, message: str = "") -> ErrorInfo:
    """Our mapping for a non-zero Zalo `error`; an unmapped code is permanent so a person sees it."""
    info = ZALO_ERRORS.get(int(code))
    if info is not None:
        return info
    return _e(
        "PROVIDER_UNMAPPED_ERROR",
        PERMANENT,
        MESSAGE,
        f"Lỗi Zalo chưa được phân loại ({code})",
        f"Unclassified Zalo error ({code})",
    )


def infobip_status_error(status: dict) -> ErrorInfo | None:
    """None when the status means accepted (PENDING/DELIVERED/OK), else our mapping."""
    group = int(status.get("groupId", -1))
    status_id = int(status.get("id", -1))
    if group in (0, 1, 3):
        return None
    if status_id in INFOBIP_STATUSES:
        return INFOBIP_STATUSES[status_id]
    return INFOBIP_GROUPS.get(group) or _e(
        "PROVIDER_UNMAPPED_ERROR",
        PERMANENT,
        MESSAGE,
        f"Trạng thái Infobip chưa được phân loại ({status.get('name', group)})",
        f"Unclassified Infobip status ({status.get('name', group)})",
    )
