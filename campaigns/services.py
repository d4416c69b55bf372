"""Campaign state changes (the one place each change happens)."""

from campaigns.models import Campaign


def pause_campaign(campaign_id: int, reason: str) -> bool:
    """Pause a running campaign with a reason; False when it was not running (already paused, ended…)."""
    paused = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.RUNNING).update(
        status=Campaign.Status.PAUSED, pause_reason=reason
    )
    return bool(paused)
