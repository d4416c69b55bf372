from django.shortcuts import render

from oas.models import OfficialAccount
from zalo_admin.roles import require_capability


@require_capability("view_quality")
def index(request):
    return render(request, "quotas/index.html", {"accounts": OfficialAccount.objects.all()})
