"""Chart data for the dashboard: plain plotly figure dicts, rendered by static/js/charts.js."""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.db.models import Sum
from django.utils import formats
from django.utils.translation import gettext as _

from quotas import rules, selectors
from quotas.models import (
    DailyQuotaUsage,
    LevelChange,
    OADailyStats,
    OAHourlyStats,
    OAQuotaState,
    RecipientMarketingUsage,
)
from quotas.services.policies import rules_policy
from quotas.services.state import limit_on, quota_state
from zalo_admin.lib import figures
from zalo_admin.lib.dates import today_in_vietnam, vietnam_day, vietnam_hour


def messages_per_day_figure(days: int = 30, stats=None) -> dict:
    """Messages sent per Vietnam day over the last `days` days, all OAs of `stats` (a queryset of
    OADailyStats, by default every OA's; the home page passes the user's teams') together."""
    today = today_in_vietnam()
    start = today - timedelta(days=days - 1)
    stats = OADailyStats.objects.all() if stats is None else stats
    rows = (
        stats.filter(day__gte=start, day__lte=today)
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


# --- One OA's quality page: read from the rollups only, never the message table ----------------

TIER_ORDER = (rules.Tier.UNDEFINED, rules.Tier.LOW, rules.Tier.MEDIUM, rules.Tier.HIGH)
TIER_COLORS = {
    rules.Tier.HIGH: figures.COLORS["ok"],
    rules.Tier.MEDIUM: figures.COLORS["warn"],
    rules.Tier.LOW: figures.COLORS["danger"],
    rules.Tier.UNDEFINED: figures.COLORS["muted"],
}
REASON_SYMBOLS = {
    LevelChange.Reason.REVIEW_UPGRADE: "triangle-up",
    LevelChange.Reason.REVIEW_DOWNGRADE: "triangle-down",
    LevelChange.Reason.VIOLATION: "x",
    LevelChange.Reason.MANUAL: "diamond",
}


def tier_short_label(tier: rules.Tier) -> str:
    """The tier's name on a chart axis."""
    return {
        rules.Tier.HIGH: _("High"),
        rules.Tier.MEDIUM: _("Medium"),
        rules.Tier.LOW: _("Low"),
        rules.Tier.UNDEFINED: _("Undefined"),
    }[rules.Tier(tier)]


def tier_label(tier: rules.Tier) -> str:
    return {
        rules.Tier.HIGH: _("High"),
        rules.Tier.MEDIUM: _("Medium"),
        rules.Tier.LOW: _("Low"),
        rules.Tier.UNDEFINED: _("Undefined (nothing sent)"),
    }[rules.Tier(tier)]


def limit_label(limit: int | None) -> str:
    return _("Unrestricted") if limit is None else number(limit)


def number(value, decimals: int | None = None) -> str:
    """A number grouped the reader's way (20.000 in Vietnamese, 20,000 in English)."""
    if decimals is None and type(value) is int and -1000 < value < 1000:
        return str(value)  # (nothing to group: number_format's three format lookups skipped)
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


def _day(day: date) -> str:
    return f"{day:%d/%m}"


def _rate(totals: rules.DayTotals) -> float | None:
    return round(100 * totals.bad_reports / totals.sent, 4) if totals.sent else None


def _count(value) -> str:
    """A threshold in bad reports: 400, or 7.5 when it is not whole."""
    value = round(float(value), 2)
    return number(int(value)) if value.is_integer() else number(value)


def _percent(value) -> str:
    """A rate in per cent with at most 3 decimals (0.1 %, 0.025 %)."""
    return "—" if value is None else number(round(float(value), 3)) + " %"


@dataclass(frozen=True)
class ReviewProjection:
    """What the next review will look at and decide if nothing more is sent before it."""

    day: date
    window_first: date
    window_last: date
    limit: int | None  # the limit the review judges
    window: rules.DayTotals  # sent and bad reports of its window known so far
    tier: rules.Tier
    decision: rules.Review  # with the window as it stands
    new_limit: int | None
    upgrade_limit: int | None  # the next level up; None at the top
    needed_for_upgrade: int | None  # more successful sends the upgrade needs; None at the top
    upgrade_sent: int | None  # the window's sends an upgrade needs (multiplier × limit); None at the top
    upgrade_bad_reports: int | None  # bad reports the window may hold in all and stay HIGH at that volume


@dataclass(frozen=True)
class MarketingQuota:
    """The OA's monthly marketing quota (ZNS), how it was computed, and what is left of it."""

    month: date
    months: list[tuple[date, int]]  # previous months and their tag 1 + tag 2 sends
    transactional: int
    divisor: int
    base: int  # ⌊transactional / divisor⌋
    bonus: int  # the first-marketing-month bonus when it applies, else 0
    bonus_applies: bool
    quota: int
    used: int
    remaining: int


@dataclass
class OAQuality:
    """Everything the quality page of one OA draws, read in a fixed handful of queries."""

    state: OAQuotaState
    policy: rules.Policy
    today: date
    hour_now: int
    limit: int | None
    days: list[date]  # the review window's days, ending today
    daily: dict[date, rules.DayTotals]  # two windows of days, ending today
    changes: list[LevelChange]  # oldest first
    hourly_bad: list[int]  # today's bad reports, hours 0–23
    reserved_today: int
    marketing_by_day: dict[date, int]  # this month's marketing reservations
    recipient_totals: list[tuple[int, int]]  # (marketing messages this month, recipients)
    review: ReviewProjection | None = None
    marketing_quota: MarketingQuota | None = None
    charts: dict = field(default_factory=dict)

    @property
    def bad_reports_today(self) -> int:
        return self.totals(self.today).bad_reports

    @property
    def remaining_today(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.reserved_today)

    def totals(self, day: date) -> rules.DayTotals:
        return self.daily.get(day, rules.DayTotals())

    def window_before(self, day: date) -> rules.DayTotals:
        """The `review_window_days` complete days before `day` (its quality_7d window)."""
        size = self.policy.review_window_days
        return rules.window_totals([self.totals(day - timedelta(days=back)) for back in range(1, size + 1)])

    def window_up_to(self, day: date) -> rules.DayTotals:
        """The `review_window_days` days ending with `day` (what the next day's review reads)."""
        return self.window_before(day + timedelta(days=1))

    def limit_on(self, day: date) -> int | None:
        """The limit in force on `day` (at its end), from the level history; today from the state."""
        if day >= self.today:
            return limit_on(self.state, day)
        before = [change for change in self.changes if change.effective_day <= day]
        if before:
            return before[-1].new_limit
        after = [change for change in self.changes if change.effective_day > day]
        return after[0].old_limit if after else self.state.current_limit


def _recipient_totals(oa_id: int, month_start: date, next_month: date) -> list[tuple[int, int]]:
    """How many recipients got 1, 2, 3… marketing messages this month (one grouped query)."""
    table = connection.ops.quote_name(RecipientMarketingUsage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT n, COUNT(*) FROM (SELECT SUM(count) AS n FROM {table} "  # noqa: S608
            "WHERE oa_id = %s AND day >= %s AND day < %s GROUP BY recipient) AS per_recipient "
            "WHERE n > 0 GROUP BY n ORDER BY n",
            [oa_id, month_start, next_month],
        )
        return [(int(n), int(recipients)) for n, recipients in cursor.fetchall()]


def load_oa_quality(oa_id: int, now: datetime | None = None, state: OAQuotaState | None = None) -> OAQuality:
    """The OA's quality data from its rollups, with every figure of its page in `charts`; `state`:
    the OA's quota state with its policy when the caller has it already.

    Raises `OAQuotaState.DoesNotExist` for an OA without a quota state (never created here).
    """
    now = now or datetime.now(UTC)
    today = vietnam_day(now)
    state = state if state is not None else quota_state(oa_id)
    policy = rules_policy(state.policy)
    size = policy.review_window_days
    first = today - timedelta(days=2 * size - 1)
    daily = {
        row["day"]: rules.DayTotals(row["sent"], row["bad_reports"])
        for row in OADailyStats.objects.filter(oa_id=oa_id, day__gte=first, day__lte=today).values(
            "day", "sent", "bad_reports"
        )
    }
    hourly_bad = [0] * 24
    for hour, bad in OAHourlyStats.objects.filter(oa_id=oa_id, day=today).values_list("hour", "bad_reports"):
        hourly_bad[hour] = bad
    month_start = rules.month_of(today)
    next_month = rules.month_of(month_start + timedelta(days=32))
    usage = {
        row["day"]: row
        for row in DailyQuotaUsage.objects.filter(
            oa_id=oa_id, day__gte=month_start, day__lt=next_month
        ).values("day", "reserved", "marketing_reserved")
    }
    has_recipient_caps = policy.recipient_marketing_per_day is not None or (
        policy.recipient_marketing_per_month is not None
    )
    data = OAQuality(
        state=state,
        policy=policy,
        today=today,
        hour_now=vietnam_hour(now),
        limit=limit_on(state, today),
        days=[today - timedelta(days=back) for back in range(size - 1, -1, -1)],
        daily=daily,
        changes=list(
            LevelChange.objects.filter(oa_id=oa_id)
            .select_related("changed_by")  # (the page's level history shows who)
            .order_by("effective_day", "created_at", "id")
        ),
        hourly_bad=hourly_bad,
        reserved_today=usage.get(today, {}).get("reserved", 0),
        marketing_by_day={day: row["marketing_reserved"] for day, row in usage.items()},
        recipient_totals=_recipient_totals(oa_id, month_start, next_month) if has_recipient_caps else [],
    )
    data.review = _project_review(data)
    data.marketing_quota = _marketing_quota(data, month_start)
    data.charts = {
        "tier_timeline": tier_timeline_figure(data),
        "bad_report_rate": bad_report_rate_figure(data),
        "bad_reports_today": bad_reports_today_figure(data),
        "sent_vs_limit": sent_vs_limit_figure(data),
    }
    if data.marketing_quota is not None:
        data.charts["marketing_burn_down"] = marketing_burn_down_figure(data)
    if has_recipient_caps:
        data.charts["recipient_caps"] = recipient_caps_figure(data)
    return data


def _project_review(data: OAQuality) -> ReviewProjection | None:
    day = selectors.next_review_day(data.state, data.policy, data.today)
    if day is None:
        return None
    policy = data.policy
    window = data.window_before(day)  # days after today count as zero: nothing more sent
    limit = limit_on(data.state, day)
    outcome = rules.daily_review(policy, limit, window)
    above = None if limit is None else rules.level_above(policy, limit)
    can_rise = limit is not None and above != limit
    upgrade_sent = policy.upgrade_multiplier * limit if can_rise else None
    needed = max(0, upgrade_sent - window.sent) if can_rise else None
    allowed = math.floor(policy.high_max_rate * max(window.sent, upgrade_sent)) if can_rise else None
    return ReviewProjection(
        day=day,
        window_first=day - timedelta(days=policy.review_window_days),
        window_last=day - timedelta(days=1),
        limit=limit,
        window=window,
        tier=outcome.tier,
        decision=outcome.decision,
        new_limit=outcome.new_limit,
        upgrade_limit=above if can_rise else None,
        needed_for_upgrade=needed,
        upgrade_sent=upgrade_sent,
        upgrade_bad_reports=allowed,
    )


def _marketing_quota(data: OAQuality, month_start: date) -> MarketingQuota | None:
    """Computed as the reservation computes it (quotas/services/reservations.py), from the rollups."""
    policy = data.policy
    if policy.marketing_quota_divisor is None:
        return None
    months = rules.previous_months(month_start, policy.marketing_quota_months)
    by_month = dict.fromkeys(months, 0)
    if months:
        rows = OADailyStats.objects.filter(
            oa_id=data.state.oa_id, day__gte=months[0], day__lt=month_start, transactional_sent__gt=0
        ).values_list("day", "transactional_sent")
        for day, sent in rows:
            by_month[rules.month_of(day)] += sent
    transactional = sum(by_month.values())
    quota = rules.monthly_marketing_quota(policy, transactional, data.state.first_marketing_day, month_start)
    base = transactional // policy.marketing_quota_divisor
    used = sum(data.marketing_by_day.values())
    first_marketing = data.state.first_marketing_day
    return MarketingQuota(
        month=month_start,
        months=list(by_month.items()),
        transactional=transactional,
        divisor=policy.marketing_quota_divisor,
        base=base,
        bonus=quota - base,
        bonus_applies=first_marketing is None or rules.month_of(first_marketing) == month_start,
        quota=quota,
        used=used,
        remaining=max(0, quota - used),
    )


def _tier_hover(day: date, window: rules.DayTotals, tier: rules.Tier, size: int) -> str:
    if not window.sent:
        return _("%(day)s: nothing was sent in the %(size)s days before, so the quality is undefined.") % {
            "day": _day(day),
            "size": size,
        }
    return _(
        "%(day)s: quality %(tier)s — %(bad)s bad reports for %(sent)s messages sent in the %(size)s days "
        "before (%(rate)s)."
    ) % {
        "day": _day(day),
        "tier": tier_label(tier),
        "bad": number(window.bad_reports),
        "sent": number(window.sent),
        "size": size,
        "rate": _percent(_rate(window)),
    }


def _change_text(change: LevelChange) -> str:
    text = _("%(reason)s: %(old)s → %(new)s a day") % {
        "reason": change.get_reason_display(),
        "old": limit_label(change.old_limit),
        "new": limit_label(change.new_limit),
    }
    return f"{text} ({change.note})" if change.note else text


def tier_timeline_figure(data: OAQuality) -> dict:
    """The quality tier of each day of the window (its `quality_7d`: the tier of the days before it),
    with every level change of those days marked and explained by its reason."""
    size = data.policy.review_window_days
    windows = [data.window_before(day) for day in data.days]
    tiers = [rules.quality_tier(data.policy, window) for window in windows]
    x = [day.isoformat() for day in data.days]
    changes_by_day: dict[date, list[LevelChange]] = {}
    for change in data.changes:
        if data.days[0] <= change.effective_day <= data.today:
            changes_by_day.setdefault(change.effective_day, []).append(change)
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": _("Quality over the days before"),
            "x": x,
            "y": [tier_short_label(tier) for tier in tiers],
            "line": {"shape": "hv", "color": "#8c959f", "width": 2},
            "marker": {"size": 12, "color": [TIER_COLORS[tier] for tier in tiers]},
            "text": [
                _tier_hover(day, window, tier, size)
                for day, window, tier in zip(data.days, windows, tiers, strict=True)
            ],
            "hovertemplate": "%{text}<extra></extra>",
        }
    ]
    for reason in LevelChange.Reason:
        points = [
            (day, change)
            for day, changes in sorted(changes_by_day.items())
            for change in changes
            if change.reason == reason
        ]
        if not points:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": reason.label,
                "x": [day.isoformat() for day, _change in points],
                "y": [tier_short_label(tiers[data.days.index(day)]) for day, _change in points],
                "marker": {
                    "size": 18,
                    "symbol": REASON_SYMBOLS[reason],
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 2, "color": figures.COLORS["sent"]},
                },
                "text": [f"{_day(day)}: {_change_text(change)}" for day, change in points],
                "hovertemplate": "%{text}<extra></extra>",
            }
        )
    layout = figures.base_layout(
        x_title=_("Day (Vietnam time)"),
        y_title=_("Quality tier"),
        xaxis={"type": "date", "tickformat": "%d/%m", "dtick": 86400000, "hoverformat": "%d/%m/%Y"},
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [tier_short_label(tier) for tier in TIER_ORDER],
            "range": [-0.5, len(TIER_ORDER) - 0.5],
            "rangemode": "normal",
        },
        hovermode="closest",
    )
    rows = []
    for day, window, tier in zip(data.days, windows, tiers, strict=True):
        changes = "; ".join(_change_text(change) for change in changes_by_day.get(day, []))
        rows.append(
            [_day(day), tier_label(tier), window.sent, window.bad_reports, _percent(_rate(window)), changes]
        )
    return {
        "empty": not any(window.sent for window in windows) and not changes_by_day,
        "data": traces,
        "layout": layout,
        "table": figures.table(
            [
                _("Day"),
                _("Quality (%(size)s days before)") % {"size": size},
                _("Sent in those days"),
                _("Bad reports in those days"),
                _("Bad-report rate"),
                _("Level change that day"),
            ],
            rows,
        ),
    }


