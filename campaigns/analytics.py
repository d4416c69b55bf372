"""Campaign analytics (issue 14): the funnel, delivery latency, sends and bad reports per hour, and
bad-report attribution by campaign, template, audience source and send hour, for one campaign and
for one OA. Read-only, from the rollups only (campaigns.analytics_rollups, quotas' campaign hourly
stats): a fixed number of small queries per page, never the message table.

Each figure is a plotly dict with its accessible table (`zalo_admin.lib.figures`); times are
Vietnam time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext as _

from campaigns.analytics_rollups import LATENCY_BUCKETS, UNKNOWN_SOURCE
from campaigns.models import (
    Campaign,
    CampaignAudienceSource,
    CampaignDispatch,
    CampaignLatencyCount,
    CampaignMessage,
    CampaignSourceStats,
    CampaignStateCount,
    PreflightRun,
)
from quotas.models import CampaignHourlyStats
from zalo_admin.lib import figures
from zalo_admin.lib.dates import today_in_vietnam

S = CampaignMessage.State
# An hourly chart spans at most this many hours (a campaign that ran for weeks shows its hours
# with traffic only).
MAX_CONTINUOUS_HOURS = 14 * 24
ATTRIBUTION_DAYS = (7, 30, 90)


def rate(bad: int, sent: int) -> Decimal | None:
    """Bad reports per message sent, in per cent (2 decimals); None when nothing was sent."""
    if not sent:
        return None
    return (Decimal(100) * bad / sent).quantize(Decimal("0.01"))


# --- the funnel -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    count: int | None
    help: str


def funnel(campaign: Campaign) -> list[Stage]:
    """Targeted → eligible → sent → delivered, with the side exits (failed, unconfirmed, failed
    over, expired), what is still waiting, and the bad reports (4 queries)."""
    dispatch = CampaignDispatch.objects.filter(campaign_id=campaign.pk).first()
    preflight = PreflightRun.objects.filter(campaign_id=campaign.pk)
    if dispatch is not None:
        preflight = preflight.filter(ran_at__lte=dispatch.started_at)
    targeted = preflight.order_by("-ran_at", "-id").values_list("audience", flat=True).first()
    states = dict(CampaignStateCount.objects.filter(campaign_id=campaign.pk).values_list("state", "count"))
    totals = CampaignSourceStats.objects.filter(campaign_id=campaign.pk).aggregate(
        sent=Sum("sent", default=0), bad=Sum("bad_reports", default=0)
    )
    eligible = dispatch.recipients if dispatch is not None else None
    waiting = sum(states.get(state, 0) for state in (S.QUEUED, S.CLAIMED, S.SENDING))
    return [
        Stage(
            "targeted",
            _("Targeted"),
            targeted,
            _("Contacts in the lists and segments at the last pre-flight"),
        ),
        Stage(
            "eligible", _("Eligible"), eligible, _("Recipients who passed every rule: one message row each")
        ),
        Stage("sent", _("Sent"), totals["sent"], _("Accepted by the provider")),
        Stage(
            "delivered", _("Delivered"), states.get(S.DELIVERED, 0), _("Reported as received on the phone")
        ),
        Stage("failed", _("Failed"), states.get(S.FAILED, 0), _("Refused by the provider or not delivered")),
        Stage(
            "unconfirmed",
            _("Unconfirmed"),
            states.get(S.UNCONFIRMED, 0),
            _("The provider's answer was lost: never re-sent automatically"),
        ),
        Stage("bad_reports", _("Bad reports"), totals["bad"], _("Recipients who reported the message")),
        Stage(
            "failed_over", _("Failed over to SMS"), states.get(S.FAILED_OVER, 0), _("Sent as an SMS instead")
        ),
        Stage("expired", _("Expired"), states.get(S.EXPIRED, 0), _("Validity period passed before sending")),
        Stage("waiting", _("Not sent yet"), waiting, _("Queued or being sent now")),
    ]


def funnel_figure(stages: list[Stage]) -> dict:
    main = [stage for stage in stages if stage.key in ("targeted", "eligible", "sent", "delivered")]
    main = [stage for stage in main if stage.count is not None]
    labels = [stage.label for stage in main]
    values = [stage.count for stage in main]
    return {
        "empty": not any(values),
        "data": [
            {
                "type": "funnel",
                "y": labels,
                "x": values,
                "textinfo": "value+percent initial",
                "marker": {"color": figures.COLORS["sent"]},
                "hovertemplate": _("%{y}: %{x:,} (%{percentInitial:.1%} of the first step)")
                + "<extra></extra>",
            }
        ],
        "layout": figures.base_layout(x_title="", y_title="", margin={"l": 110}, hovermode="closest"),
        "table": figures.table(
            [_("Step"), _("Messages"), _("What it counts")], [(s.label, s.count, s.help) for s in stages]
        ),
    }


# --- latency ----------------------------------------------------------------------------------------


def _seconds_label(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return _("%(n)s s") % {"n": seconds}
    if seconds < 3600:
        return _("%(n)s min") % {"n": seconds // 60}
    return _("%(n)s h") % {"n": seconds // 3600}


def latency_labels() -> list[str]:
    labels = []
    previous = None
    for bound in LATENCY_BUCKETS:
        if bound is None:
            labels.append(_("over %(bound)s") % {"bound": _seconds_label(previous)})
        elif previous is None:
            labels.append(_("up to %(bound)s") % {"bound": _seconds_label(bound)})
        else:
            labels.append(
                _("%(low)s to %(high)s") % {"low": _seconds_label(previous), "high": _seconds_label(bound)}
            )
        previous = bound
    return labels


def latency_figure(campaign_id: int) -> dict:
    """Delivered messages by the time from sending to the delivery report (1 query)."""
    counts = dict(CampaignLatencyCount.objects.filter(campaign_id=campaign_id).values_list("bucket", "count"))
    labels = latency_labels()
    values = [max(0, counts.get(index, 0)) for index in range(len(LATENCY_BUCKETS))]
    total = sum(values)
    shares = [rate(v, total) for v in values]
    return {
        "empty": not total,
        "data": [
            {
                "type": "bar",
                "name": _("Delivered"),
                "x": labels,
                "y": values,
                "marker": {"color": figures.COLORS["ok"]},
                "hovertemplate": _("%{y:,} messages reached the phone %{x} after sending")
                + "<extra></extra>",
            }
        ],
        "layout": figures.base_layout(x_title=_("Time from sending to delivery"), y_title=_("Messages")),
        "table": figures.table(
            [_("Time from sending to delivery"), _("Delivered"), _("Share (%)")],
            zip(labels, values, shares, strict=True),
        ),
    }


# --- per hour ---------------------------------------------------------------------------------------


def hourly_figure(campaign_id: int) -> dict:
    """Messages sent and bad reports received per Vietnam hour (1 query)."""
    rows = list(
        CampaignHourlyStats.objects.filter(campaign_id=campaign_id)
        .order_by("day", "hour")
        .values_list("day", "hour", "sent", "bad_reports")
    )
    by_hour = {(day, hour): (sent, bad) for day, hour, sent, bad in rows}
    keys = list(by_hour)
    if rows:
        first, last = rows[0], rows[-1]
        span = (last[0] - first[0]).days * 24 + last[1] - first[1] + 1
        if span <= MAX_CONTINUOUS_HOURS:
            keys = []
            for step in range(span):
                moment = first[1] + step
                keys.append((first[0] + timedelta(days=moment // 24), moment % 24))
    # Categories, not a date axis: one bar per Vietnam hour, labelled as people read it.
    x = [f"{day:%d/%m} {hour:02d}:00" for day, hour in keys]
    iso = [f"{day.isoformat()} {hour:02d}:00" for day, hour in keys]
    sent = [by_hour.get(key, (0, 0))[0] for key in keys]
    bad = [by_hour.get(key, (0, 0))[1] for key in keys]
    return {
        "empty": not any(sent) and not any(bad),
        "data": [
            {
                "type": "bar",
                "name": _("Sent"),
                "x": x,
                "y": sent,
                "marker": {"color": figures.COLORS["sent"]},
                "hovertemplate": _("%{y:,} messages sent in this hour") + "<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Bad reports"),
                "x": x,
                "y": bad,
                "yaxis": "y2",
                "line": {"color": figures.COLORS["bad"]},
                "hovertemplate": _("%{y:,} bad reports received in this hour") + "<extra></extra>",
            },
        ],
        "layout": figures.base_layout(
            x_title=_("Hour (Vietnam time)"),
            y_title=_("Messages sent"),
            xaxis={"type": "category"},
            yaxis2=_count_axis(_("Bad reports"), max(bad, default=0)),
            margin={"r": 56},
        ),
        "table": figures.table(
            [_("Hour (Vietnam time)"), _("Sent"), _("Bad reports")], zip(iso, sent, bad, strict=True)
        ),
    }


def _count_axis(title: str, highest: int) -> dict:
    """A right-hand axis of whole counts (no 0.276 bad reports on a small scale)."""
    return {
        "title": {"text": title},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "tickformat": ",d",
        "dtick": max(1, -(-highest // 5)),
    }


# --- attribution --------------------------------------------------------------------------------------


@dataclass
class AttributionRow:
    label: str
    detail: str
    sent: int
    bad_reports: int
    url: str = ""
    recipients: int | None = None
    share_of_bad: Decimal | None = None  # of the total bad reports, in per cent

    @property
    def rate(self) -> Decimal | None:
        return rate(self.bad_reports, self.sent)


def _finish(rows: list[AttributionRow]) -> list[AttributionRow]:
    """Worst first: most bad reports, then the highest rate; each with its share of the bad reports."""
    total_bad = sum(row.bad_reports for row in rows)
    for row in rows:
        row.share_of_bad = rate(row.bad_reports, total_bad)
    return sorted(rows, key=lambda r: (-r.bad_reports, -(r.rate or 0), -r.sent, r.label))


def source_label(source: CampaignAudienceSource | None) -> tuple[str, str]:
    """(what, detail) of an audience source for a table row."""
    if source is None:
        return _("Unknown source"), _("Messages written before sources were recorded")
    if source.kind == CampaignAudienceSource.Kind.SEGMENT:
        return _("Segment: %(name)s") % {"name": source.segment_name}, ""
    detail = (
        _("import file %(file)s") % {"file": source.import_name}
        if source.import_name
        else _("members added by hand or from a pasted list")
    )
    return _("List: %(name)s") % {"name": source.list_name}, detail


def _source_identity(source: CampaignAudienceSource | None) -> tuple:
    """Sources of different campaigns that are the same list + file, or the same segment."""
    if source is None:
        return ("unknown",)
    if source.kind == CampaignAudienceSource.Kind.SEGMENT:
        return ("segment", source.segment_id or f"name:{source.segment_name}")
    return ("list", source.contact_list_id or f"name:{source.list_name}", source.contact_import_id or 0)


def _by_source(stats, with_recipients: bool) -> list[AttributionRow]:
    sums = list(stats.values("source_key").order_by().annotate(sent=Sum("sent"), bad=Sum("bad_reports")))
    ids = [row["source_key"] for row in sums if row["source_key"] != UNKNOWN_SOURCE]
    sources = {s.pk: s for s in CampaignAudienceSource.objects.filter(pk__in=ids)}
    grouped: dict[tuple, AttributionRow] = {}
    for row in sums:
        source = sources.get(row["source_key"])
        identity = _source_identity(source)
        if identity not in grouped:
            label, detail = source_label(source)
            grouped[identity] = AttributionRow(label, detail, 0, 0, recipients=0 if with_recipients else None)
        grouped[identity].sent += row["sent"]
        grouped[identity].bad_reports += row["bad"]
        if with_recipients and source is not None:
            grouped[identity].recipients += source.recipients
    return _finish(list(grouped.values()))


def _by_send_hour(stats) -> list[AttributionRow]:
    sums = {
        row["hour"]: row
        for row in stats.values("hour").order_by().annotate(sent=Sum("sent"), bad=Sum("bad_reports"))
    }
    return [
        AttributionRow(
            f"{hour:02d}:00–{hour:02d}:59",
            "",
            sums.get(hour, {}).get("sent", 0),
            sums.get(hour, {}).get("bad", 0),
        )
        for hour in range(24)
    ]


def send_hour_figure(rows: list[AttributionRow]) -> dict:
    """Sent per hour of the day (bars) and the bad-report rate of what was sent then (line)."""
    x = [row.label[:5] for row in rows]
    sent = [row.sent for row in rows]
    rates = [float(row.rate) if row.rate is not None else None for row in rows]
    return {
        "empty": not any(sent),
        "data": [
            {
                "type": "bar",
                "name": _("Sent"),
                "x": x,
                "y": sent,
                "marker": {"color": figures.COLORS["sent"]},
                "hovertemplate": _("%{y:,} messages sent at %{x}") + "<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Bad-report rate (%)"),
                "x": x,
                "y": rates,
                "yaxis": "y2",
                "connectgaps": False,
                "line": {"color": figures.COLORS["bad"]},
                "hovertemplate": _("%{y:.2f} % of the messages sent at %{x} were reported")
                + "<extra></extra>",
            },
        ],
        "layout": figures.base_layout(
            x_title=_("Hour of sending (Vietnam time)"),
            y_title=_("Messages sent"),
            xaxis={"type": "category"},
            yaxis2={
                "title": {"text": _("Bad-report rate (%)")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "ticksuffix": " %",
                "tickformat": ".2~f",
            },
            margin={"r": 56},
        ),
        "table": figures.table(
            [_("Hour of sending (Vietnam time)"), _("Sent"), _("Bad reports"), _("Rate (%)")],
            [(r.label, r.sent, r.bad_reports, r.rate) for r in rows],
        ),
    }


def attribution_table(rows: list[AttributionRow], first_column: str, with_recipients: bool = False) -> dict:
    columns = [first_column, _("Detail")]
    if with_recipients:
        columns.append(_("Recipients"))
    columns += [_("Sent"), _("Bad reports"), _("Rate (%)"), _("Share of the bad reports (%)")]
    cells = []
    for row in rows:
        line = [row.label, row.detail or None]
        if with_recipients:
            line.append(row.recipients)
        line += [row.sent, row.bad_reports, row.rate, row.share_of_bad]
        cells.append(line)
    return figures.table(columns, cells)


def bad_reports_bar_figure(rows: list[AttributionRow], title: str) -> dict:
    """Horizontal bars: bad reports per row (the ten worst)."""
    top = [row for row in rows if row.bad_reports][:10][::-1]
    return {
        "empty": not top,
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": _("Bad reports"),
                "y": [row.label for row in top],
                "x": [row.bad_reports for row in top],
                "customdata": [[str(row.rate or 0), row.sent] for row in top],
                "marker": {"color": figures.COLORS["bad"]},
                "hovertemplate": _("%{y}: %{x:,} bad reports on %{customdata[1]:,} sent (%{customdata[0]} %)")
                + "<extra></extra>",
            }
        ],
        "layout": figures.base_layout(
            x_title=_("Bad reports"),
            bargap=0.45,
            y_title="",
            margin={"l": 160},
            hovermode="closest",
            yaxis={"automargin": True},
        ),
        "table": attribution_table(rows, title),
    }


@dataclass
class CampaignAnalytics:
    stages: list[Stage]
    funnel_chart: dict
    latency_chart: dict
    hourly_chart: dict
    sources: list[AttributionRow]
    sources_table: dict
    send_hours: list[AttributionRow]
    send_hour_chart: dict


def campaign_analytics(campaign: Campaign) -> CampaignAnalytics:
    """Everything the campaign's analytics page shows (9 queries)."""
    stages = funnel(campaign)
    stats = CampaignSourceStats.objects.filter(campaign_id=campaign.pk)
    sources = _by_source(stats, with_recipients=True)
    send_hours = _by_send_hour(stats)
    return CampaignAnalytics(
        stages=stages,
        funnel_chart=funnel_figure(stages),
        latency_chart=latency_figure(campaign.pk),
        hourly_chart=hourly_figure(campaign.pk),
        sources=sources,
        sources_table=attribution_table(sources, _("Audience source"), with_recipients=True),
        send_hours=send_hours,
        send_hour_chart=send_hour_figure(send_hours),
    )


