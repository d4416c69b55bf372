"""Zalo ZNS/ZBS error codes and messages (provider-apis.md §1.15) and the Infobip statuses (§2.10)."""

ZALO_MESSAGES = {
    0: "Success",
    -100: "Unknown error",
    -101: "Application is invalid",
    -102: "Application does not exist",
    -104: "App secret key is invalid",
    -105: "Application is not linked to any OA",
    -107: "Message ID is invalid",
    -108: "Phone number invalid",
    -109: "Template ID is invalid",
    -111: "Template data is empty",
    -112: "Template data type is not defined",
    -1121: "Parameter data exceeds max length",
    -1122: "Missing template parameter",
    -1124: "Parameter has invalid format",
    -115: "Out of quota: insufficient balance",
    -117: "OA or app has no permission to access this template",
    -118: "Zalo account not existed",
    -121: "Body data is empty",
    -122: "Body is not valid JSON",
    -123: "Failed to decode RSA message",
    -124: "Access token invalid",
    -125: "Official Account ID is invalid",
    -126: "Out of quota (development mode)",
    -127: "Test template can only be sent to administrators",
    -128: "Encoding key does not exist",
    -131: "ZNS template is not approved",
    -132: "Parameter invalid",
    -133: "Cannot send ZNS at night (22:00-06:00)",
    -139: "User refused this ZNS content type",
    -141: "User refused to receive ZNS from this OA",
    -142: "RSA key does not exist, call the generate API",
    -143: "RSA key already exists, call the get API",
    -144: "OA exceeded daily sending limit",
    -1441: "OA exceeded monthly promotion quota",
    -145: "OA is not allowed to send this content type",
    -146: "Template is disabled due to low quality",
    -1471: "Monthly follow-up limit for this user exceeded",
    -1472: "Daily promotion limit for this user exceeded",
    -161: "sending_mode value is not allowed",
    -162: "sending_mode 3 is not allowed for tag 1 or tag 2 templates",
    # OA host (openapi.zalo.me, UID channel)
    -201: "Parameter is invalid",
    -216: "Access token is invalid",
    -220: "access_token is expired or removed",
}


class ZaloError(Exception):
    def __init__(self, code: int, message: str | None = None):
        self.code = code
        self.text = message or ZALO_MESSAGES.get(code, "Error")
        super().__init__(f"{code} {self.text}")


def status(group_id, group_name, status_id, name, description, action=None):
    out = {
        "groupId": group_id,
        "groupName": group_name,
        "id": status_id,
        "name": name,
        "description": description,
    }
    if action:
        out["action"] = action
    return out


PENDING_ENROUTE = status(1, "PENDING", 7, "PENDING_ENROUTE", "Message sent to next instance")
PENDING_ACCEPTED = status(1, "PENDING", 26, "PENDING_ACCEPTED", "Message accepted, scheduled for sending")
DELIVERED = status(3, "DELIVERED", 5, "DELIVERED_TO_HANDSET", "Message delivered to handset")
EXPIRED = status(4, "EXPIRED", 15, "EXPIRED_EXPIRED", "Message expired")
REJECTED_SENDER = status(5, "REJECTED", 13, "REJECTED_SENDER", "Sender is not registered for this account")
REJECTED_DUPLICATE = status(
    5, "REJECTED", 23, "REJECTED_DUPLICATE_MESSAGE_ID", "Message with this messageId was already sent"
)
REJECTED_DESTINATION = status(5, "REJECTED", 52, "REJECTED_DESTINATION", "Invalid destination address")
REJECTED_PREFIX_MISSING = status(
    5,
    "REJECTED",
    8,
    "REJECTED_PREFIX_MISSING",
    "Number prefix missing",
    "Send the number in international format: country code first (84 for Viet Nam), no leading 0",
)

NO_ERROR = {
    "groupId": 0,
    "groupName": "OK",
    "id": 0,
    "name": "NO_ERROR",
    "description": "No Error",
    "permanent": False,
}

# Zalo code -> (status, permanent). The Infobip error object for a Zalo failure is a sandbox choice
# (Infobip's mapping is UNKNOWN, provider-apis.md §2.10): id = 10000 + |code|, name ZALO_<|code|>.
_REJECTED = {
    "destination": (status(5, "REJECTED", 52, "REJECTED_DESTINATION", "Invalid destination address"), True),
    "not_registered": (
        status(5, "REJECTED", 18, "REJECTED_DESTINATION_NOT_REGISTERED", "Destination not on Zalo"),
        True,
    ),
    "dnd": (status(5, "REJECTED", 10, "REJECTED_DND", "Recipient refused messages"), True),
    "flooding": (status(5, "REJECTED", 20, "REJECTED_FLOODING_FILTER", "Sending limit reached"), False),
    "sender": (REJECTED_SENDER, True),
    "credits": (status(5, "REJECTED", 12, "REJECTED_NOT_ENOUGH_CREDITS", "Not enough credits"), False),
    "rejected": (status(5, "REJECTED", 99, "REJECTED", "Rejected by Zalo"), True),
    "system": (status(5, "REJECTED", 21, "REJECTED_SYSTEM_ERROR", "System error"), False),
}
_BY_CODE = {
    -108: "destination",
    -118: "not_registered",
    -119: "not_registered",
    -114: "not_registered",
    -139: "dnd",
    -140: "dnd",
    -141: "dnd",
    -144: "flooding",
    -1441: "flooding",
    -147: "flooding",
    -1471: "flooding",
    -1472: "flooding",
    -133: "flooding",
    -145: "sender",
    -115: "credits",
    -100: "system",
}


def infobip_failure(code: int) -> tuple[dict, dict]:
    """(status, error) objects of an Infobip delivery report for a Zalo error code."""
    state, permanent = _REJECTED[_BY_CODE.get(code, "rejected")]
    recipient_side = code in (-108, -114, -118, -119, -139, -140, -141)
    error = {
        "groupId": 2 if recipient_side else 3,
        "groupName": "USER_ERRORS" if recipient_side else "OPERATOR_ERRORS",
        "id": 10000 + abs(code),
        "name": f"ZALO_{abs(code)}",
        "description": f"{ZALO_MESSAGES.get(code, 'Error')} (Zalo error {code})",
        "permanent": permanent,
    }
    return state, error


EXPIRED_ERROR = {
    "groupId": 1,
    "groupName": "HANDSET_ERRORS",
    "id": 27,
    "name": "EC_ABSENT_SUBSCRIBER",
    "description": "Recipient could not be reached within the validity period",
    "permanent": False,
}
