"""The Zalo quota and quality rules as pure functions (see /work/shared/spec/quota-rules.md).

No Django and no database here: the dashboard, the dispatcher, the simulator and the sandbox server
all import this module, so it must run anywhere. Every number comes from a `Policy` value, never
from a literal.

Conventions of the public API:
- A *limit* is an `int` (messages per day) or `None` for unrestricted.
- A *day number* is any consistent integer count of days (`date.toordinal()` in the product,
  1, 2, 3… in the simulator). Days are Vietnam calendar days: `zalo_admin.lib.dates.vietnam_day()`
  turns a moment into one.
- A *month* is the `date` of its first day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "MARKETING_TAG",
    "Policy",
    "Tier",
    "Review",
    "DayTotals",
    "ReviewOutcome",
    "SimulationDay",
    "SimulationResult",
    "month_of",
    "previous_months",
    "quality_tier",
    "window_totals",
    "review_is_due",
    "next_review_day",
    "daily_review",
    "violation_threshold",
    "is_violation",
    "first_violation_hour",
    "guardrail_threshold",
    "guardrail_reached",
    "level_above",
    "level_below",
    "is_in_penalty_zone",
    "effective_limit",
    "successful_sends",
    "can_send_tag",
    "daily_marketing_allowance",
    "daily_marketing_share_room",
    "monthly_marketing_quota",
    "recipient_marketing_allowance",
    "simulate",
    "forecast",
    "daily_volume_for_upgrade",
]

MARKETING_TAG = 3


@dataclass(frozen=True)
class Policy:
    """One version of Zalo's quota rules (a `quotas.Policy` row, converted by `Policy.to_rules()`)."""

    code: str
    levels: tuple[int | None, ...]  # ascending; `None` (unrestricted) may only be the last
    starting_level: int | None
    penalty_zone: int
    marketing_min_level: int | None  # lowest limit that may send tag 3; None = any level
    recipient_marketing_per_day: int | None  # per recipient per OA; None = no cap
    recipient_marketing_per_month: int | None
    marketing_quota_divisor: int | None  # OA monthly marketing quota = tag 1+2 sent / divisor; None = none
    marketing_quota_months: int  # how many previous calendar months the quota looks at
    first_marketing_month_bonus: int
    high_max_rate: Decimal  # bad reports / sent at or below this: HIGH
    medium_max_rate: Decimal  # at or below this: MEDIUM; above: LOW
    review_window_days: int
    wait_days: int  # a change on day C allows the next change to take effect on C + wait_days
    upgrade_multiplier: int
    violation_rate: Decimal  # daily bad reports above this share of the limit: automatic violation
    # Daily marketing share (Zalo's tag 3 notice of 2024-11-01): marketing sent in one day at most this
    # share of the limit in force (rounded down); None = no share rule.
    marketing_daily_share: Decimal | None = None
    # At an unrestricted limit: at most this many marketing messages a day; None = no cap.
    marketing_daily_cap_unrestricted: int | None = None

    def __post_init__(self):
        if not self.levels or None in self.levels[:-1]:
            raise ValueError("levels must be non-empty and only the last may be unrestricted (None)")
        finite = [level for level in self.levels if level is not None]
        if finite != sorted(set(finite)):
            raise ValueError("levels must be strictly ascending")
        if self.starting_level not in self.levels:
            raise ValueError("the starting level must be one of the levels")
        if self.marketing_daily_share is not None and not 0 <= self.marketing_daily_share <= 1:
            raise ValueError("the daily marketing share must be between 0 and 1")
        if self.marketing_daily_cap_unrestricted is not None and self.marketing_daily_cap_unrestricted < 0:
            raise ValueError("the unrestricted daily marketing cap must not be negative")

    @property
    def has_unrestricted_level(self) -> bool:
        return self.levels[-1] is None

    @property
    def highest_finite_level(self) -> int:
        return max(level for level in self.levels if level is not None)