def _flat_line(name: str, x: list, value: float, color: str, hover: str, **extra) -> dict:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": [value] * len(x),
        "line": {"color": color, "dash": "dot", "width": 2, **extra.pop("line", {})},
        "text": [hover] * len(x),
        "hovertemplate": "%{text}<extra></extra>",
        **extra,
    }


def bad_report_rate_figure(data: OAQuality) -> dict:
    """Each day's bad-report rate (%) against the 0.1 % guideline (HIGH) and the MEDIUM bound."""
    policy = data.policy
    x = [day.isoformat() for day in data.days]
    day_totals = [data.totals(day) for day in data.days]
    rates = [_rate(totals) for totals in day_totals]
    high = float(policy.high_max_rate * 100)
    medium = float(policy.medium_max_rate * 100)
    hover = [
        _("%(day)s: %(bad)s bad reports for %(sent)s messages sent = %(rate)s")
        % {
            "day": _day(day),
            "bad": number(totals.bad_reports),
            "sent": number(totals.sent),
            "rate": _percent(rate),
        }
        if rate is not None
        else _("%(day)s: nothing sent, no rate") % {"day": _day(day)}
        for day, totals, rate in zip(data.days, day_totals, rates, strict=True)
    ]
    top = max([medium * 1.25, *[rate for rate in rates if rate is not None]])
    return {
        "empty": all(rate is None for rate in rates),
        "data": [
            {
                "type": "bar",
                "name": _("Bad-report rate that day"),
                "x": x,
                "y": rates,
                "marker": {
                    "color": [
                        figures.COLORS["muted"]
                        if rate is None
                        else TIER_COLORS[rules.quality_tier(policy, totals)]
                        for rate, totals in zip(rates, day_totals, strict=True)
                    ]
                },
                "text": hover,
                "hovertemplate": "%{text}<extra></extra>",
                "textposition": "none",
            },
            _flat_line(
                _("Guideline: HIGH up to %(rate)s") % {"rate": _percent(high)},
                x,
                high,
                figures.COLORS["ok"],
                _("At or below %(rate)s of messages sent, the quality is HIGH (Zalo's guideline)")
                % {"rate": _percent(high)},
            ),
            _flat_line(
                _("MEDIUM up to %(rate)s; LOW above") % {"rate": _percent(medium)},
                x,
                medium,
                figures.COLORS["danger"],
                _("Above %(rate)s the quality is LOW and the next review lowers the level")
                % {"rate": _percent(medium)},
            ),
        ],
        "layout": figures.base_layout(
            x_title=_("Day (Vietnam time)"),
            y_title=_("Bad reports / sent (%)"),
            xaxis={"type": "date", "tickformat": "%d/%m", "dtick": 86400000, "hoverformat": "%d/%m/%Y"},
            yaxis={"range": [0, top], "ticksuffix": " %"},
            hovermode="closest",
        ),
        "table": figures.table(
            [_("Day"), _("Sent"), _("Bad reports"), _("Bad-report rate"), _("Quality that day")],
            [
                [
                    _day(day),
                    totals.sent,
                    totals.bad_reports,
                    _percent(rate),
                    tier_label(rules.quality_tier(policy, totals)),
                ]
                for day, totals, rate in zip(data.days, day_totals, rates, strict=True)
            ],
        ),
    }


