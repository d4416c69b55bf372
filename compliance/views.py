from django.core.paginator import Paginator
from django.shortcuts import render

from compliance.models import AuditEvent
from compliance.services import verify_audit_chain
from zalo_admin.roles import require_capability


@require_capability("view_audit")
def index(request):
    events = AuditEvent.objects.order_by("-id")
    action = request.GET.get("action", "").strip()
    if action:
        events = events.filter(action=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "compliance/index.html",
        {"page": page, "action": action, "verification": verify_audit_chain()},
    )
