from django.shortcuts import render

from zalo_admin.roles import require_capability


@require_capability("view_audit")
def index(request):
    return render(request, "compliance/index.html")
