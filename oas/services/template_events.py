"""Template status and quality changes: provider webhooks (oas.webhook_handlers) and status changes
found by a sync.

Every change happens inside a transaction with its audit record. A template that can no longer send
is announced with `hooks.TEMPLATE_UNSENDABLE`; campaigns pauses its campaigns (oas never imports
campaigns) and the paused ids come back for the audit record.
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from compliance import actions
from compliance.services import record_audit_event
from oas.models import MessageTemplate, OfficialAccount
from oas.template_rules import quality_from_provider, status_from_provider
from zalo_admin import hooks
from zalo_admin.jobs import enqueue

log = logging.getLogger(__name__)

Status = MessageTemplate.Status

WEBHOOK_ACTOR = "system:zalo-webhook"
# The job that reads an OA's templates from its provider, by dotted path (oas.jobs imports the sync).
SYNC_JOB = "oas.jobs.sync_oa_templates"


def _pause_reason(template: MessageTemplate, status_reason: str) -> str:
    reason = _("Template %(name)s (%(id)s) is now %(status)s.") % {
        "name": template.name,
        "id": template.template_id,
        "status": template.get_status_display(),
    }
    return f"{reason} {status_reason}".strip()


def announce_unsendable(template: MessageTemplate, status_reason: str, *, actor: str) -> list[int]:
    """Announce that the template cannot send; the ids of the campaigns paused because of it."""
    paused = hooks.emit(
        hooks.TEMPLATE_UNSENDABLE,
        template_id=template.pk,
        reason=_pause_reason(template, status_reason),
        actor=actor,
    )
    return [campaign_id for ids in paused for campaign_id in ids]


def record_status_change(template: MessageTemplate, previous: str, *, actor: str, source: str) -> list[int]:
    """Audit a status change and pause what can no longer send. Only ENABLE templates are sendable,
    so leaving ENABLE (DISABLE, REJECT, DELETE…) or any move to DISABLE stops their campaigns."""
    paused = []
    if template.status != Status.ENABLED:
        paused = announce_unsendable(template, template.status_reason, actor=actor)
    record_audit_event(
        actor=actor,
        action=actions.TEMPLATE_STATUS,
        target=template,
        details={
            "template_id": template.template_id,
            "from": previous,
            "to": template.status,
            "reason": template.status_reason,
            "source": source,
            "paused_campaigns": paused,
        },
    )
    return paused


@dataclass(frozen=True)
class ChangeOutcome:
    changed: bool
    template_id: int | None = None
    paused_campaigns: list[int] = field(default_factory=list)
    note: str = ""


def _find_template(oa_id: int | None, template_id: str):
    """The event's OA (`WebhookEvent.oa`: the OA whose own key verified it; never one named by the
    payload) and its template, locked."""
    oa = OfficialAccount.objects.filter(pk=oa_id).first() if oa_id else None
    if oa is None:
        return None, None
    template = MessageTemplate.objects.select_for_update().filter(oa=oa, template_id=str(template_id)).first()
    return oa, template


def change_template_status(
    *,
    oa_id: int | None,
    template_id: str,
    new_status: str,
    reason: str = "",
    actor: str = WEBHOOK_ACTOR,
) -> ChangeOutcome:
    """Apply a provider's status change (webhook) to a template of the OA `oa_id` (the event's bound
    OA): store it, pause campaigns of a template that can no longer send, audit. Idempotent: the same
    status again changes nothing. An unknown template of a known OA triggers a template sync instead
    (we would not know its tag or parameters)."""
    status = status_from_provider(new_status)
    with transaction.atomic():
        oa, template = _find_template(oa_id, template_id)
        if oa is None:
            return ChangeOutcome(False, note="unknown OA")
        if template is None:
            enqueue(SYNC_JOB, oa.pk)
            return ChangeOutcome(False, note="unknown template: sync queued")
        if status is None:
            log.warning("template %s: unknown status word %r ignored", template_id, new_status)
            return ChangeOutcome(False, template.pk, note=f"unknown status {new_status!r}")
        previous, previous_reason = template.status, template.status_reason
        reason = reason or ""
        changed = (previous, previous_reason) != (status, reason)
        if changed:
            template.status, template.status_reason = status, reason
            template.save(update_fields=["status", "status_reason"])
        if previous != status:
            paused = record_status_change(template, previous, actor=actor, source="webhook")
            return ChangeOutcome(True, template.pk, paused)
        if changed:
            record_audit_event(
                actor=actor,
                action=actions.TEMPLATE_STATUS_REASON,
                target=template,
                details={
                    "template_id": template.template_id,
                    "status": status,
                    "from": previous_reason,
                    "to": reason,
                },
            )
        # The same status again (a redelivery, or a new reason): campaigns were paused when it first
        # arrived, but one scheduled since then must not start on a template that cannot send.
        paused = []
        if status != Status.ENABLED:
            paused = announce_unsendable(template, reason, actor=actor)
        return ChangeOutcome(changed, template.pk, paused)


def change_template_quality(
    *,
    oa_id: int | None,
    template_id: str,
    quality: str,
    actor: str = WEBHOOK_ACTOR,
) -> ChangeOutcome:
    """Store a provider's new quality reading of a template of the OA `oa_id` (the event's bound OA),
    audited; the same reading again is a no-op."""
    value = quality_from_provider(quality)
    with transaction.atomic():
        oa, template = _find_template(oa_id, template_id)
        if oa is None:
            return ChangeOutcome(False, note="unknown OA")
        if template is None:
            enqueue(SYNC_JOB, oa.pk)
            return ChangeOutcome(False, note="unknown template: sync queued")
        if not value:
            log.warning("template %s: unknown quality word %r ignored", template_id, quality)
            return ChangeOutcome(False, template.pk, note=f"unknown quality {quality!r}")
        if template.quality == value:
            return ChangeOutcome(False, template.pk)
        previous = template.quality
        template.quality = value
        template.save(update_fields=["quality"])
        record_audit_event(
            actor=actor,
            action=actions.TEMPLATE_QUALITY,
            target=template,
            details={"template_id": template.template_id, "from": previous, "to": value},
        )
        return ChangeOutcome(True, template.pk)
