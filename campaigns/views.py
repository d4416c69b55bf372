from django.shortcuts import render

from campaigns.models import Campaign
from zalo_admin.roles import require_capability


@require_capability("view_campaigns")
def index(request):
    campaigns = Campaign.objects.select_related("oa", "template")[:200]
    return render(request, "campaigns/index.html", {"campaigns": campaigns})
