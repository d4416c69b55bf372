"""Campaign state changes (the one place each change happens, audited there)."""

from django.db import transaction

from campaigns.models import Campaign
from compliance.services import actor_name, record_audit_event

# A campaign that would send (now or at its scheduled time) can be paused.
PAUSABLE_STATUSES = (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED)


@transaction.atomic
def pause_campaign(campaign_id: int, reason: str, actor="system") -> bool:
    """Pause a running or scheduled campaign with a reason; False when it would not send anyway."""
    paused = Campaign.objects.filter(pk=campaign_id, status__in=PAUSABLE_STATUSES).update(
        status=Campaign.Status.PAUSED, pause_reason=reason
    )
    if paused:
        record_audit_event(
            actor=actor_name(actor),
            action="campaign.pause",
            summary=f"Campaign #{campaign_id} paused: {reason}",
            target_type="campaigns.campaign",
            target_id=campaign_id,
            details={"reason": reason},
        )
    return bool(paused)
