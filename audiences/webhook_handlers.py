"""Opt-outs from provider webhooks (provider-apis.md §1.14 `user_feedback`, §2.9 Infobip inbound
messages), registered with providers.handlers.

A message whose text (or a feedback's note or chosen option) is a stop word — "TỪ CHỐI", "HỦY",
"STOP", … compared without accents and case — withdraws the sender's marketing consent and puts the
phone on the do-not-contact list (`audiences.services.record_opt_out`, idempotent: the job may run
twice). Anything else, and an event whose sender is not a Vietnamese mobile number (Zalo's
`user_feedback` carries no user id; Infobip's `sender` is often a Zalo user id), changes nothing: a
rating is not an opt-out.
"""

import re
import unicodedata

from audiences.models import ConsentEvent, Suppression
from audiences.services import record_opt_out
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
        if not phone or not any(is_stop_word(text) for text in _texts(message)):
            continue
        feedback = str(message.get("type") or "").upper() == "USER_FEEDBACK"
        _opt_out(
            phone,
            channel=ConsentEvent.Channel.USER_FEEDBACK if feedback else ConsentEvent.Channel.OPT_OUT_REPLY,
            source=Suppression.Source.PROVIDER_FEEDBACK if feedback else Suppression.Source.OPT_OUT_REPLY,
            provider="Infobip",
            event=event,
        )