class Tier(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    UNDEFINED = "UNDEFINED"  # nothing sent in the window


class Review(StrEnum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    HOLD = "hold"


@dataclass(frozen=True)
class DayTotals:
    """Successful sends and bad reports of one day (or of a window of days)."""

    sent: int = 0
    bad_reports: int = 0


@dataclass(frozen=True)
class ReviewOutcome:
    decision: Review
    tier: Tier
    new_limit: int | None  # the limit from the next day on (equal to the old one on hold)


# --- months ------------------------------------------------------------------------------------


def month_of(day: date) -> date:
    return day.replace(day=1)


def previous_months(month: date, count: int) -> list[date]:
    """The `count` calendar months before `month`, oldest first."""
    months = []
    current = month_of(month)
    for _ in range(count):
        current = month_of(current - timedelta(days=1))
        months.append(current)
    return months[::-1]


# --- quality and reviews -----------------------------------------------------------------------


def quality_tier(policy: Policy, totals: DayTotals) -> Tier:
    """The tier of a window by its bad-report rate; UNDEFINED when nothing was sent."""
    if totals.sent <= 0:
        return Tier.UNDEFINED
    if totals.bad_reports <= policy.high_max_rate * totals.sent:
        return Tier.HIGH
    if totals.bad_reports <= policy.medium_max_rate * totals.sent:
        return Tier.MEDIUM
    return Tier.LOW


def window_totals(days: Sequence[DayTotals]) -> DayTotals:
    return DayTotals(sum(d.sent for d in days), sum(d.bad_reports for d in days))


def review_is_due(policy: Policy, review_clock_start: int | None, day: int) -> bool:
    """Whether a review runs at 00:00 of `day`: every day from S + wait − 1 on (S = clock start)."""
    return review_clock_start is not None and day >= next_review_day(policy, review_clock_start)


def next_review_day(policy: Policy, review_clock_start: int) -> int:
    """The first review day for a clock started on `review_clock_start` (S + 6 with a 7-day wait)."""
    return review_clock_start + policy.wait_days - 1


def level_above(policy: Policy, limit: int | None) -> int | None:
    """The next level up, or the same limit at the top."""
    index = policy.levels.index(limit)
    return policy.levels[min(index + 1, len(policy.levels) - 1)]


def level_below(policy: Policy, limit: int | None) -> int | None:
    """The next level down, or the same limit at the bottom."""
    index = policy.levels.index(limit)
    return policy.levels[max(index - 1, 0)]


def daily_review(policy: Policy, limit: int | None, window: DayTotals) -> ReviewOutcome:
    """The review of a window (the `review_window_days` days before the review day) at `limit`.

    Upgrade one level on HIGH with sent ≥ multiplier × limit, downgrade one level on LOW, else hold
    (also at the top or bottom, and on MEDIUM or UNDEFINED).
    """
    tier = quality_tier(policy, window)
    if tier is Tier.HIGH and limit is not None and window.sent >= policy.upgrade_multiplier * limit:
        new_limit = level_above(policy, limit)
        if new_limit != limit:
            return ReviewOutcome(Review.UPGRADE, tier, new_limit)
    if tier is Tier.LOW:
        new_limit = level_below(policy, limit)
        if new_limit != limit:
            return ReviewOutcome(Review.DOWNGRADE, tier, new_limit)
    return ReviewOutcome(Review.HOLD, tier, limit)


# --- automatic violation and guardrail ---------------------------------------------------------


def violation_threshold(policy: Policy, limit: int | None) -> Decimal:
    """Bad reports in one day above this trigger an automatic violation (unrestricted: highest finite)."""
    base = policy.highest_finite_level if limit is None else limit
    return policy.violation_rate * base


def is_violation(policy: Policy, limit: int | None, bad_reports_today: int) -> bool:
    return bad_reports_today > violation_threshold(policy, limit)


def first_violation_hour(policy: Policy, limit: int | None, bad_reports_by_hour: Sequence[int]) -> int | None:
    """The first hour (0–23) at whose end the day's bad reports so far exceed the threshold."""
    so_far = 0
    for hour, count in enumerate(bad_reports_by_hour):
        so_far += count
        if is_violation(policy, limit, so_far):
            return hour
    return None


def guardrail_threshold(policy: Policy, limit: int | None, share: Decimal) -> Decimal:
    """Bad reports today at or above this trip the guardrail (a share of the violation threshold)."""
    return share * violation_threshold(policy, limit)


def guardrail_reached(policy: Policy, limit: int | None, share: Decimal, bad_reports_today: int) -> bool:
    return bad_reports_today > 0 and bad_reports_today >= guardrail_threshold(policy, limit, share)


# --- limits and sending ------------------------------------------------------------------------


def is_in_penalty_zone(policy: Policy, limit: int | None) -> bool:
    return limit is not None and limit <= policy.penalty_zone


def effective_limit(
    current_limit: int | None, pending_limit: int | None, pending_from_day: int | None, day: int
) -> int | None:
    """The limit in force on `day`: a pending review change counts from its effective day on."""
    if pending_from_day is not None and day >= pending_from_day:
        return pending_limit
    return current_limit


def successful_sends(limit: int | None, requested: int) -> int:
    """How many of a day's requested sends the platform accepts (the rest are rejected)."""
    return requested if limit is None else min(requested, limit)


def can_send_tag(policy: Policy, limit: int | None, tag: int) -> bool:
    """Whether a template of `tag` may be sent at `limit` (only marketing has a minimum level)."""
    if tag != MARKETING_TAG or policy.marketing_min_level is None:
        return True
    return limit is None or limit >= policy.marketing_min_level


def daily_marketing_allowance(policy: Policy, limit: int | None) -> int | None:
    """How many marketing (tag 3) messages one day may hold at `limit`; None when no share rule applies.

    ⌊share × the limit in force⌋ (a day whose level changes uses the limit in force at that moment);
    at an unrestricted limit, the policy's unrestricted cap. Other tags never count towards it.
    """
    if limit is None:
        return policy.marketing_daily_cap_unrestricted
    if policy.marketing_daily_share is None:
        return None
    return math.floor(Decimal(policy.marketing_daily_share) * limit)


def daily_marketing_share_room(policy: Policy, limit: int | None, marketing_today: int) -> int | None:
    """Marketing messages still allowed today by the daily share, after `marketing_today`; None = no rule."""
    allowance = daily_marketing_allowance(policy, limit)
    return None if allowance is None else max(0, allowance - marketing_today)


def monthly_marketing_quota(
    policy: Policy, transactional_sent_previous_months: int, first_marketing_month: date | None, month: date
) -> int | None:
    """The OA's marketing quota for `month`; None when the policy has none.

    ⌊(tag 1 + tag 2 sent in the previous `marketing_quota_months` months) / divisor⌋, plus the bonus
    when `month` is the month of the first-ever marketing send (or no marketing was sent yet).
    """
    if policy.marketing_quota_divisor is None:
        return None
    quota = transactional_sent_previous_months // policy.marketing_quota_divisor
    if first_marketing_month is None or month_of(first_marketing_month) == month_of(month):
        quota += policy.first_marketing_month_bonus
    return quota


def recipient_marketing_allowance(
    policy: Policy, received_today: int, received_this_month: int
) -> int | None:
    """How many more marketing messages one recipient may get from the OA today; None = no cap."""
    room = []
    if policy.recipient_marketing_per_day is not None:
        room.append(policy.recipient_marketing_per_day - received_today)
    if policy.recipient_marketing_per_month is not None:
        room.append(policy.recipient_marketing_per_month - received_this_month)
    return max(0, min(room)) if room else None


def daily_volume_for_upgrade(policy: Policy, limit: int | None) -> int | None:
    """The even daily volume that fills a review window enough to upgrade; None at the top."""
    if limit is None or level_above(policy, limit) == limit:
        return None
    return math.ceil(policy.upgrade_multiplier * limit / policy.review_window_days)


# --- simulation and forecast -------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationDay:
    day: int
    limit: int | None  # at 00:00
    limit_end: int | None  # at 24:00
    sent: int
    rejected: int
    bad_reports: int
    quality_7d: Tier
    review: Review | None
    violation_hour: int | None
    marketing_sent: int = 0  # of `sent`, marketing (tag 3): within the tag's level and the daily share
    marketing_rejected: int = 0


@dataclass(frozen=True)
class SimulationResult:
    days: list[SimulationDay]
    final_limit: int | None  # at 00:00 of the day after the last, pending review change included


def simulate(
    policy: Policy,
    requested: Sequence[int],
    bad_reports_by_hour: Sequence[Sequence[int]],
    *,
    initial_limit: int | None,
    review_clock_start: int | None,
    history: Sequence[DayTotals] = (),
    bad_report_rate: Decimal | None = None,
    marketing_requested: Sequence[int] | None = None,
) -> SimulationResult:
    """Run the rules day by day (days 1…n) from a starting state.

    `requested[i]` is day i+1's requested sends, `bad_reports_by_hour[i]` its 24 hourly bad reports
    (a day known only by its total: all of it in hour 23). With `bad_report_rate`, each day instead
    gets ⌊rate × successful sends⌋ bad reports in hour 23 (for forecasts). `review_clock_start` is S
    as a day number (≤ 1 for a change on or before day 1; None before the first send). `history`
    holds the days before day 1, oldest first (missing days count as zero).

    `marketing_requested[i]`, when given, is the part of day i+1's requested sends that is marketing
    (tag 3). Those are accepted only where the limit at 00:00 may send tag 3 and up to the day's
    marketing share of that limit (`daily_marketing_allowance`); the day's limit then applies to
    everything accepted so far (marketing within its share first, then the other tags).
    """
    if marketing_requested is not None and len(marketing_requested) != len(requested):
        raise ValueError("marketing_requested must have one entry per day")
    limit = initial_limit
    clock_start = review_clock_start
    window_size = policy.review_window_days
    totals: list[DayTotals] = list(history[-window_size:])
    pending: list[int | None] = []  # a review's change, taking effect the next day
    out: list[SimulationDay] = []
    marketing_wanted = marketing_requested if marketing_requested is not None else [0] * len(requested)
    days = zip(requested, bad_reports_by_hour, marketing_wanted, strict=True)
    for number, (wanted, hourly, marketing_asked) in enumerate(days, start=1):
        if not 0 <= marketing_asked <= wanted:
            raise ValueError(f"day {number}: marketing sends must be between 0 and the day's sends")
        if pending:
            limit, clock_start = pending.pop(), number
        limit_at_midnight = limit
        window = window_totals(totals[-window_size:])
        quality = quality_tier(policy, window)
        review = None
        if review_is_due(policy, clock_start, number):
            outcome = daily_review(policy, limit, window)
            review = outcome.decision
            if outcome.new_limit != limit:
                pending.append(outcome.new_limit)
        marketing_sent = _marketing_accepted(policy, limit, marketing_asked)
        sent = successful_sends(limit, wanted - marketing_asked + marketing_sent)
        if clock_start is None and sent > 0:
            clock_start = number + 1
        if bad_report_rate is not None:
            hourly = [0] * 23 + [int(bad_report_rate * sent)]
        bad_reports = sum(hourly)
        violation_hour = first_violation_hour(policy, limit, hourly)
        if violation_hour is not None:
            # A violation drops the level at once, cancels a pending review change and restarts the clock.
            limit, clock_start = level_below(policy, limit), number
            pending.clear()
        out.append(
            SimulationDay(
                day=number,
                limit=limit_at_midnight,
                limit_end=limit,
                sent=sent,
                rejected=wanted - sent,
                bad_reports=bad_reports,
                quality_7d=quality,
                review=review,
                violation_hour=violation_hour,
                marketing_sent=marketing_sent,
                marketing_rejected=marketing_asked - marketing_sent,
            )
        )
        totals.append(DayTotals(sent, bad_reports))
        del totals[:-window_size]
    return SimulationResult(days=out, final_limit=pending[0] if pending else limit)


def _marketing_accepted(policy: Policy, limit: int | None, asked: int) -> int:
    """How many of a day's `asked` marketing sends the platform accepts at `limit` (simulation)."""
    if asked <= 0 or not can_send_tag(policy, limit, MARKETING_TAG):
        return 0
    allowance = daily_marketing_allowance(policy, limit)
    accepted = asked if allowance is None else min(asked, allowance)
    return successful_sends(limit, accepted)


def forecast(
    policy: Policy,
    *,
    limit: int | None,
    review_clock_start: int | None,
    history: Sequence[DayTotals],
    planned_daily_volume: int,
    bad_report_rate: Decimal,
    days: int,
) -> SimulationResult:
    """Projected days 1…`days` for a steady planned volume and bad-report rate (same engine as `simulate`).

    Day 1 is the first day to project; `review_clock_start` is relative to it, `history` holds the days
    before it. Each day's bad reports (⌊rate × successful sends⌋) are taken as arriving in hour 23.
    """
    return simulate(
        policy,
        [planned_daily_volume] * days,
        [()] * days,
        initial_limit=limit,
        review_clock_start=review_clock_start,
        history=history,
        bad_report_rate=bad_report_rate,
    )
