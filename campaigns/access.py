"""The one way campaign pages find their campaign: by id, only when the user's teams see it."""

from campaigns.models import Campaign
from teams.scoping import get_visible_or_404


def visible_campaign(user, campaign_id: int) -> Campaign:
    """The campaign with its OA, template and author, when the user's teams see it (another team's
    campaign, like a missing one, is a 404: see teams.scoping)."""
    return get_visible_or_404(
        user, Campaign.objects.select_related("oa", "template", "author"), pk=campaign_id
    )