@dataclass
class OAAttribution:
    days: int
    first_day: date
    last_day: date
    sent: int
    bad_reports: int
    campaigns: list[AttributionRow]
    campaigns_chart: dict
    templates: list[AttributionRow]
    templates_table: dict
    sources: list[AttributionRow]
    sources_chart: dict
    send_hours: list[AttributionRow]
    send_hour_chart: dict

    @property
    def rate(self) -> Decimal | None:
        return rate(self.bad_reports, self.sent)


def oa_attribution(oa_id: int, days: int = 7, today: date | None = None, campaign_url=None) -> OAAttribution:
    """Which campaigns, templates, audience sources and send hours brought the OA's bad reports, over
    the messages it sent in the last `days` Vietnam days (bad reports counted with the message they
    are about; 6 queries). `campaign_url(id)` links each campaign row."""
    today = today or today_in_vietnam()
    first_day = today - timedelta(days=days - 1)
    stats = CampaignSourceStats.objects.filter(oa_id=oa_id, day__gte=first_day, day__lte=today)
    per_campaign = list(
        stats.values("campaign_id").order_by().annotate(sent=Sum("sent"), bad=Sum("bad_reports"))
    )
    campaigns = {
        c.pk: c
        for c in Campaign.objects.filter(pk__in=[row["campaign_id"] for row in per_campaign]).select_related(
            "template"
        )
    }
    campaign_rows = []
    template_rows: dict[int, AttributionRow] = {}
    for row in per_campaign:
        campaign = campaigns[row["campaign_id"]]
        campaign_rows.append(
            AttributionRow(
                campaign.name,
                campaign.template.name,
                row["sent"],
                row["bad"],
                url=campaign_url(campaign.pk) if campaign_url else "",
            )
        )
        template = template_rows.setdefault(
            campaign.template_id, AttributionRow(campaign.template.name, campaign.template.template_id, 0, 0)
        )
        template.sent += row["sent"]
        template.bad_reports += row["bad"]
    campaign_rows = _finish(campaign_rows)
    templates = _finish(list(template_rows.values()))
    sources = _by_source(stats, with_recipients=False)
    send_hours = _by_send_hour(stats)
    return OAAttribution(
        days=days,
        first_day=first_day,
        last_day=today,
        sent=sum(row.sent for row in campaign_rows),
        bad_reports=sum(row.bad_reports for row in campaign_rows),
        campaigns=campaign_rows,
        campaigns_chart=bad_reports_bar_figure(campaign_rows, _("Campaign")),
        templates=templates,
        templates_table=attribution_table(templates, _("Template")),
        sources=sources,
        sources_chart=bad_reports_bar_figure(sources, _("Audience source")),
        send_hours=send_hours,
        send_hour_chart=send_hour_figure(send_hours),
    )
