"""The message log across campaigns (`/campaigns/logs/`) and its CSV exports.

Thin: the filter and the keyset pages come from `campaigns.logs`, the exports from
`campaigns.exports` (which audit them). Everyone who sees campaigns reads the log; phones are masked
on the page for every role (as on the audience pages); an export carries full numbers only for a
role that may reveal them (`reveal_phones`), and says so in its audit entry.
"""

import dataclasses
from html import escape

from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from audiences.views import masked_phone
from campaigns import exports, logs
from campaigns.models import Campaign, CampaignMessage, LogExport
from campaigns.progress_views import vietnam_time
from oas.models import OfficialAccount
from teams.scoping import get_visible_or_404, team_ids, visible
from zalo_admin.roles import has_capability, require_capability

# A streamed download this big or bigger is better prepared as a file (the page suggests it).
LARGE_EXPORT_ROWS = 100_000


def _query(parsed: logs.ParsedFilter, **extra) -> str:
    return urlencode({**parsed.raw, **extra})


def _options(rows, chosen: str):
    """<option>s of (id, label) rows, built at once as one string (a thousand OAs through the
    template's loop, or through format_html, cost most of the page's time)."""
    return mark_safe(  # noqa: S308 (ids are integers, labels are escaped)
        "".join(
            f'<option value="{int(i)}"{" selected" if str(i) == chosen else ""}>{escape(label)}</option>'
            for i, label in rows
        )
    )


def _parse(request, params) -> logs.ParsedFilter:
    """The typed filter, narrowed to the campaigns of the user's teams (teams.scoping)."""
    parsed = logs.parse_filter(params)
    teams = team_ids(request.user)
    if teams is not None:
        parsed.filter = dataclasses.replace(parsed.filter, teams=tuple(sorted(teams)))
    return parsed


def _masked_phones(user) -> bool:
    return not has_capability(user, "reveal_phones")


@require_capability("view_campaigns")
@require_GET
def log_page(request):
    parsed = _parse(request, request.GET)
    page = None
    if not parsed.errors:
        page = logs.page(parsed.filter, after=request.GET.get("after"), before=request.GET.get("before"))
        labels = dict(CampaignMessage.State.choices)
        # One reversed URL per kind, filled in per row (two reverse() a row cost more than the row).
        detail_url = reverse("campaigns:detail", args=[987654321])
        timeline_url = reverse("campaigns:timeline", args=[987654321, 123456789])
        for row in page.rows:
            campaign_id = str(row["campaign_id"])
            row["detail_url"] = detail_url.replace("987654321", campaign_id, 1)
            row["timeline_url"] = timeline_url.replace("987654321", campaign_id, 1).replace(
                "123456789", str(row["id"]), 1
            )
            row["masked"] = masked_phone(row.pop("phone"))
            row["state_label"] = labels.get(row["state"], row["state"])
            row["queued"] = vietnam_time(row["created_at"])
            row["changed"] = vietnam_time(row["updated_at"])
    oa_campaigns = []
    if parsed.filter.oa:
        oa_campaigns = _options(
            visible(request.user, Campaign.objects.filter(oa_id=parsed.filter.oa))
            .order_by("-created_at", "-id")
            .values_list("id", "name"),
            parsed.raw.get("campaign", ""),
        )
    return render(
        request,
        "campaigns/logs.html",
        {
            "parsed": parsed,
            "raw": parsed.raw,
            "errors": parsed.errors,
            "page": page,
            "oa_options": _options(
                visible(request.user, OfficialAccount).order_by("name").values_list("id", "name"),
                parsed.raw.get("oa", ""),
            ),
            "oa_campaigns": oa_campaigns,
            "states": CampaignMessage.State.choices,
            "next_url": f"?{_query(parsed, after=page.next_after)}" if page and page.next_after else "",
            "previous_url": f"?{_query(parsed, before=page.previous_before)}"
            if page and page.previous_before
            else "",
            "first_url": f"?{_query(parsed)}" if page and page.previous_before else "",
            "export_query": _query(parsed),
            "masked_export": _masked_phones(request.user),
            "large_rows": LARGE_EXPORT_ROWS,
            "recent_exports": LogExport.objects.filter(requested_by=request.user)[:5],
        },
    )


@require_capability("view_campaigns")
@require_GET
def log_csv(request):
    """The filter's rows as CSV, streamed at any size (constant memory), audited when it ends."""
    parsed = _parse(request, request.GET)
    if parsed.errors:
        messages.error(request, _("Correct the filter before exporting it."))
        return redirect(f"{reverse('campaigns:logs')}?{_query(parsed)}")
    response = StreamingHttpResponse(
        exports.stream_csv(parsed.filter, actor=request.user, masked=_masked_phones(request.user)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="message-log-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_capability("view_campaigns")
@require_POST
def request_export(request):
    """Prepare the filter's CSV as a file in the background (large exports), with its progress page."""
    parsed = _parse(request, request.POST)
    if parsed.errors:
        messages.error(request, _("Correct the filter before exporting it."))
        return redirect(f"{reverse('campaigns:logs')}?{_query(parsed)}")
    export = exports.request_export(parsed.filter, user=request.user, masked=_masked_phones(request.user))
    messages.success(request, _("The export is being prepared: its file appears here when it is ready."))
    return redirect("campaigns:log_export", export.pk)


def _own_export(request, export_id: int) -> LogExport:
    """An export is open to whoever asked for it (it holds the rows of their teams) and to those who
    see every team (teams.scoping); one with full numbers only to whoever asked for it, while they
    may still reveal phones."""
    export = get_visible_or_404(request.user, LogExport, pk=export_id)  # the requester's (teams.scoping)
    if not export.masked and not (
        export.requested_by_id == request.user.pk and has_capability(request.user, "reveal_phones")
    ):
        raise Http404(_("No such export."))
    return export


@require_capability("view_campaigns")
@require_GET
def export_page(request, export_id: int):
    export = _own_export(request, export_id)
    log_filter = logs.LogFilter.from_dict(export.filters)
    return render(
        request,
        "campaigns/logs_export.html",
        {
            "export": export,
            "progress": exports.progress(export),
            "filter": exports.audit_filter(log_filter),
            "progress_url": reverse("campaigns:log_export_progress", args=[export.pk]),
            "requested": vietnam_time(export.created_at),
            "finished_at": vietnam_time(export.finished_at),
            "keep_hours": exports.keep_hours(),
        },
    )


@require_capability("view_campaigns")
@require_GET
@never_cache
def export_progress(request, export_id: int):
    return JsonResponse(exports.progress(_own_export(request, export_id)))


@require_capability("view_campaigns")
@require_GET
def export_download(request, export_id: int):
    export = _own_export(request, export_id)
    path = exports.export_path(export)
    if export.status != LogExport.Status.DONE or path is None or not path.exists():
        raise Http404(_("This export has no file (not ready yet, failed or expired)."))
    exports.record_download(export, actor=request.user)
    response = FileResponse(path.open("rb"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="message-log-export-{export.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response
