"""Zalo template events (provider-apis.md §1.14), registered with providers.handlers.

Each runs inside the job's transaction and is idempotent: the same event again changes nothing.
Each acts on `event.oa`, the OA whose own key verified the event (providers.webhooks), and never
looks an OA up from the payload's `oa_id`.
"""

from oas.services import template_events
from providers.handlers import register
from providers.models import WebhookEvent


def _status_words(payload: dict) -> tuple[str, str]:
    status = payload.get("status")
    if isinstance(status, dict):
        return str(status.get("prev_status") or ""), str(status.get("new_status") or "")
    return "", str(status or payload.get("new_status") or "")


@register("change_template_status")
def template_status_changed(event: WebhookEvent, payload: dict) -> None:
    _previous, new_status = _status_words(payload)
    template_events.change_template_status(
        oa_id=event.oa_id,
        template_id=str(payload.get("template_id") or payload.get("templateId") or ""),
        new_status=new_status,
        reason=str(payload.get("reason") or ""),
    )


@register("change_template_quality")
def template_quality_changed(event: WebhookEvent, payload: dict) -> None:
    quality = payload.get("quality")
    if isinstance(quality, dict):  # in case Zalo sends {prev_value, new_value} as for quotas
        quality = quality.get("new_value") or quality.get("new_quality")
    template_events.change_template_quality(
        oa_id=event.oa_id,
        template_id=str(payload.get("template_id") or payload.get("templateId") or ""),
        quality=str(quality or ""),
    )
