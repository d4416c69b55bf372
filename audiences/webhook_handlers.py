"""Opt-outs from provider webhooks (provider-apis.md §1.14 `user_feedback`, §2.9 Infobip inbound
messages), registered with providers.handlers.

A message whose text (or a feedback's note or chosen option) is a stop word — "TỪ CHỐI", "HỦY",
"STOP", … compared without accents and case — withdraws the sender's marketing consent and puts the
phone on the do-not-contact list (`audiences.services.record_opt_out`, idempotent: the job may run
twice). Anything else, and an event whose sender is not a Vietnamese mobile number (Zalo's
`user_feedback` carries no user id; Infobip's `sender` is often a Zalo user id), changes nothing: a
rating is not an opt-out.

A feedback that reports the message as bad (`rating_type` "report", `option` "bad_report", or
"spam" among its `feedbacks`: what the sandbox sends, Zalo publishes no bad-report event) moves the
sender's `Contact.last_bad_report_at` forward to the event's time (segments' "last bad report"),
whatever else it says. It needs the sender's phone; Zalo's `user_feedback` usually carries none
(matching by `msg_id` waits for the dispatcher's message table, issue 13).
"""

import re
import unicodedata

from django.utils import timezone

from audiences.models import ConsentEvent, Suppression
from audiences.services import record_contact_bad_report, record_opt_out
from providers.handlers import INFOBIP_INBOUND_MESSAGE, register
from providers.models import WebhookEvent
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile

ACTOR = "system:webhooks"
STOP_WORDS = frozenset(
    {"tu choi", "huy", "huy dang ky", "stop", "dung", "dung lai", "ngung", "ngung nhan", "unsubscribe"}
)


def _plain(text) -> str:
    text = unicodedata.normalize("NFD", str(text or "").replace("đ", "d").replace("Đ", "D"))
    text = "".join(char for char in text if not unicodedata.combining(char)).lower()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def is_stop_word(text) -> bool:
    return _plain(text) in STOP_WORDS


def _phone(*candidates) -> str | None:
    for value in candidates:
        if isinstance(value, (str, int)) and str(value).strip():
            try:
                return parse_vietnamese_mobile(str(value))
            except PhoneRejected:
                continue
    return None


def _texts(message: dict) -> list:
    feedbacks = message.get("feedbacks")
    return [message.get("text"), message.get("note"), *(feedbacks if isinstance(feedbacks, list) else [])]


def is_bad_report(message: dict) -> bool:
    feedbacks = message.get("feedbacks")
    return (
        str(message.get("rating_type") or "").lower() == "report"
        or str(message.get("option") or "").lower() == "bad_report"
        or (isinstance(feedbacks, list) and any(_plain(text) == "spam" for text in feedbacks))
    )


def _event_time(event: WebhookEvent):
    return event.event_timestamp or event.received_at or timezone.now()


def _opt_out(phone, *, channel, source, provider, event: WebhookEvent) -> None:
    record_opt_out(
        actor=ACTOR,
        phone=phone,
        channel=channel,
        source=source,
        reason=f"stop word from {provider} (webhook event #{event.pk})",
    )


@register("user_feedback")
def zalo_user_feedback(event: WebhookEvent, payload: dict) -> None:
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    recipient = payload.get("recipient") if isinstance(payload.get("recipient"), dict) else {}
    phone = _phone(message.get("phone"), payload.get("phone"), recipient.get("id"))
    if phone and is_bad_report(message):
        record_contact_bad_report(phone, _event_time(event))
    if phone and any(is_stop_word(text) for text in _texts(message)):
        _opt_out(
            phone,
            channel=ConsentEvent.Channel.USER_FEEDBACK,
            source=Suppression.Source.PROVIDER_FEEDBACK,
            provider="Zalo",
            event=event,
        )


@register(INFOBIP_INBOUND_MESSAGE)
def infobip_inbound_message(event: WebhookEvent, payload: dict) -> None:
    results = payload.get("results") if isinstance(payload.get("results"), list) else []
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("message"), dict):
            continue
        message = result["message"]
        phone = _phone(result.get("sender"), message.get("phone"))
        feedback = str(message.get("type") or "").upper() == "USER_FEEDBACK"
        if phone and feedback and is_bad_report(message):
            record_contact_bad_report(phone, _event_time(event))
        if not phone or not any(is_stop_word(text) for text in _texts(message)):
            continue
        _opt_out(
            phone,
            channel=ConsentEvent.Channel.USER_FEEDBACK if feedback else ConsentEvent.Channel.OPT_OUT_REPLY,
            source=Suppression.Source.PROVIDER_FEEDBACK if feedback else Suppression.Source.OPT_OUT_REPLY,
            provider="Infobip",
            event=event,
        )