def bad_reports_today_figure(data: OAQuality) -> dict:
    """Today's bad reports hour by hour, and so far today, against the automatic-violation
    threshold (bad reports above `violation_rate` × the limit) and the guardrail line."""
    policy = data.policy
    threshold = float(rules.violation_threshold(policy, data.limit))
    guardrail = float(rules.guardrail_threshold(policy, data.limit, data.state.guardrail_share))
    hours = list(range(24))
    x = [f"{data.today.isoformat()}T{hour:02d}:00" for hour in hours]
    shown = [hour <= data.hour_now for hour in hours]
    so_far, running = [], 0
    for hour in hours:
        running += data.hourly_bad[hour]
        so_far.append(running if shown[hour] else None)
    per_hour = [data.hourly_bad[hour] if shown[hour] else None for hour in hours]
    hover = [
        _("%(hour)s–%(end)s: %(count)s bad reports this hour, %(total)s so far today")
        % {
            "hour": f"{hour:02d}:00",
            "end": f"{hour:02d}:59",
            "count": number(per_hour[hour]),
            "total": number(so_far[hour]),
        }
        if shown[hour]
        else ""
        for hour in hours
    ]
    limit_text = limit_label(data.limit if data.limit is not None else policy.highest_finite_level)
    action = data.state.get_guardrail_action_display()
    return {
        "empty": running == 0,
        "data": [
            {
                "type": "bar",
                "name": _("Bad reports in the hour"),
                "x": x,
                "y": per_hour,
                "marker": {"color": figures.COLORS["muted"]},
                "text": hover,
                "hovertemplate": "%{text}<extra></extra>",
                "textposition": "none",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Bad reports so far today"),
                "x": x,
                "y": so_far,
                "line": {"color": figures.COLORS["bad"], "shape": "hv"},
                "text": hover,
                "hoverinfo": "skip",
            },
            _flat_line(
                _("Automatic violation above %(count)s") % {"count": _count(threshold)},
                x,
                threshold,
                figures.COLORS["danger"],
                _(
                    "More than %(count)s bad reports in one day (%(rate)s of the %(limit)s limit): "
                    "Zalo lowers the level at once"
                )
                % {
                    "count": _count(threshold),
                    "rate": _percent(float(policy.violation_rate * 100)),
                    "limit": limit_text,
                },
                line={"dash": "dash"},
            ),
            _flat_line(
                _("Guardrail at %(count)s") % {"count": _count(guardrail)},
                x,
                guardrail,
                figures.COLORS["warn"],
                _("At %(count)s bad reports today our guardrail acts: %(action)s")
                % {"count": _count(guardrail), "action": action},
            ),
        ],
        "layout": figures.base_layout(
            x_title=_("Hour today (Vietnam time)"),
            y_title=_("Bad reports"),
            xaxis={
                "type": "date",
                "tickformat": "%H:%M",
                "hoverformat": "%H:%M",
                "range": [f"{data.today.isoformat()}T00:00", f"{data.today.isoformat()}T23:59"],
            },
            yaxis={"range": [0, max(threshold * 1.15, running * 1.1, 1)]},
            hovermode="closest",
            bargap=0.15,
        ),
        "table": figures.table(
            [_("Hour (Vietnam time)"), _("Bad reports in the hour"), _("So far today")],
            [[f"{hour:02d}:00", per_hour[hour], so_far[hour]] for hour in hours if shown[hour]],
        ),
    }


