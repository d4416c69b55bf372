"""Infobip SMS API v3 client (`sandbox/spec/infobip/sms-v3-openapi.json`): the failover SMS our
dispatcher sends for Zalo-direct OAs (campaigns.failover), and its delivery logs.

Over a plain base URL, API key and sender (settings SMS_FAILOVER_*); it never touches the database.
Each SMS carries our own `messageId`, so Infobip recognises a repeat (REJECTED_DUPLICATE_MESSAGE_ID,
which then means an earlier try got through). A send is never repeated inside the HTTP layer unless
the failure proves nothing was processed; an answer that does not say is UNKNOWN for the caller.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from providers import errors
from providers.base import ProviderError, to_int
from providers.http import HttpClient, shared_client

SEND_PATH = "/sms/3/messages"
LOGS_PATH = "/sms/3/logs"
ACCEPTED, REJECTED, UNKNOWN = "accepted", "rejected", "unknown"


@dataclass(frozen=True)
class SmsRequest:
    message_id: str
    to: str  # international, no "+" (84…)
    text: str
    validity_seconds: int | None = None
    notify_url: str = ""
    callback_data: str = ""


@dataclass(frozen=True)
class SmsResult:
    message_id: str
    status: str  # ACCEPTED | REJECTED | UNKNOWN
    provider_code: str = ""
    provider_message: str = ""


class InfobipSmsClient:
    def __init__(self, base_url: str, api_key: str, sender: str, *, http: HttpClient | None = None):
        self.base = base_url.rstrip("/")
        self.api_key = api_key
        self.sender = sender
        self.http = http or shared_client()

    def _headers(self) -> dict:
        return {"Authorization": f"App {self.api_key}", "Accept": "application/json"}

    def _body(self, sms: SmsRequest) -> dict:
        message: dict = {
            "sender": self.sender,
            "destinations": [{"to": sms.to, "messageId": sms.message_id}],
            "content": {"text": sms.text},
        }
        if sms.validity_seconds:
            message["options"] = {
                "validityPeriod": {"amount": int(sms.validity_seconds), "timeUnit": "SECONDS"}
            }
        hooks: dict = {}
        if sms.notify_url:
            hooks["delivery"] = {"url": sms.notify_url}
        if sms.callback_data:
            hooks["callbackData"] = sms.callback_data
        if hooks:
            message["webhooks"] = hooks
        return message

    def send(self, messages: Sequence[SmsRequest]) -> list[SmsResult]:
        """One POST for the batch; one result per message, in order."""
        messages = list(messages)
        if not messages:
            return []
        try:
            response = self.http.request(
                "POST",
                f"{self.base}{SEND_PATH}",
                headers=self._headers(),
                json={"messages": [self._body(m) for m in messages]},
                safe_to_repeat=False,
            )
        except ProviderError as exc:
            status = UNKNOWN if exc.error is errors.AMBIGUOUS_SEND else REJECTED
            # A failure that proves nothing left (refused connection, bad URL) is a refusal we may
            # report as such; anything else may have reached Infobip.
            if exc.error not in (errors.NETWORK_ERROR, errors.URL_INVALID, errors.REQUEST_UNSENDABLE):
                status = UNKNOWN
            return [SmsResult(m.message_id, status, exc.provider_code, str(exc)[:500]) for m in messages]
        if response.status_code >= 400:
            code = str(response.status_code)
            try:
                body = response.json()
                text = str(body.get("description") or body.get("errorCode") or "")
            except (ValueError, AttributeError):
                text = ""
            return [SmsResult(m.message_id, REJECTED, code, text[:500]) for m in messages]
        try:
            answered = {str(item.get("messageId")): item for item in response.json().get("messages") or []}
        except (ValueError, AttributeError, TypeError):
            answered = {}
        return [_result(m, answered.get(m.message_id)) for m in messages]

    def logs(self, message_ids: Sequence[str], limit: int = 1000) -> list[dict]:
        """The log entries (status, error, doneAt) of these SMS (Infobip keeps 48 h)."""
        response = self.http.request(
            "GET",
            f"{self.base}{LOGS_PATH}",
            headers=self._headers(),
            params={"messageId": ",".join(message_ids), "limit": limit},
        )
        if response.status_code >= 400:
            raise ProviderError(
                f"Infobip {LOGS_PATH}: HTTP {response.status_code}",
                error=errors.SERVER_ERROR,
                provider_code=str(response.status_code),
            )
        try:
            results = response.json().get("results") or []
        except (ValueError, AttributeError):
            raise ProviderError(
                f"Infobip {LOGS_PATH}: answer is not JSON", error=errors.BAD_RESPONSE
            ) from None
        return [r for r in results if isinstance(r, dict)]


def _result(message: SmsRequest, item: dict | None) -> SmsResult:
    if not isinstance(item, dict):
        return SmsResult(message.message_id, UNKNOWN, "", "message missing from Infobip's answer")
    status = item.get("status") if isinstance(item.get("status"), dict) else {}
    name = str(status.get("name") or status.get("id") or "")
    text = str(status.get("description") or "")[:500]
    if to_int(status.get("id")) == errors.INFOBIP_DUPLICATE_MESSAGE_ID:
        return SmsResult(message.message_id, ACCEPTED, name, text)  # an earlier try got through
    if to_int(status.get("groupId")) in (0, 1, 3):
        return SmsResult(message.message_id, ACCEPTED, name, text)
    return SmsResult(message.message_id, REJECTED, name, text)
