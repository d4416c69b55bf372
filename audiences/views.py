from django.shortcuts import render

from zalo_admin.roles import require_capability


@require_capability("view_audiences")
def index(request):
    return render(request, "audiences/index.html")
