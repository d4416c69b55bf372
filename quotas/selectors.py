"""Read models of the quality pages: the overview, an OA's next review, forecast and level history,
and today's daily marketing share (also read by the campaign builder's pre-flight quota plan).

Read-only (a GET never writes): an OA without a quota state is left out of the overview and has
no forecast; its pages show that instead of creating the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Sum

from oas.models import OfficialAccount
from quotas import rules
from quotas.models import DailyQuotaUsage, LevelChange, OADailyStats, OAQuotaState, QualityAlert
from quotas.services.policies import rules_policy
from quotas.services.state import limit_on, quota_state
from zalo_admin.lib.dates import today_in_vietnam


def next_review_day(state: OAQuotaState, policy: rules.Policy, today: date) -> date | None:
    """The next day a review runs (tomorrow at the earliest); None before the first send."""
    start = state.pending_from_day or state.review_clock_start
    if start is None:
        return None
    first = date.fromordinal(rules.next_review_day(policy, start.toordinal()))
    return max(first, today + timedelta(days=1))


@dataclass(frozen=True)
class MarketingShare:
    """Today's daily marketing share of an OA (quota-rules.md, "Daily marketing share").

    `allowance` is the day's marketing (tag 3) allowance at the limit in force now (⌊share × limit⌋,
    or the unrestricted cap), None when the OA's policy has no such rule; `used` the marketing sends
    reserved today (released ones given back); `remaining` what is left, None without a rule.
    `marketing_allowed` is False where the level may not send tag 3 at all.
    """

    day: date
    limit: int | None
    share: Decimal | None
    unrestricted_cap: int | None
    allowance: int | None
    used: int
    remaining: int | None
    marketing_allowed: bool

    @property
    def applies(self) -> bool:
        return self.allowance is not None

    @property
    def share_percent(self) -> Decimal | None:
        return None if self.share is None else self.share * 100


def _marketing_share(state: OAQuotaState, policy: rules.Policy, day: date, used: int) -> MarketingShare:
    limit = limit_on(state, day)
    allowance = rules.daily_marketing_allowance(policy, limit)
    return MarketingShare(
        day=day,
        limit=limit,
        share=policy.marketing_daily_share,
        unrestricted_cap=policy.marketing_daily_cap_unrestricted,
        allowance=allowance,
        used=used,
        remaining=rules.daily_marketing_share_room(policy, limit, used),
        marketing_allowed=rules.can_send_tag(policy, limit, rules.MARKETING_TAG),
    )


def marketing_share_today(oa_id: int, today: date | None = None) -> MarketingShare:
    """The OA's daily marketing share for `today` (default: the current Vietnam day); read-only.

    Raises `OAQuotaState.DoesNotExist` for an OA without a quota state (never created here).
    """
    today = today or today_in_vietnam()
    state = quota_state(oa_id)
    used = (
        DailyQuotaUsage.objects.filter(oa_id=oa_id, day=today)
        .values_list("marketing_reserved", flat=True)
        .first()
    )
    return _marketing_share(state, rules_policy(state.policy), today, used or 0)


def remaining_marketing_share_today(oa_id: int, today: date | None = None) -> int | None:
    """Marketing (tag 3) messages the OA may still reserve today by the daily share; None = no share
    rule for its policy (0 where its level may not send marketing at all)."""
    share = marketing_share_today(oa_id, today)
    if not share.marketing_allowed:
        return 0
    return share.remaining


@dataclass
class OAOverview:
    oa: OfficialAccount
    state: OAQuotaState
    limit: int | None
    sent_today: int
    bad_reports_today: int
    quality_7d: rules.Tier
    next_review: date | None
    open_alerts: int
    marketing_share: MarketingShare


def quality_overview(today: date | None = None) -> list[OAOverview]:
    """One row per OA with a quota state for the quality page (a fixed number of queries)."""
    today = today or today_in_vietnam()
    states = OAQuotaState.objects.select_related("oa", "policy").order_by("oa__name")
    today_rows = {
        row["oa_id"]: row
        for row in OADailyStats.objects.filter(day=today).values("oa_id", "sent", "bad_reports")
    }
    window_rows = {
        row["oa_id"]: rules.DayTotals(row["sent"], row["bad"])
        for row in OADailyStats.objects.filter(day__gte=today - timedelta(days=7), day__lt=today)
        .values("oa_id")
        .order_by()
        .annotate(sent=Sum("sent"), bad=Sum("bad_reports"))
    }
    marketing_used = dict(
        DailyQuotaUsage.objects.filter(day=today).values_list("oa_id", "marketing_reserved")
    )
    alerts = dict(
        QualityAlert.objects.filter(resolved_at__isnull=True)
        .values("oa_id")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("oa_id", "n")
    )
    rows = []
    for state in states:
        policy = rules_policy(state.policy)
        today_row = today_rows.get(state.oa_id, {})
        rows.append(
            OAOverview(
                oa=state.oa,
                state=state,
                limit=limit_on(state, today),
                sent_today=today_row.get("sent", 0),
                bad_reports_today=today_row.get("bad_reports", 0),
                quality_7d=rules.quality_tier(policy, window_rows.get(state.oa_id, rules.DayTotals())),
                next_review=next_review_day(state, policy, today),
                open_alerts=alerts.get(state.oa_id, 0),
                marketing_share=_marketing_share(state, policy, today, marketing_used.get(state.oa_id, 0)),
            )
        )
    return rows


@dataclass
class ForecastDay:
    day: date
    limit: int | None
    sent: int
    review: str | None
    violation: bool


@dataclass
class LevelForecast:
    days: list[ForecastDay]
    next_upgrade_day: date | None
    next_upgrade_limit: int | None
    daily_volume_for_upgrade: int | None  # even daily volume that earns the next upgrade at today's limit
    bad_report_rate: Decimal


def forecast_level(
    oa_id: int,
    planned_daily_volume: int,
    days: int = 30,
    bad_report_rate: Decimal | None = None,
    today: date | None = None,
) -> LevelForecast:
    """The OA's projected limit day by day from tomorrow, sending `planned_daily_volume` every day.

    The bad-report rate defaults to the OA's rate over the last review window. Uses `rules.forecast`.
    """
    if planned_daily_volume < 0 or days < 1:
        raise ValueError("planned volume must not be negative and days must be at least 1")
    today = today or today_in_vietnam()
    state = quota_state(oa_id)
    policy = rules_policy(state.policy)
    tomorrow = today + timedelta(days=1)
    history_rows = {
        row.day: rules.DayTotals(row.sent, row.bad_reports)
        for row in OADailyStats.objects.filter(
            oa_id=oa_id, day__gte=tomorrow - timedelta(days=policy.review_window_days), day__lte=today
        )
    }
    history = [
        history_rows.get(tomorrow - timedelta(days=back), rules.DayTotals())
        for back in range(policy.review_window_days, 0, -1)
    ]
    if bad_report_rate is None:
        window = rules.window_totals(history)
        bad_report_rate = Decimal(window.bad_reports) / window.sent if window.sent else Decimal(0)
    clock = state.pending_from_day or state.review_clock_start
    result = rules.forecast(
        policy,
        limit=limit_on(state, tomorrow),
        review_clock_start=(clock - tomorrow).days + 1 if clock else None,
        history=history,
        planned_daily_volume=planned_daily_volume,
        bad_report_rate=bad_report_rate,
        days=days,
    )
    projected = [
        ForecastDay(
            day=tomorrow + timedelta(days=d.day - 1),
            limit=d.limit,
            sent=d.sent,
            review=d.review.value if d.review else None,
            violation=d.violation_hour is not None,
        )
        for d in result.days
    ]
    upgrade = next(
        (
            d
            for previous, d in zip(projected, projected[1:], strict=False)
            if _rank(policy, d.limit) > _rank(policy, previous.limit)
        ),
        None,
    )
    return LevelForecast(
        days=projected,
        next_upgrade_day=upgrade.day if upgrade else None,
        next_upgrade_limit=upgrade.limit if upgrade else None,
        daily_volume_for_upgrade=rules.daily_volume_for_upgrade(policy, limit_on(state, tomorrow)),
        bad_report_rate=bad_report_rate,
    )


def _rank(policy: rules.Policy, limit: int | None) -> int:
    return policy.levels.index(limit)


def level_history(oa_id: int) -> list[LevelChange]:
    """The OA's last 100 level changes, newest first."""
    return list(LevelChange.objects.filter(oa_id=oa_id).select_related("changed_by")[:100])
