"""Delivery reports and user feedback from provider webhooks onto campaign messages
(campaigns.reports), registered with providers.handlers.

Each handler acts on `event.oa` only (the OA whose key or URL token verified the event): a report or
feedback naming another OA's message finds nothing and changes nothing.

`user_feedback` and Infobip's inbound messages are also what audiences.webhook_handlers handles
(opt-outs by stop word, a contact's last bad report). Its module is imported first, so these
registrations replace its own whatever the app order, and a feedback about one of our messages is
handled here once — with the message's phone, its campaign's rollups and its timeline — while
everything else (no matching message: a reply, a feedback on a message we did not send) is handed
to the audiences handler unchanged. Nothing is recorded twice.
"""

from audiences import webhook_handlers as audience_handlers
from campaigns.reports import (
    Feedback,
    apply_delivery_report,
    apply_user_feedback,
    infobip_report,
    ms_time,
    zalo_delivery_report,
)
from providers.handlers import INFOBIP_DELIVERY_REPORT, INFOBIP_INBOUND_MESSAGE, register
from providers.models import WebhookEvent


def _event_time(event: WebhookEvent):
    return audience_handlers._event_time(event)


@register("user_received_message")
def zalo_delivery(event: WebhookEvent, payload: dict) -> None:
    report = zalo_delivery_report(payload)
    if report is not None:
        apply_delivery_report(event.oa_id, report)


@register(INFOBIP_DELIVERY_REPORT)
def infobip_delivery(event: WebhookEvent, payload: dict) -> None:
    results = payload.get("results") if isinstance(payload.get("results"), list) else []
    for result in results:
        report = infobip_report(result)
        if report is not None:
            apply_delivery_report(event.oa_id, report)


def _feedback(message: dict, *, tracking_id, msg_id, submitted, event: WebhookEvent) -> Feedback:
    texts = audience_handlers._texts(message)
    return Feedback(
        tracking_id=str(tracking_id or ""),
        provider_message_id=str(msg_id or ""),
        at=ms_time(submitted) or _event_time(event),
        bad_report=audience_handlers.is_bad_report(message),
        stop_word=any(audience_handlers.is_stop_word(text) for text in texts),
        text=" · ".join(str(t) for t in texts if t)[:500],
        key=str(submitted or ""),
    )


@register("user_feedback")
def zalo_user_feedback(event: WebhookEvent, payload: dict) -> None:
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    feedback = _feedback(
        message,
        tracking_id=message.get("tracking_id"),
        msg_id=message.get("msg_id"),
        submitted=message.get("submit_time"),
        event=event,
    )
    if (feedback.tracking_id or feedback.provider_message_id) and apply_user_feedback(
        event.oa_id, feedback, event_id=event.pk
    ) is not None:
        return
    audience_handlers.zalo_user_feedback(event, payload)


@register(INFOBIP_INBOUND_MESSAGE)
def infobip_inbound_message(event: WebhookEvent, payload: dict) -> None:
    results = payload.get("results") if isinstance(payload.get("results"), list) else []
    rest = []
    for result in results:
        message = result.get("message") if isinstance(result, dict) else None
        if isinstance(message, dict) and str(message.get("type") or "").upper() == "USER_FEEDBACK":
            feedback = _feedback(
                message,
                tracking_id=message.get("trackingId") or result.get("pairedMessageId"),
                msg_id=message.get("msgId"),
                submitted=message.get("submitTime"),
                event=event,
            )
            if (feedback.tracking_id or feedback.provider_message_id) and apply_user_feedback(
                event.oa_id, feedback, event_id=event.pk
            ) is not None:
                continue
        rest.append(result)
    if rest:
        audience_handlers.infobip_inbound_message(event, {**payload, "results": rest})
