from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from compliance import jobs, search
from compliance.actions import ACTIONS
from compliance.integrity import latest_verification
from zalo_admin.jobs import enqueue
from zalo_admin.roles import require_capability


def _cursor(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@require_capability("view_audit")
def index(request):
    """The audit log: search by actor, action, object and day; an object's history is its filter."""
    audit_filter = search.parse_filter(request.GET)
    found = search.page(audit_filter, before=_cursor(request, "before"), after=_cursor(request, "after"))
    # The last recorded verification, never a re-hash of the whole log on a page view.
    return render(
        request,
        "compliance/index.html",
        {
            "page": found,
            "filter": audit_filter,
            "query": urlencode(audit_filter.as_query()),
            "actions": sorted(ACTIONS),
            "verification": latest_verification(),
        },
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