def sent_vs_limit_figure(data: OAQuality) -> dict:
    """Sent per day against the limit in force, and the review window's total against what an
    upgrade needs (`upgrade_multiplier` × the limit)."""
    policy = data.policy
    x = [day.isoformat() for day in data.days]
    sent = [data.totals(day).sent for day in data.days]
    limits = [data.limit_on(day) for day in data.days]
    window = [data.window_up_to(day).sent for day in data.days]
    needed = []
    for limit in limits:
        top = limit is None or rules.level_above(policy, limit) == limit
        needed.append(None if top else policy.upgrade_multiplier * limit)
    size = policy.review_window_days
    hover_sent = [
        _("%(day)s: %(sent)s sent, limit %(limit)s")
        % {"day": _day(day), "sent": number(n), "limit": limit_label(limit)}
        for day, n, limit in zip(data.days, sent, limits, strict=True)
    ]
    hover_window = [
        _("%(size)s days up to %(day)s: %(sent)s sent; an upgrade needs %(needed)s")
        % {
            "size": size,
            "day": _day(day),
            "sent": number(total),
            "needed": number(need) if need is not None else _("— (top level)"),
        }
        for day, total, need in zip(data.days, window, needed, strict=True)
    ]
    return {
        "empty": not any(sent),
        "data": [
            {
                "type": "bar",
                "name": _("Sent that day"),
                "x": x,
                "y": sent,
                "marker": {"color": figures.COLORS["sent"]},
                "text": hover_sent,
                "hovertemplate": "%{text}<extra></extra>",
                "textposition": "none",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("Daily limit"),
                "x": x,
                "y": limits,
                "line": {"shape": "hv", "color": figures.COLORS["limit"], "dash": "dash"},
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Sent in the %(size)s days up to the day") % {"size": size},
                "x": x,
                "y": window,
                "line": {"color": "#6639ba"},
                "text": hover_window,
                "hovertemplate": "%{text}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("Needed for an upgrade (%(multiplier)s × limit)")
                % {"multiplier": policy.upgrade_multiplier},
                "x": x,
                "y": needed,
                "line": {"shape": "hv", "color": figures.COLORS["ok"], "dash": "dot"},
                "hoverinfo": "skip",
            },
        ],
        "layout": figures.base_layout(
            x_title=_("Day (Vietnam time)"),
            y_title=_("Messages"),
            xaxis={"type": "date", "tickformat": "%d/%m", "dtick": 86400000, "hoverformat": "%d/%m/%Y"},
            hovermode="closest",
        ),
        "table": figures.table(
            [
                _("Day"),
                _("Sent"),
                _("Daily limit"),
                _("Sent in the %(size)s days up to the day") % {"size": size},
                _("Needed for an upgrade"),
            ],
            [
                [_day(day), n, limit_label(limit), total, need]
                for day, n, limit, total, need in zip(data.days, sent, limits, window, needed, strict=True)
            ],
        ),
    }


