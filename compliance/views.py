from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from compliance import jobs
from compliance.integrity import latest_verification
from compliance.models import AuditEvent
from zalo_admin.jobs import enqueue
from zalo_admin.roles import require_capability


@require_capability("view_audit")
def index(request):
    events = AuditEvent.objects.order_by("-seq")
    action = request.GET.get("action", "").strip()
    if action:
        events = events.filter(action=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    # The last recorded verification, never a re-hash of the whole log on a page view.
    return render(
        request,
        "compliance/index.html",
        {"page": page, "action": action, "verification": latest_verification()},
    )


@require_capability("view_audit")
@require_POST
def verify_now(request):
    """Queue a full verification; the page shows its outcome once the job has run."""
    enqueue(jobs.verify_audit_log_full)
    messages.success(
        request, _("Verification of the whole audit log queued. Reload this page for its result.")
    )
    return redirect("compliance:index")
