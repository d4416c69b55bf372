"""Campaign analytics pages (issue 14): one campaign's funnel, latency, hours and audience sources,
and an OA's bad-report attribution; each table also as CSV. Thin: parse, check, call
campaigns.analytics (rollups only), render."""

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse

from campaigns import analytics
from campaigns.access import visible_campaign
from oas.models import OfficialAccount
from teams.scoping import get_visible_or_404
from zalo_admin.lib.figures import table_csv
from zalo_admin.roles import has_capability, require_capability


def _days(request) -> int:
    try:
        days = int(request.GET.get("days", 7))
    except (TypeError, ValueError):
        return 7
    return days if days in analytics.ATTRIBUTION_DAYS else 7


@require_capability("view_campaigns")
def campaign_analytics(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    return render(
        request,
        "campaigns/analytics.html",
        {
            "campaign": campaign,
            "report": analytics.campaign_analytics(campaign),
            "can_see_oa": has_capability(request.user, "view_quality"),
        },
    )


CAMPAIGN_TABLES = {
    "funnel": lambda report: report.funnel_chart["table"],
    "latency": lambda report: report.latency_chart["table"],
    "hourly": lambda report: report.hourly_chart["table"],
    "sources": lambda report: report.sources_table,
    "send-hours": lambda report: report.send_hour_chart["table"],
}


def _csv(table: dict, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(table_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@require_capability("view_campaigns")
def campaign_analytics_csv(request, campaign_id: int, table: str):
    if table not in CAMPAIGN_TABLES:
        raise Http404("No such table.")
    campaign = visible_campaign(request.user, campaign_id)
    report = analytics.campaign_analytics(campaign)
    return _csv(CAMPAIGN_TABLES[table](report), f"campaign-{campaign.pk}-{table}")


def _attribution(request, oa_id: int):
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    days = _days(request)

    def campaign_url(pk):
        return reverse("campaigns:analytics", args=[pk])

    return oa, analytics.oa_attribution(oa.pk, days, campaign_url=campaign_url)


@require_capability("view_quality")
def oa_attribution(request, oa_id: int):
    oa, report = _attribution(request, oa_id)
    return render(
        request,
        "campaigns/oa_attribution.html",
        {
            "oa": oa,
            "report": report,
            "day_choices": analytics.ATTRIBUTION_DAYS,
            "csv_urls": {
                name.replace("-", "_"): reverse("campaigns:oa_attribution_csv", args=[oa.pk, name])
                + f"?days={report.days}"
                for name in OA_TABLES
            },
        },
    )


OA_TABLES = {
    "campaigns": lambda report: report.campaigns_chart["table"],
    "templates": lambda report: report.templates_table,
    "sources": lambda report: report.sources_chart["table"],
    "send-hours": lambda report: report.send_hour_chart["table"],
}


@require_capability("view_quality")
def oa_attribution_csv(request, oa_id: int, table: str):
    if table not in OA_TABLES:
        raise Http404("No such table.")
    oa, report = _attribution(request, oa_id)
    return _csv(OA_TABLES[table](report), f"oa-{oa.pk}-bad-reports-{table}-{report.days}d")
