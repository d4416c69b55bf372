"""Webhook event handlers, keyed by event name.

Later work registers real handlers (delivery reports, feedback, template status) in a module named
`webhook_handlers.py` of its own app (imported at start-up by ProvidersConfig.ready):

    from providers.handlers import register

    @register("user_received_message")
    def record_delivery(event, payload): ...

Until then every event falls to `store_only`, which leaves the stored row as the record. A handler
runs inside a transaction, takes the WebhookEvent and its parsed JSON body, and must be idempotent.
It acts on `event.oa` only — the OA whose own key (Zalo) or URL token (Infobip) verified the event —
and never resolves an OA from the payload; look rows up within that OA (e.g. a message by id *and*
`oa=event.oa`).
"""

from collections.abc import Callable

from providers.models import WebhookEvent

Handler = Callable[[WebhookEvent, dict], None]
HANDLERS: dict[str, Handler] = {}

# Event names we know about (provider-apis.md §1.14, §2.4, §2.9); Infobip's are ours.
ZALO_EVENTS = (
    "user_received_message",
    "change_template_status",
    "change_template_quality",
    "change_template_quota",
    "change_oa_template_tags",
    "change_oa_daily_quota",
    "user_feedback",
    "user_click_response_button",
    "event_journey_acknowledged",
    "event_journey_time_out",
    "oa_send_template",
)
INFOBIP_DELIVERY_REPORT = "infobip_delivery_report"
INFOBIP_INBOUND_MESSAGE = "infobip_inbound_message"


def register(*event_names: str) -> Callable[[Handler], Handler]:
    def decorate(func: Handler) -> Handler:
        for name in event_names:
            HANDLERS[name] = func
        return func

    return decorate


def store_only(event: WebhookEvent, payload: dict) -> None:
    """Default: the stored event is all we do for now."""


def handler_for(event_name: str) -> Handler:
    return HANDLERS.get(event_name, store_only)
