"""The OA's daily limit, quality and marketing quotas on the sandbox clock, by quotas.rules.

The sandbox never re-implements a rule: it keeps per-day history (SandboxDailyStat) and asks the
project's rules engine (`quotas.rules`, pure functions) what the limit is today. Policy parameters
are the product's own: the two policies of `quotas.policy_data`, overridable per OA
(SandboxOA.policy_overrides).
"""

import json
import threading
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import F

from quotas import policy_data, rules
from sandbox import batch, runtime
from sandbox.models import SandboxDailyStat, SandboxMessage, SandboxOA
from zalo_admin.lib import dates

# One source for the policy numbers: the data module the product's migration loads (the sandbox
# keeps its own database, so it reads the data, not the product's rows).
_RULE_FIELDS = {field.name for field in fields(rules.Policy)} - {"code"}
POLICIES = {
    policy["code"]: {**{k: v for k, v in policy.items() if k in _RULE_FIELDS}, **policy_data.COMMON}
    for policy in policy_data.POLICIES
}
DECIMAL_FIELDS = ("high_max_rate", "medium_max_rate", "violation_rate", "marketing_daily_share")

# The version is a counter shared by the sandbox's processes (runtime.shared_state), bumped whenever
# history changes in a way that can change a past day; each process keeps the states of one version.
_cache: dict = {}
_cache_version = None
_cache_lock = threading.Lock()


def bump_version() -> None:
    with _cache_lock:
        _cache.clear()
    runtime.invalidate(runtime.QUOTA)


def _version() -> int:
    global _cache_version
    version = runtime.shared_state.get(runtime.QUOTA)
    if version != _cache_version:
        with _cache_lock:
            _cache.clear()
            _cache_version = version
    return version


def policy_for(oa: SandboxOA) -> rules.Policy:
    params = dict(POLICIES[oa.policy_code])
    params.update(oa.policy_overrides or {})
    for name in DECIMAL_FIELDS:
        if params.get(name) is not None:
            params[name] = Decimal(str(params[name]))
    params["levels"] = tuple(params["levels"])
    return rules.Policy(code=oa.policy_code, **params)


def initial_limit(oa: SandboxOA, policy: rules.Policy) -> int | None:
    return oa.initial_limit["value"] if "value" in (oa.initial_limit or {}) else policy.starting_level


def empty_hours() -> list[int]:
    return [0] * 24


@dataclass(frozen=True)
class QuotaState:
    policy: rules.Policy
    day: date
    limit: int | None  # in force now
    limit_at_midnight: int | None
    quality_7d: str
    sent_today: int
    marketing_today: int = 0  # tag 3 sent today (the daily marketing share)

    @property
    def marketing_allowance(self) -> int | None:
        """Today's marketing (tag 3) allowance at the limit in force now; None = no daily share."""
        return rules.daily_marketing_allowance(self.policy, self.limit)


def state(oa: SandboxOA, now: datetime) -> QuotaState:
    """The OA's limit in force at `now` (sandbox clock) and its 7-day quality."""
    today = dates.vietnam_day(now)
    hour = dates.vietnam_hour(now)
    settings = oa.__dict__.get("_quota_settings")
    if settings is None:  # an OA instance's settings do not change: written once per instance
        settings = oa.__dict__["_quota_settings"] = (
            json.dumps(oa.policy_overrides, sort_keys=True),
            str(oa.initial_limit),
        )
    key = (oa.pk, today, hour, _version(), *settings)
    pending = batch.current()
    read = pending.sent_read.get((oa.pk, today)) if pending is not None else None
    if read is None:
        read = batch.daily_counts(oa.pk, today)
        if pending is not None:
            pending.sent_read[(oa.pk, today)] = read
    sent_today, marketing_today = read
    if pending is not None:  # sends of the worker's batch not written yet
        extra_sent, extra_marketing = pending.pending_sends(oa.pk, today)
        sent_today += extra_sent
        marketing_today += extra_marketing
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        policy = policy_for(oa)
        first = min(oa.first_day, today)
        stats = {s.day: s for s in SandboxDailyStat.objects.filter(oa=oa, day__gte=first, day__lte=today)}
        requested, hourly = [], []
        for offset in range((today - first).days + 1):
            day = first + timedelta(days=offset)
            stat = stats.get(day)
            requested.append(stat.sent if stat else 0)
            hours = list(stat.bad_by_hour) if stat and stat.bad_by_hour else empty_hours()
            if day == today:  # violations are evaluated at the end of each completed hour
                hours = hours[:hour] + [0] * (24 - hour)
            hourly.append(hours)
        result = rules.simulate(
            policy, requested, hourly, initial_limit=initial_limit(oa, policy), review_clock_start=None
        )
        last = result.days[-1]
        cached = (policy, last.limit_end, last.limit, str(last.quality_7d))
        with _cache_lock:
            _cache[key] = cached
    policy, limit, midnight, quality = cached
    return QuotaState(policy, today, limit, midnight, quality, sent_today, marketing_today)


