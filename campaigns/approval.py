"""Maker-checker: a quality admin who is not the author approves a campaign, bound to a SHA-256 of
everything that decides what is sent; any change to it voids the approval; the dispatcher re-checks.

The hash (`approval_hash`) is over one canonical JSON document (`hashed_document`): the OA, the
template's id and version (`campaigns.mapping.template_version` of the template as it is now), the
parameter mapping, every option, and the audience snapshot: the chosen lists and segments and the
sorted set of eligible recipients' phones, as the pre-flight finds them
(`campaigns.preflight.eligible_phones(campaign)`; the functions here take the set as a parameter
so a caller that already ran the pre-flight passes it, and tests can).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import mapping
from campaigns.models import Campaign, CampaignApproval
from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas.models import MessageTemplate
from zalo_admin.roles import has_capability

TARGET_TYPE = "campaigns.campaign"
APPROVE_CAPABILITY = "approve_campaigns"
REJECTION_REASON_MAX_LENGTH = 2000
# A campaign can be edited until it starts sending; editing one that waits for approval or is
# approved voids the approval when the edit touches a hashed input.
EDITABLE_STATUSES = (
    Campaign.Status.DRAFT,
    Campaign.Status.REJECTED,
    Campaign.Status.AWAITING_APPROVAL,
    Campaign.Status.SCHEDULED,
)
# The options the hash covers (every edited value but the campaign's name).
OPTION_FIELDS = (
    "send_at",
    "time_zone",
    "sending_speed_limit_amount",
    "sending_speed_limit_time_unit",
    "delivery_days",
    "delivery_from_hour",
    "delivery_from_minute",
    "delivery_to_hour",
    "delivery_to_minute",
    "validity_period_amount",
    "validity_period_time_unit",
    "sms_failover_enabled",
    "sms_failover_sender",
    "sms_failover_text",
    "sms_failover_mapping",
    "sms_failover_validity_amount",
    "sms_failover_validity_time_unit",
    "sms_failover_max",
    "encrypted",
    "platform_entity_id",
    "platform_application_id",
    "notify_url",
    "callback_data",
    "staged_release",
    "stage_percent",
    "stage_min_recipients",
    "stage_wait_minutes",
    "stage_bad_report_threshold",
)
HASHED_FIELDS = frozenset(
    {*OPTION_FIELDS, "oa", "template", "template_version", "mapping", "audience_lists", "audience_segments"}
)


class ApprovalRefused(Exception):
    """The approval or rejection is not allowed; `str()` says why, for the person."""


def _option_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return value


def eligible_phones(campaign: Campaign) -> list[str]:
    """The audience snapshot: the pre-flight's eligible recipients (its own module).
    ApprovalRefused while the pre-flight offers no `eligible_phones` (nothing can be approved blind)."""
    try:
        from campaigns import preflight
    except ModuleNotFoundError:
        preflight = None
    finder = getattr(preflight, "eligible_phones", None)
    if finder is None:
        raise ApprovalRefused(_("The pre-flight is not available: the eligible recipients are unknown."))
    return list(finder(campaign))


def hashed_document(campaign: Campaign, phones) -> dict:
    """What the approval hash is over, as one JSON-ready value."""
    return {
        "oa": campaign.oa_id,
        "template": {
            "id": campaign.template_id,
            "template_id": campaign.template.template_id,
            "version": mapping.template_version(campaign.template),
        },
        "mapping": campaign.mapping,
        "options": {name: _option_value(getattr(campaign, name)) for name in OPTION_FIELDS},
        "audience": {
            "lists": sorted(campaign.audience_lists.values_list("pk", flat=True)),
            "segments": sorted(campaign.audience_segments.values_list("pk", flat=True)),
            "recipients": sorted(set(phones)),
        },
    }


def approval_hash(campaign: Campaign, phones) -> str:
    """SHA-256 (hex) of the canonical JSON of `hashed_document`."""
    return mapping.sha256_of(hashed_document(campaign, phones))


def live_approval(campaign: Campaign) -> CampaignApproval | None:
    return campaign.approvals.filter(voided_at__isnull=True).first()


def _audit(action: str, campaign: Campaign, actor, **details) -> None:
    record_audit_event(
        actor=actor_name(actor),
        action=action,
        target_type=TARGET_TYPE,
        target_id=campaign.pk,
        details={"campaign_id": campaign.pk, **details},
    )


def _check_checker(campaign: Campaign, user) -> None:
    if not has_capability(user, APPROVE_CAPABILITY):
        raise ApprovalRefused(_("Only a quality admin may approve or reject campaigns."))
    if campaign.author_id is not None and campaign.author_id == user.pk:
        raise ApprovalRefused(_("The author of a campaign cannot approve or reject it; another person must."))


def _locked(campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update().select_related("oa", "template").get(pk=campaign_id)


@transaction.atomic
def approve_campaign(campaign_id: int, *, user, phones=None, now=None) -> CampaignApproval:
    """Awaiting approval -> scheduled, by a holder of approve_campaigns who is not the author, bound to
    the hash over `phones` (the eligible recipients; the pre-flight's when None). ApprovalRefused,
    with nothing changed, otherwise; a template changed since the draft was saved sends the campaign
    back to draft instead (its author must look at it again)."""
    campaign = _locked(campaign_id)
    _check_checker(campaign, user)
    if campaign.status != Campaign.Status.AWAITING_APPROVAL:
        raise ApprovalRefused(_("Only a campaign awaiting approval can be approved."))
    if campaign.template.status != MessageTemplate.Status.ENABLED:
        raise ApprovalRefused(_("The template is no longer sendable."))
    if campaign.template_version != mapping.template_version(campaign.template):
        raise ApprovalRefused(_("The template changed at the provider after the draft was saved."))
    phones = eligible_phones(campaign) if phones is None else list(phones)
    if not phones:
        raise ApprovalRefused(_("Nobody in the audience is eligible: there is nothing to approve."))
    now = now or timezone.now()
    record = CampaignApproval.objects.create(
        campaign=campaign,
        approver=user,
        approver_name=user.get_username(),
        approved_at=now,
        approval_hash=approval_hash(campaign, phones),
        recipients=len(set(phones)),
    )
    campaign.status = Campaign.Status.SCHEDULED
    campaign.rejection_reason = ""
    campaign.save(update_fields=["status", "rejection_reason", "updated_at"])
    _audit(
        actions.CAMPAIGN_APPROVE,
        campaign,
        user,
        recipients=record.recipients,
        approval_hash=record.approval_hash,
    )
    return record


@transaction.atomic
def reject_campaign(campaign_id: int, *, user, reason: str) -> Campaign:
    """Awaiting approval -> rejected with a reason (the author edits it, as a draft, and submits again)."""
    reason = (reason or "").strip()
    campaign = _locked(campaign_id)
    _check_checker(campaign, user)
    if campaign.status != Campaign.Status.AWAITING_APPROVAL:
        raise ApprovalRefused(_("Only a campaign awaiting approval can be rejected."))
    if not reason:
        raise ApprovalRefused(_("Say why the campaign is rejected."))
    if len(reason) > REJECTION_REASON_MAX_LENGTH:
        raise ApprovalRefused(
            _("A reason is at most %(max)s characters.") % {"max": REJECTION_REASON_MAX_LENGTH}
        )
    campaign.status = Campaign.Status.REJECTED
    campaign.rejection_reason = reason
    campaign.save(update_fields=["status", "rejection_reason", "updated_at"])
    _audit(actions.CAMPAIGN_REJECT, campaign, user, reason=reason)
    return campaign


def void_approval(campaign: Campaign, *, actor, reason: str, now=None) -> bool:
    """A hashed input changed: a campaign awaiting approval or approved goes back to draft, its live
    approval voided, audited. False when it was not waiting or approved (nothing to void). Call inside
    the transaction of the change, on a locked campaign."""
    if campaign.status not in (Campaign.Status.AWAITING_APPROVAL, Campaign.Status.SCHEDULED):
        return False
    now = now or timezone.now()
    campaign.approvals.filter(voided_at__isnull=True).update(voided_at=now, void_reason=reason)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.DRAFT, submitted_at=None, updated_at=now
    )
    campaign.status, campaign.submitted_at = Campaign.Status.DRAFT, None
    _audit(actions.CAMPAIGN_APPROVAL_VOID, campaign, actor, reason=reason)
    return True


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str
    approved_hash: str = ""
    current_hash: str = ""


def verify_approval(campaign: Campaign, phones=None) -> Verification:
    """For the dispatcher, when sending starts: is the campaign approved, and is what it would send now
    (template version, mapping, options, eligible recipients: `phones`, the pre-flight's when None)
    exactly what was approved? Read-only; `recheck_approval` also voids a mismatch."""
    if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING):
        return Verification(False, _("The campaign is not approved."))
    record = live_approval(campaign)
    if record is None:
        return Verification(False, _("The campaign has no live approval."))
    phones = eligible_phones(campaign) if phones is None else list(phones)
    current = approval_hash(campaign, phones)
    if current != record.approval_hash:
        return Verification(
            False,
            _("What the campaign would send differs from what was approved (approval hash mismatch)."),
            record.approval_hash,
            current,
        )
    return Verification(True, "", record.approval_hash, current)


@transaction.atomic
def recheck_approval(campaign_id: int, *, actor="system:dispatcher", phones=None) -> Verification:
    """`verify_approval` under the campaign's row lock; a mismatch voids the approval (back to draft,
    audited) so the campaign cannot send until it is approved again."""
    campaign = _locked(campaign_id)
    verification = verify_approval(campaign, phones)
    if not verification.ok and verification.approved_hash:
        void_approval(campaign, actor=actor, reason=verification.reason)
    return verification
