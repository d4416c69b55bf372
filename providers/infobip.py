"""Infobip Zalo API client (provider-apis.md Part 2).

Auth is `Authorization: App <api key>`. A batch is one `POST /zalo/2/messages` per chunk; each
destination carries our `tracking_id` as its `messageId`, so a repeated POST is recognised by Infobip
(REJECTED_DUPLICATE_MESSAGE_ID) and retrying a send is safe.
"""

from collections.abc import Sequence

from django.conf import settings

from providers import errors
from providers.base import (
    ACCEPTED,
    Account,
    MessageRequest,
    Provider,
    ProviderError,
    PublicKey,
    Quota,
    SendResult,
    TemplateInfo,
    result_for_error,
    template_values,
    to_int,
)
from providers.http import HttpClient, shared_client
from zalo_admin.lib import rsa

CHUNK = 100


class InfobipClient(Provider):
    name = "infobip"

    def __init__(
        self,
        account: Account,
        key: PublicKey | None = None,
        *,
        key_error: Exception | None = None,
        http: HttpClient | None = None,
    ):
        super().__init__(account, key, key_error=key_error)
        self.http = http or shared_client()
        self.base = (account.infobip_base_url or settings.INFOBIP_BASE_URL).rstrip("/")
        self.sender = account.infobip_sender or account.zalo_oa_id

    def _request(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"App {self.account.infobip_api_key}", "Accept": "application/json"}
        return self.http.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def _json(self, method: str, path: str, **kwargs) -> dict:
        response = self._request(method, path, **kwargs)
        if response.status_code >= 400:
            raise _http_error(response, path)
        try:
            body = response.json()
        except (ValueError, RecursionError):  # not JSON, a number too long, nested too deep
            raise ProviderError(f"Infobip {path}: answer is not JSON", error=errors.BAD_RESPONSE) from None
        if not isinstance(body, dict):
            raise ProviderError(f"Infobip {path}: answer is not a JSON object", error=errors.BAD_RESPONSE)
        return body

    # --- sending ---------------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[MessageRequest]) -> list[SendResult]:
        stopped = self.stopped_results(messages)
        if stopped is not None:
            return stopped
        results: list[SendResult] = []
        halted: SendResult | None = None
        for start in range(0, len(messages), CHUNK):
            chunk = list(messages[start : start + CHUNK])
            if halted is not None:
                results += [
                    result_for_error(m, halted.error, provider_code=halted.provider_code, attempted=False)
                    for m in chunk
                ]
                continue
            chunk_results = self._send_chunk(chunk)
            results += chunk_results
            halted = next((r for r in chunk_results if r.error is not None and r.error.halts_batch), None)
        return results

    def _send_chunk(self, chunk: list[MessageRequest]) -> list[SendResult]:
        prepared: list[MessageRequest] = []
        payload: list[dict] = []
        early: dict[str, SendResult] = {}
        for message in chunk:
            try:
                payload.append(self._message_body(message))
                prepared.append(message)
            except rsa.EncryptionError as exc:
                early[message.tracking_id] = result_for_error(
                    message, errors.ENCRYPTION_FAILED, provider_message=str(exc), attempted=False
                )
            except ProviderError as exc:
                early[message.tracking_id] = result_for_error(
                    message, exc.error or errors.SERVER_ERROR, provider_message=str(exc), attempted=False
                )
        by_id: dict[str, SendResult] = {}
        if payload:
            by_id = self._post_messages(prepared, payload)
        return [early.get(m.tracking_id) or by_id[m.tracking_id] for m in chunk]

    def _post_messages(self, prepared: list[MessageRequest], payload: list[dict]) -> dict[str, SendResult]:
        try:
            response = self._request(
                "POST", "/zalo/2/messages", json={"messages": payload}, safe_to_repeat=True
            )
        except ProviderError as exc:
            return {
                m.tracking_id: result_for_error(
                    m,
                    exc.error or errors.SERVER_ERROR,
                    provider_code=exc.provider_code,
                    provider_message=str(exc),
                    retry_after=exc.retry_after,
                )
                for m in prepared
            }
        if response.status_code >= 400:
            exc = _http_error(response, "/zalo/2/messages")
            return {
                m.tracking_id: result_for_error(
                    m, exc.error, provider_code=exc.provider_code, provider_message=exc.provider_message
                )
                for m in prepared
            }
        try:
            body = response.json()
            answered = {str(item.get("messageId")): item for item in body.get("messages") or []}
        except (ValueError, AttributeError, RecursionError):
            answered = {}
        results = {}
        for message in prepared:
            item = answered.get(message.tracking_id)
            if item is None:
                results[message.tracking_id] = result_for_error(
                    message, errors.BAD_RESPONSE, provider_message="message missing from Infobip's answer"
                )
            else:
                results[message.tracking_id] = _result(message, item)
        return results

    def _message_body(self, message: MessageRequest) -> dict:
        template_data = template_values(message.template_data)
        options: dict = dict(message.options or {})
        if message.encrypted:
            template_data = rsa.encrypt_template_data(self.encryption_key(), template_data)
            options["encrypted"] = True
        if message.sending_mode:
            options["sendingMode"] = message.sending_mode
        if message.sms_failover:
            options["smsFailover"] = dict(message.sms_failover)
        body = {
            "sender": self.sender,
            "destinations": [{"to": message.user_id or message.phone, "messageId": message.tracking_id}],
            "content": {
                "templateName": to_int(message.template_id),
                "templateData": template_data,
                "type": "TEMPLATE",
            },
        }
        if options:
            body["options"] = options
        webhooks = {}
        if self.account.report_url:
            # Infobip's notify URL for this message's delivery report (Zalo API: webhooks.delivery.url).
            webhooks["delivery"] = {"url": self.account.report_url}
        if message.callback_data:
            webhooks["callbackData"] = message.callback_data
        if webhooks:
            body["webhooks"] = webhooks
        return body

    # --- keys, templates, quota ------------------------------------------------------------------

    def get_public_key(self) -> str:
        return str(self._json("GET", f"/zalo/1/sender/{self.sender}/public-key")["publicKey"])

    def create_public_key(self) -> str:
        return str(
            self._json("POST", f"/zalo/1/sender/{self.sender}/public-key", safe_to_repeat=False)["publicKey"]
        )

    def list_templates(self, status: str = "ALL") -> list[TemplateInfo]:
        found, page = [], 0
        while True:
            body = self._json(
                "GET",
                f"/zalo/1/sender/{self.sender}/templates",
                params={"page": page, "size": 100, "status": status},
            )
            for item in body.get("results") or []:
                found.append(
                    TemplateInfo(
                        template_id=str(item.get("templateName")),
                        name=str(item.get("displayName") or ""),
                        status=str(item.get("status") or ""),
                        raw=item,
                    )
                )
            paging = body.get("paging") or {}
            page += 1
            if not body.get("results") or page >= (to_int(paging.get("totalPages")) or 0):
                return found

    def get_template(self, template_id: str) -> TemplateInfo:
        data = self._json("GET", f"/zalo/1/sender/{self.sender}/templates/{template_id}")
        return TemplateInfo(
            template_id=str(data.get("templateName") or template_id),
            name=str(data.get("displayName") or ""),
            status=str(data.get("status") or ""),
            tag=str(data.get("templateTag") or ""),
            params=list(data.get("templateProperties") or []),
            buttons=list(data.get("templateButtons") or []),
            preview_url=str(data.get("previewUrl") or ""),
            reason=str(data.get("reason") or ""),
            raw=data,
        )

    def get_logs(self, message_ids: Sequence[str], limit: int = 1000) -> list[dict]:
        """`GET /zalo/1/logs` for these message ids (provider-apis.md §2.5: 10 requests a minute, 48 h
        of history; the caller keeps to the rate)."""
        body = self._json("GET", "/zalo/1/logs", params={"messageId": ",".join(message_ids), "limit": limit})
        return [r for r in body.get("results") or [] if isinstance(r, dict)]

    def get_quota(self) -> Quota:
        data = self._json("GET", f"/zalo/1/sender/{self.sender}/quota")
        return Quota.from_fields(data, "remainingDailyQuota")

    def get_quality(self) -> None:
        return None  # Infobip's Zalo API has no quality endpoint (§2.7)


