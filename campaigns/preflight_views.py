"""The campaign's pre-flight page (issue 12): the last stored run (GET, nothing recomputed), "Run
pre-flight" (POST, stores a new run) and every excluded recipient with its rule and reason as CSV
(streamed; each download audited; phones in full only for roles that may reveal them)."""

import csv
from datetime import datetime

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from campaigns import eligibility, preflight
from campaigns.access import visible_campaign
from zalo_admin.lib.dates import VIETNAM
from zalo_admin.lib.phones import mask_phone, national_format
from zalo_admin.roles import has_capability, require_capability

LIMITED_BY = {
    "daily_limit": gettext_lazy("daily limit"),
    "daily_marketing_share": gettext_lazy("daily marketing share"),
    "monthly_marketing_quota": gettext_lazy("monthly marketing quota"),
    "speed_limit": gettext_lazy("speed limit"),
    "delivery_window": gettext_lazy("no delivery time"),
    "done": gettext_lazy("all sent"),
    "": "—",
}


def _moment(text):
    moment = parse_datetime(text) if isinstance(text, str) else None
    return moment.astimezone(VIETNAM) if moment else None


def _day(text):
    return parse_date(text) if isinstance(text, str) else None


def _view_model(summary: dict) -> dict:
    """The stored summary with its times and days read back (Vietnam time) for the template."""
    plan = dict(summary.get("plan") or {})
    plan["finish_at"] = _moment(plan.get("finish_at"))
    plan["first_delivery_at"] = _moment(plan.get("first_delivery_at"))
    plan["days"] = [
        {
            **day,
            "day": _day(day["day"]),
            "limited_by_label": LIMITED_BY.get(day["limited_by"], day["limited_by"]),
        }
        for day in plan.get("days") or []
    ]
    plan["others"] = [{**other, "starts": _moment(other["starts"])} for other in plan.get("others") or []]
    for key in ("next_upgrade_without", "next_upgrade_with"):
        value = plan.get(key)
        plan[key] = {"day": _day(value[0]), "limit": value[1]} if value else None
    plan["bad_report_percent"] = f"{float(plan.get('bad_report_rate') or 0) * 100:.2f}"
    blocking = [r for r in summary.get("rules", []) if r.get("per_campaign") and r.get("refused")]
    return {
        **summary,
        "plan": plan,
        "blocking": blocking,
        "send_start": _moment(summary.get("send_start")),
        "split_business_box": (summary.get("split") or {}).get("does_not_follow", 0)
        + (summary.get("split") or {}).get("unknown", 0),
    }


@require_capability("view_campaigns")
@require_GET
def preflight_page(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    run = preflight.last_run(campaign)
    return render(
        request,
        "campaigns/preflight.html",
        {
            "campaign": campaign,
            "run": run,
            "result": _view_model(run.summary) if run else None,
            "stale": bool(run and campaign.updated_at > run.ran_at),
            "can_run": has_capability(request.user, "manage_campaigns"),
            "presets": eligibility.marketing_rules(),
        },
    )


@require_capability("manage_campaigns")
@require_POST
def run_preflight(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    run = preflight.record_preflight(campaign.pk, actor=request.user)
    messages.success(
        request,
        _("Pre-flight done in %(seconds)s s: %(eligible)s of %(total)s recipients eligible.")
        % {"seconds": f"{run.seconds:.1f}", "eligible": run.eligible, "total": run.audience},
    )
    return redirect("campaigns:preflight", campaign.pk)


class _Echo:
    def write(self, value):
        return value


def _csv_lines(exclusions, titles: dict, full: bool, computed: datetime):
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([_("phone"), _("rule"), _("rule title"), _("reason")])
    for exclusion in exclusions:
        phone = national_format(exclusion.phone) if full else mask_phone(exclusion.phone)
        yield writer.writerow([phone, exclusion.rule, titles.get(exclusion.rule, ""), exclusion.reason])
    yield writer.writerow([_("computed at %(time)s (Vietnam time)") % {"time": f"{computed:%d/%m/%Y %H:%M}"}])


@require_capability("view_campaigns")
@require_GET
def exclusions_csv(request, campaign_id: int):
    """Every excluded recipient with its rule and reason, as the rules find them now (UTF-8 with a
    BOM, for Excel), streamed; audited."""
    campaign = visible_campaign(request.user, campaign_id)
    evaluation = eligibility.evaluate(campaign)
    full = has_capability(request.user, "reveal_phones")
    preflight.record_exclusions_export(
        campaign, actor=request.user, count=len(evaluation.exclusions), masked=not full
    )
    computed = evaluation.context.now.astimezone(VIETNAM)
    response = StreamingHttpResponse(
        _csv_lines(evaluation.exclusions, eligibility.rule_titles(), full, computed),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-excluded.csv"'
    response["Cache-Control"] = "no-store"
    return response