def marketing_burn_down_figure(data: OAQuality) -> dict:
    """What is left of the month's marketing quota after each day, and where the month's pace so far
    takes it by the month's end."""
    quota = data.marketing_quota
    month_days = []
    day = quota.month
    while day.month == quota.month.month:
        month_days.append(day)
        day += timedelta(days=1)
    remaining, left = [], quota.quota
    for day in month_days:
        if day <= data.today:
            left -= data.marketing_by_day.get(day, 0)
            remaining.append(max(0, left))
        else:
            remaining.append(None)
    elapsed = (data.today - quota.month).days + 1
    pace = quota.used / elapsed
    projection = [
        max(0.0, round(quota.remaining - pace * (day - data.today).days, 1)) if day >= data.today else None
        for day in month_days
    ]
    x = [day.isoformat() for day in month_days]
    hover = [
        _("%(day)s: %(used)s marketing messages that day, %(left)s left for the month")
        % {
            "day": _day(day),
            "used": number(data.marketing_by_day.get(day, 0)),
            "left": number(left_after),
        }
        if left_after is not None
        else ""
        for day, left_after in zip(month_days, remaining, strict=True)
    ]
    hover_projection = [
        _("%(day)s: about %(left)s left if marketing goes on at %(pace)s a day")
        % {
            "day": _day(day),
            "left": number(round(value)),
            "pace": number(round(pace)),
        }
        if value is not None
        else ""
        for day, value in zip(month_days, projection, strict=True)
    ]
    return {
        "empty": quota.quota == 0 and quota.used == 0,
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Marketing quota left"),
                "x": x,
                "y": remaining,
                "line": {"color": figures.COLORS["sent"]},
                "fill": "tozeroy",
                "fillcolor": "rgba(31,111,235,0.12)",
                "text": hover,
                "hovertemplate": "%{text}<extra></extra>",
                "textposition": "none",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("At this month's pace"),
                "x": x,
                "y": projection,
                "line": {"color": figures.COLORS["muted"], "dash": "dash"},
                "text": hover_projection,
                "hovertemplate": "%{text}<extra></extra>",
            },
        ],
        "layout": figures.base_layout(
            x_title=_("Day (Vietnam time)"),
            y_title=_("Marketing messages left"),
            xaxis={"type": "date", "tickformat": "%d/%m", "hoverformat": "%d/%m/%Y"},
            yaxis={"range": [0, max(quota.quota, 1) * 1.05]},
            hovermode="closest",
        ),
        "table": figures.table(
            [_("Day"), _("Marketing messages"), _("Quota left after the day")],
            [
                [_day(day), data.marketing_by_day.get(day, 0), left_after]
                for day, left_after in zip(month_days, remaining, strict=True)
                if day <= data.today
            ],
        ),
    }


