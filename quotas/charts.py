"""Chart data for the dashboard: plain plotly figure dicts, rendered by static/js/charts.js."""

from datetime import timedelta

from django.db.models import Sum
from django.utils.translation import gettext as _

from quotas import rules
from quotas.models import LevelChange, OADailyStats
from quotas.services.state import quota_state
from zalo_admin.lib.dates import today_in_vietnam


def messages_per_day_figure(days: int = 30) -> dict:
    """Messages sent per Vietnam day over the last `days` days, all OAs together."""
    today = today_in_vietnam()
    start = today - timedelta(days=days - 1)
    rows = (
        OADailyStats.objects.filter(day__gte=start, day__lte=today)
        .values("day")
        .order_by("day")
        .annotate(sent=Sum("sent"), bad=Sum("bad_reports"))
    )
    by_day = {row["day"]: row for row in rows}
    x = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    sent = [by_day.get(start + timedelta(days=i), {}).get("sent", 0) for i in range(days)]
    bad = [by_day.get(start + timedelta(days=i), {}).get("bad", 0) for i in range(days)]
    return {
        "empty": not any(sent),
        "data": [
            {"type": "bar", "name": _("Sent"), "x": x, "y": sent, "marker": {"color": "#1f6feb"}},
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Bad reports"),
                "x": x,
                "y": bad,
                "yaxis": "y2",
                "line": {"color": "#d1242f"},
            },
        ],
        "layout": {
            "margin": {"l": 50, "r": 50, "t": 10, "b": 60},
            "yaxis": {"title": {"text": _("Messages")}, "rangemode": "tozero"},
            "yaxis2": {
                "title": {"text": _("Bad reports")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
            },
            "legend": {"orientation": "h"},
            "bargap": 0.2,
        },
    }


def _limits_by_day(oa_id: int, days: list, current_limit: int | None) -> list[int | None]:
    """The limit in force on each day, rebuilt from the level history (newest change last wins)."""
    changes = list(LevelChange.objects.filter(oa_id=oa_id).order_by("effective_day", "created_at", "id"))
    limits = []
    for day in days:
        before = [change for change in changes if change.effective_day <= day]
        after = [change for change in changes if change.effective_day > day]
        if before:
            limits.append(before[-1].new_limit)
        elif after:
            limits.append(after[0].old_limit)
        else:
            limits.append(current_limit)
    return limits


def _oa_days(oa_id: int, days: int):
    today = today_in_vietnam()
    start = today - timedelta(days=days - 1)
    span = [start + timedelta(days=i) for i in range(days)]
    rows = {
        row["day"]: row
        for row in OADailyStats.objects.filter(oa_id=oa_id, day__gte=start, day__lte=today).values(
            "day", "sent", "bad_reports"
        )
    }
    return span, rows


def oa_volume_figure(oa_id: int, days: int = 30) -> dict:
    """One OA's daily sent messages against the limit in force that day (unrestricted days: no line)."""
    state = quota_state(oa_id)
    span, rows = _oa_days(oa_id, days)
    sent = [rows.get(day, {}).get("sent", 0) for day in span]
    x = [day.isoformat() for day in span]
    return {
        "empty": not any(sent),
        "data": [
            {"type": "bar", "name": _("Sent"), "x": x, "y": sent, "marker": {"color": "#1f6feb"}},
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hv", "color": "#9a6700", "dash": "dash"},
                "name": _("Daily limit"),
                "x": x,
                "y": _limits_by_day(oa_id, span, state.current_limit),
            },
        ],
        "layout": {
            "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
            "yaxis": {"title": {"text": _("Messages")}, "rangemode": "tozero"},
            "legend": {"orientation": "h"},
        },
    }


def oa_quality_figure(oa_id: int, days: int = 30) -> dict:
    """One OA's daily bad-report rate (%) against the HIGH and MEDIUM thresholds, and its daily bad
    reports against the automatic-violation threshold (a share of that day's limit)."""
    state = quota_state(oa_id)
    policy = state.policy.to_rules()
    span, rows = _oa_days(oa_id, days)
    bad_reports = [rows.get(day, {}).get("bad_reports", 0) for day in span]
    violation_thresholds = [
        float(rules.violation_threshold(policy, limit))
        for limit in _limits_by_day(oa_id, span, state.current_limit)
    ]
    x = [day.isoformat() for day in span]
    rates = []
    for day in span:
        row = rows.get(day)
        rates.append(round(100 * row["bad_reports"] / row["sent"], 4) if row and row["sent"] else None)
    high = float(policy.high_max_rate * 100)
    medium = float(policy.medium_max_rate * 100)
    return {
        "empty": all(rate is None for rate in rates),
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Bad-report rate"),
                "x": x,
                "y": rates,
                "line": {"color": "#d1242f"},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("HIGH quality up to"),
                "x": [x[0], x[-1]],
                "y": [high, high],
                "line": {"color": "#1a7f37", "dash": "dot"},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("MEDIUM quality up to"),
                "x": [x[0], x[-1]],
                "y": [medium, medium],
                "line": {"color": "#9a6700", "dash": "dot"},
            },
            {
                "type": "bar",
                "name": _("Bad reports"),
                "x": x,
                "y": bad_reports,
                "yaxis": "y2",
                "opacity": 0.35,
                "marker": {"color": "#57606a"},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("Automatic-violation threshold"),
                "x": x,
                "y": violation_thresholds,
                "yaxis": "y2",
                "line": {"shape": "hv", "color": "#b42318", "dash": "dash"},
            },
        ],
        "layout": {
            "margin": {"l": 60, "r": 60, "t": 10, "b": 40},
            "yaxis": {"title": {"text": _("Bad reports / sent (%)")}, "rangemode": "tozero"},
            "yaxis2": {
                "title": {"text": _("Bad reports per day")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
            },
            "legend": {"orientation": "h"},
        },
    }
