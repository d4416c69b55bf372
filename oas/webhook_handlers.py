"""Zalo template events (provider-apis.md §1.14), registered with providers.handlers.

Each runs inside the job's transaction and is idempotent: the same event again changes nothing.
"""

from oas.services import templates
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
    templates.change_template_status(
        zalo_oa_id=str(payload.get("oa_id") or payload.get("oaId") or ""),
        template_id=str(payload.get("template_id") or payload.get("templateId") or ""),
        new_status=new_status,
        reason=str(payload.get("reason") or ""),
        fallback_oa_id=event.oa_id,
    )


@register("change_template_quality")
def template_quality_changed(event: WebhookEvent, payload: dict) -> None:
    quality = payload.get("quality")
    if isinstance(quality, dict):  # in case Zalo sends {prev_value, new_value} as for quotas
        quality = quality.get("new_value") or quality.get("new_quality")
    templates.change_template_quality(
        zalo_oa_id=str(payload.get("oa_id") or payload.get("oaId") or ""),
        template_id=str(payload.get("template_id") or payload.get("templateId") or ""),
        quality=str(quality or ""),
        fallback_oa_id=event.oa_id,
    )
