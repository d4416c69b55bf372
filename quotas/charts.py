"""Chart data for the dashboard: plain plotly figure dicts, rendered by static/js/charts.js."""

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from quotas.models import OADailyStats


def messages_per_day_figure(days: int = 30) -> dict:
    """Messages sent per Vietnam day over the last `days` days, all OAs together."""
    today = timezone.localdate()
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
