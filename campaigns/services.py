"""Campaign state changes (the one place each change happens)."""

from campaigns.models import Campaign

# A campaign that would send (now or at its scheduled time) can be paused.
PAUSABLE_STATUSES = (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED)


def pause_campaign(campaign_id: int, reason: str) -> bool:
    """Pause a running or scheduled campaign with a reason; False when it would not send anyway."""
    paused = Campaign.objects.filter(pk=campaign_id, status__in=PAUSABLE_STATUSES).update(
        status=Campaign.Status.PAUSED, pause_reason=reason
    )
    return bool(paused)
