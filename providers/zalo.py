"""Zalo ZNS/ZBS Open API client (provider-apis.md Part 1).

Zalo answers HTTP 200 with `{"error": <int>, "message": ..., "data": ...}`; a non-zero `error` is a
failure and is mapped through `providers.errors`. The client calls with the account's access token
and nothing else: an invalid-token answer (-124/-216/-220) comes back as a ProviderError (or a
halting SendResult) of kind `token`, and the caller refreshes the token and calls again
(oas.services.clients).
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from django.conf import settings

from providers import errors
from providers.base import (
    ACCEPTED,
    Account,
    MessageRequest,
    Provider,
    ProviderError,
    PublicKey,
    Quality,
    Quota,
    SendResult,
    TemplateInfo,
    result_for_error,
    template_values,
    to_int,
)
from providers.http import HttpClient, shared_client
from zalo_admin.lib import rsa

TEMPLATE_PAGE = 100
KEY_TROUBLE = {-123, -128, -142}  # RSA decode failed / encoding key missing / RSA key missing


def _ms_to_datetime(value) -> datetime | None:
    ms = to_int(value)
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


class ZaloClient(Provider):
    name = "zalo"

    def __init__(
        self,
        account: Account,
        key: PublicKey | None = None,
        *,
        key_error: Exception | None = None,
        http: HttpClient | None = None,
        api_base: str | None = None,
        oa_api_base: str | None = None,
    ):
        super().__init__(account, key, key_error=key_error)
        self.http = http or shared_client()
        self.api_base = (api_base or settings.ZALO_API_BASE).rstrip("/")
        # openapi.zalo.me (UID channel) is another host in production; the sandbox serves both.
        oa_api_base = oa_api_base or settings.ZALO_OA_API_BASE or self.api_base
        self.oa_api_base = oa_api_base.rstrip("/")

    # --- plumbing ---------------------------------------------------------------------------------

    def _envelope(self, method: str, url: str, *, safe_to_repeat: bool = True, **kwargs) -> dict:
        """One authenticated call with the account's access token.

        Raises ProviderError for transport failures and unreadable answers; returns the envelope
        (with any non-zero `error`, an invalid-token one included) otherwise.
        """
        response = self.http.request(
            method,
            url,
            headers={"access_token": self.account.access_token},
            safe_to_repeat=safe_to_repeat,
            **kwargs,
        )
        try:
            body = response.json()
        except (ValueError, RecursionError):  # not JSON, a number too long, nested too deep
            body = None
        if not isinstance(body, dict) or "error" not in body and "data" not in body:
            raise ProviderError(
                f"Zalo answered HTTP {response.status_code} without its JSON envelope",
                error=errors.BAD_RESPONSE,
                provider_code=str(response.status_code),
            )
        return body

    def _data(self, method: str, path: str, **kwargs):
        """`data` of a successful management call; ProviderError (mapped) otherwise."""
        body = self._envelope(method, f"{self.api_base}{path}", **kwargs)
        code = to_int(body.get("error")) or 0
        if code != 0:
            info = errors.zalo_error(code)
            raise ProviderError(
                f"Zalo {path} failed: {code} {body.get('message', '')}".strip(),
                permanent=info.permanent,
                error=info,
                provider_code=str(code),
                provider_message=str(body.get("message") or ""),
            )
        return body.get("data")

    # --- sending ---------------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[MessageRequest]) -> list[SendResult]:
        stopped = self.stopped_results(messages)
        if stopped is not None:
            return stopped
        results: list[SendResult] = []
        halted: SendResult | None = None
        for message in messages:
            if halted is not None:
                results.append(
                    result_for_error(
                        message,
                        halted.error,
                        provider_code=halted.provider_code,
                        provider_message=halted.provider_message,
                        attempted=False,
                        retry_after=halted.retry_after,
                    )
                )
                continue
            result = self.send_one(message)
            results.append(result)
            if result.error is not None and result.error.halts_batch:
                halted = result  # the OA is blocked: do not spend the rest of the batch on it
        return results

    def send_one(self, message: MessageRequest) -> SendResult:
        try:
            url, body = self._send_request(message)
        except rsa.EncryptionError as exc:
            return result_for_error(
                message, errors.ENCRYPTION_FAILED, provider_message=str(exc), attempted=False
            )
        except ProviderError as exc:
            return self._failure(message, exc)
        try:
            envelope = self._envelope("POST", url, json=body, safe_to_repeat=False)
        except ProviderError as exc:
            return self._failure(message, exc)
        code = to_int(envelope.get("error")) or 0
        if code != 0:
            result = result_for_error(
                message,
                errors.zalo_error(code),
                provider_code=str(code),
                provider_message=str(envelope.get("message") or ""),
            )
            # The OA's key pair changed or vanished at Zalo: the caller retires the key.
            return replace(result, key_refused=code in KEY_TROUBLE and message.encrypted)
        data = envelope.get("data") or {}
        quota = data.get("quota") if isinstance(data.get("quota"), dict) else None
        return SendResult(
            tracking_id=message.tracking_id,
            status=ACCEPTED,
            provider_message_id=str(data.get("msg_id") or data.get("message_id") or ""),
            sent_at=_ms_to_datetime(data.get("sent_time") or envelope.get("sent_time")),
            quota={"daily": to_int(quota.get("dailyQuota")), "remaining": to_int(quota.get("remainingQuota"))}
            if quota and "dailyQuota" in quota
            else None,
        )

    def _failure(self, message: MessageRequest, exc: ProviderError) -> SendResult:
        return result_for_error(
            message,
            exc.error or errors.SERVER_ERROR,
            provider_code=exc.provider_code,
            provider_message=exc.provider_message or str(exc),
            retry_after=exc.retry_after,
        )

    def _send_request(self, message: MessageRequest) -> tuple[str, dict]:
        template_data = template_values(message.template_data)
        if message.user_id:
            body = {
                "user_id": message.user_id,
                "template_id": str(message.template_id),
                "template_data": template_data,
            }
            return f"{self.oa_api_base}/v3.0/oa/message/template", body
        body = {"template_id": str(message.template_id), "tracking_id": message.tracking_id}
        if message.sending_mode:
            body["sending_mode"] = message.sending_mode
        if message.development:
            body["mode"] = "development"
        if message.encrypted:
            key = self.encryption_key()
            body["rsa_phone"] = rsa.encrypt_value(key, "phone", message.phone)
            body["template_data"] = rsa.encrypt_template_data(key, template_data)
            return f"{self.api_base}/rsa/message/template", body
        body["phone"] = message.phone
        body["template_data"] = template_data
        return f"{self.api_base}/message/template", body

    # --- keys ------------------------------------------------------------------------------------

    def get_public_key(self) -> str:
        return _key_from(self._data("GET", "/rsa/key/get"))

    def create_public_key(self) -> str:
        return _key_from(self._data("GET", "/rsa/key/gen", safe_to_repeat=False))

    # --- templates, quota, quality ---------------------------------------------------------------

    def list_templates(self, status: int | None = None) -> list[TemplateInfo]:
        found: list[TemplateInfo] = []
        offset = 0
        while True:
            params = {"offset": offset, "limit": TEMPLATE_PAGE}
            if status is not None:
                params["status"] = status
            body = self._envelope("GET", f"{self.api_base}/template/all", params=params)
            code = to_int(body.get("error")) or 0
            if code:
                info = errors.zalo_error(code)
                raise ProviderError(
                    f"Zalo /template/all failed: {code}",
                    permanent=info.permanent,
                    error=info,
                    provider_code=str(code),
                )
            page = body.get("data") or []
            for item in page:
                found.append(
                    TemplateInfo(
                        template_id=str(item.get("templateId")),
                        name=str(item.get("templateName") or ""),
                        status=str(item.get("status") or ""),
                        quality=str(item.get("templateQuality") or ""),
                        raw=item,
                    )
                )
            total = to_int((body.get("metadata") or {}).get("total")) or 0
            offset += TEMPLATE_PAGE
            if not page or offset >= total:
                return found

    def get_template(self, template_id: str) -> TemplateInfo:
        data = self._data("GET", "/template/info/v2", params={"template_id": template_id}) or {}
        return TemplateInfo(
            template_id=str(data.get("templateId") or template_id),
            name=str(data.get("templateName") or ""),
            status=str(data.get("status") or ""),
            quality=str(data.get("templateQuality") or ""),
            tag=str(data.get("templateTag") or ""),
            params=list(data.get("listParams") or []),
            buttons=list(data.get("listButtons") or []),
            preview_url=str(data.get("previewUrl") or ""),
            reason=str(data.get("reason") or ""),
            raw=data,
        )

    def get_sample_data(self, template_id: str) -> dict:
        data = self._data("GET", "/template/sample-data", params={"template_id": template_id}) or {}
        return {str(name): str(value) for name, value in data.items()} if isinstance(data, dict) else {}

    def get_message_status(self, message_id: str) -> dict:
        """`GET /message/status` (provider-apis.md §1.9): {"status": -1 unknown / 0 not yet delivered /
        1 delivered, "delivery_time": datetime or None, "message": Zalo's text}."""
        data = self._data("GET", "/message/status", params={"message_id": message_id}) or {}
        return {
            "status": to_int(data.get("status")),
            "delivery_time": _ms_to_datetime(data.get("delivery_time")),
            "message": str(data.get("message") or ""),
        }

    def get_quota(self) -> Quota:
        data = self._data("GET", "/message/quota") or {}
        return Quota.from_fields(data, "remainingQuota")

    def get_quality(self) -> Quality:
        data = self._data("GET", "/quality") or {}
        if not isinstance(data, dict):
            raise ProviderError("Zalo /quality: data is not a JSON object", error=errors.BAD_RESPONSE)
        return Quality(
            current=str(data.get("oaCurrentQuality") or "UNDEFINED"),
            last_7_days=str(data.get("oa7dayQuality") or "UNDEFINED"),
        )


def _key_from(data) -> str:
    # The response field is UNKNOWN in Zalo's docs (§1.6): accept the likely spellings.
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for name in ("public_key", "publicKey", "key", "rsa_public_key"):
            if data.get(name):
                return str(data[name])
    raise ProviderError("Zalo returned no RSA public key", error=errors.BAD_RESPONSE)