def recipient_caps_figure(data: OAQuality) -> dict:
    """How many recipients got 1, 2, 3… marketing messages from the OA this month, against the
    per-recipient monthly cap (those at the cap get no more marketing this month)."""
    policy = data.policy
    cap = policy.recipient_marketing_per_month
    top = max([cap or 0, *[n for n, _count in data.recipient_totals]])
    counts = dict(data.recipient_totals)
    x = list(range(1, top + 1))
    y = [counts.get(n, 0) for n in x]
    at_cap = [cap is not None and n >= cap for n in x]
    hover = [
        (
            _(
                "%(recipients)s recipients got %(n)s marketing messages this month — "
                "at the cap, no more this month"
            )
            if full
            else _("%(recipients)s recipients got %(n)s marketing messages this month")
        )
        % {"recipients": number(count), "n": n}
        for n, count, full in zip(x, y, at_cap, strict=True)
    ]
    layout = figures.base_layout(
        x_title=_("Marketing messages received this month"),
        y_title=_("Recipients"),
        xaxis={"type": "linear", "dtick": 1 if top <= 12 else None, "range": [0.5, top + 0.5]},
        hovermode="closest",
        bargap=0.1,
    )
    if cap is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "x0": cap + 0.5,
                "x1": cap + 0.5,
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"color": figures.COLORS["danger"], "dash": "dash"},
            }
        ]
        layout["annotations"] = [
            {
                "x": cap + 0.5,
                "y": 1,
                "yref": "paper",
                "text": _("Monthly cap: %(cap)s") % {"cap": cap},
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"color": figures.COLORS["danger"]},
            }
        ]
    return {
        "empty": not any(y),
        "data": [
            {
                "type": "bar",
                "name": _("Recipients"),
                "x": x,
                "y": y,
                "marker": {
                    "color": [figures.COLORS["danger"] if full else figures.COLORS["sent"] for full in at_cap]
                },
                "text": hover,
                "hovertemplate": "%{text}<extra></extra>",
                "textposition": "none",
            }
        ],
        "layout": layout,
        "table": figures.table(
            [_("Marketing messages this month"), _("Recipients"), _("At the monthly cap")],
            [[n, count, _("Yes") if full else ""] for n, count, full in zip(x, y, at_cap, strict=True)],
        ),
    }