def _result(message: MessageRequest, item: dict) -> SendResult:
    status = item.get("status") or {}
    provider_id = str(item.get("messageId") or message.tracking_id)
    if to_int(status.get("id")) == errors.INFOBIP_DUPLICATE_MESSAGE_ID:
        # We chose the messageId: a duplicate means an earlier attempt of this very message got through.
        return SendResult(tracking_id=message.tracking_id, status=ACCEPTED, provider_message_id=provider_id)
    error = errors.infobip_status_error(status)
    if error is None:
        return SendResult(tracking_id=message.tracking_id, status=ACCEPTED, provider_message_id=provider_id)
    return result_for_error(
        message,
        error,
        provider_code=str(status.get("name") or status.get("id") or ""),
        provider_message=str(status.get("description") or ""),
    )


def _http_error(response, path: str) -> ProviderError:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = {}
    body = body if isinstance(body, dict) else {}
    # Infobip's ApiError; older endpoints nest it under requestError.serviceException.
    service = (body.get("requestError") or {}).get("serviceException") or {}
    code = str(body.get("errorCode") or service.get("messageId") or response.status_code)
    text = str(body.get("description") or service.get("text") or "")
    violations = body.get("violations") or []
    if violations:
        text += " " + "; ".join(
            f"{v.get('property')}: {v.get('violation')}" for v in violations if isinstance(v, dict)
        )
    error = errors.UNAUTHORISED if response.status_code in (401, 403) else errors.REQUEST_INVALID
    return ProviderError(
        f"Infobip {path}: HTTP {response.status_code} {code}",
        permanent=True,
        error=error,
        provider_code=code,
        provider_message=text.strip()[:500],
    )