def window(oa: SandboxOA, first: date, last: date) -> rules.DayTotals:
    sent = bad = 0
    for stat in SandboxDailyStat.objects.filter(oa=oa, day__gte=first, day__lte=last):
        sent += stat.sent
        bad += sum(stat.bad_by_hour or [])
    return rules.DayTotals(sent, bad)


def quality_48h(oa: SandboxOA, policy: rules.Policy, today: date) -> str:
    return str(rules.quality_tier(policy, window(oa, today - timedelta(days=1), today)))


def marketing_quota(oa: SandboxOA, policy: rules.Policy, today: date, rows=None) -> tuple[int | None, int]:
    """(the OA marketing quota of `today`'s month or None, marketing sent that month up to `today`).

    `rows` = marketing_rows(oa), to answer several months from one query."""
    rows = marketing_rows(oa) if rows is None else rows
    month = rules.month_of(today)
    used = sum(t3 for day, _t1, _t2, t3 in rows if month <= day <= today)
    months = rules.previous_months(month, policy.marketing_quota_months)
    transactional = sum(t1 + t2 for day, t1, t2, _t3 in rows if months and months[0] <= day < month)
    first_marketing = next((day for day, _t1, _t2, t3 in rows if t3 > 0), None)
    quota = rules.monthly_marketing_quota(
        policy, transactional, rules.month_of(first_marketing) if first_marketing else None, month
    )
    return quota, used


def marketing_rows(oa: SandboxOA) -> list[tuple[date, int, int, int]]:
    """(day, tag 1, tag 2, tag 3 sent) of every day of the OA, oldest first."""
    stats = SandboxDailyStat.objects.filter(oa=oa).order_by("day")
    return list(stats.values_list("day", "sent_tag1", "sent_tag2", "sent_tag3"))


def recipient_marketing_counts(oa: SandboxOA, recipient: str, today: date) -> tuple[int, int]:
    """Marketing messages this recipient got from the OA (today, this calendar month), Vietnam days."""
    start_month = dates.vietnam_midnight(rules.month_of(today))
    start_day = dates.vietnam_midnight(today)
    end_day = dates.vietnam_midnight(today + timedelta(days=1))
    rows = SandboxMessage.objects.filter(
        oa=oa, recipient=recipient, tag=rules.MARKETING_TAG, sent_to_user=True, sent_at__gte=start_month
    )
    month_count = rows.filter(sent_at__lt=end_day).count()
    day_count = rows.filter(sent_at__gte=start_day, sent_at__lt=end_day).count()
    return day_count, month_count


def record_send(oa: SandboxOA, tag: int, now: datetime) -> None:
    batch.count_send(oa, tag, dates.vietnam_day(now))


def increment(oa: SandboxOA, day: date, counts: dict[str, int]) -> None:
    counters = {name: F(name) + n for name, n in counts.items()}
    if not SandboxDailyStat.objects.filter(oa=oa, day=day).update(**counters):
        _stat(oa, day)
        SandboxDailyStat.objects.filter(oa=oa, day=day).update(**counters)


def record_bad_report(oa: SandboxOA, now: datetime) -> None:
    stat = _stat(oa, dates.vietnam_day(now))
    hours = list(stat.bad_by_hour or empty_hours())
    hours[dates.vietnam_hour(now)] += 1
    stat.bad_by_hour = hours
    stat.save(update_fields=["bad_by_hour"])
    bump_version()


def _stat(oa: SandboxOA, day: date) -> SandboxDailyStat:
    stat, _ = SandboxDailyStat.objects.get_or_create(oa=oa, day=day, defaults={"bad_by_hour": empty_hours()})
    return stat
