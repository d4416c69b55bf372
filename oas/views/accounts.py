from django.shortcuts import render

from oas.models import OfficialAccount
from zalo_admin.roles import require_capability


@require_capability("view_oas")
def account_list(request):
    accounts = OfficialAccount.objects.all()
    return render(request, "oas/list.html", {"accounts": accounts})
