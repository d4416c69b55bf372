"""Every quota and quality state change, and the read models the views and the dispatcher need.

The rules themselves live in `quotas.rules` (pure); this module feeds them from the database and
stores their results. Days are Vietnam calendar days; counters change only through atomic SQL.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.services import pause_campaign
from compliance.services import actor_name, record_audit_event
from oas.models import OfficialAccount
from quotas import rules
from quotas.models import (
    AutomaticViolation,
    CampaignDailyStats,
    CampaignHourlyStats,
    DailyQuotaUsage,
    LevelChange,
    LevelReview,
    OADailyStats,
    OAHourlyStats,
    OAQuotaState,
    Policy,
    QualityAlert,
    QuotaEvent,
    QuotaReservation,
    RecipientMarketingUsage,
    TemplateDailyStats,
    TemplateHourlyStats,
)

# --- policies and state ------------------------------------------------------------------------


def rules_policy(policy: Policy) -> rules.Policy:
    """The rules engine's policy value for a `Policy` row."""
    return policy.to_rules()


def policy_for_new_oa(oa: OfficialAccount) -> Policy:
    """The latest policy in force on the OA's registration day (the oldest one if none was yet)."""
    registered = rules.vietnam_day(oa.created_at) if oa.created_at else rules.vietnam_day(timezone.now())
    # Among versions in force from the same day, the newest row (the latest version) wins.
    in_force = Policy.objects.filter(effective_from__lte=registered).order_by("-effective_from", "-pk")
    return in_force.first() or Policy.objects.order_by("effective_from", "-pk").first()


# Every field of a policy row but its id: what a version is made of.
POLICY_FIELDS = tuple(field.name for field in Policy._meta.concrete_fields if not field.primary_key)
_VERSION_SUFFIX = re.compile(r"-v(\d+)$")


def _policy_values(policy: Policy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def _next_version_code(code: str) -> str:
    """`zbs-2026` → `zbs-2026-v2` → `zbs-2026-v3`…: the first free code of the next version."""
    base = _VERSION_SUFFIX.sub("", code)
    number = 2
    max_length = Policy._meta.get_field("code").max_length
    while True:
        suffix = f"-v{number}"
        candidate = base[: max_length - len(suffix)] + suffix
        if not Policy.objects.filter(code=candidate).exists():
            return candidate
        number += 1


@transaction.atomic
def add_policy(values: dict, actor) -> Policy:
    """Add a quota policy (e.g. Zalo's next rules) from validated field values; audited."""
    policy = Policy(**{name: values[name] for name in POLICY_FIELDS if name in values})
    policy.full_clean()
    policy.save()
    record_audit_event(
        actor=actor_name(actor),
        action="policy.create",
        summary=f"Added quota policy {policy.code} (for OAs registered from {policy.effective_from})",
        target=policy,
        details={"values": _policy_values(policy)},
    )
    return policy


@transaction.atomic
def new_policy_version(previous_id: int, values: dict, actor) -> Policy:
    """Save changed policy numbers as a new policy row; the previous row is never changed.

    OAs on the previous version stay on it (and its history stays true); the new version is what
    new OAs registered from its `effective_from` get. Without a new code in `values` the version
    gets the previous code with a `-v<n>` suffix. Audited with what changed.
    """
    previous = Policy.objects.select_for_update().get(pk=previous_id)
    before = _policy_values(previous)
    after = {**before, **{name: values[name] for name in POLICY_FIELDS if name in values}}
    if after["code"] == previous.code:
        after["code"] = _next_version_code(previous.code)
    policy = Policy(**after)
    policy.full_clean()
    policy.save()
    changed = {
        name: [before[name], after[name]]
        for name in POLICY_FIELDS
        if name != "code" and before[name] != after[name]
    }
    record_audit_event(
        actor=actor_name(actor),
        action="policy.new_version",
        summary=f"New version {policy.code} of quota policy {previous.code} "
        f"(changed: {', '.join(changed) or 'nothing but the code'}; {previous.code} kept unchanged)",
        target=policy,
        details={
            "previous": previous.code,
            "previous_id": previous.pk,
            "changed": changed,
            "values": _policy_values(policy),
        },
    )
    return policy


def quota_state(oa_id: int) -> OAQuotaState:
    """The OA's quota state, created on the policy in force at its registration when missing."""
    state = OAQuotaState.objects.select_related("policy").filter(oa_id=oa_id).first()
    if state is not None:
        return state
    policy = policy_for_new_oa(OfficialAccount.objects.get(pk=oa_id))
    state, _created = OAQuotaState.objects.select_related("policy").get_or_create(
        oa_id=oa_id, defaults={"policy": policy, "current_limit": policy.starting_level}
    )
    return state


def today_in_vietnam(now: datetime | None = None) -> date:
    return rules.vietnam_day(now or timezone.now())


def limit_on(state: OAQuotaState, day: date) -> int | None:
    """The limit in force for the OA on `day` (a pending review change counts from its day on)."""
    pending_from = state.pending_from_day.toordinal() if state.pending_from_day else None
    return rules.effective_limit(state.current_limit, state.pending_limit, pending_from, day.toordinal())


def _clock_start(state: OAQuotaState) -> int | None:
    return state.review_clock_start.toordinal() if state.review_clock_start else None


# --- events and rollups ------------------------------------------------------------------------


def _upsert_increment(model, keys: dict, increments: dict) -> None:
    """INSERT … ON CONFLICT DO UPDATE adding `increments` to the row identified by `keys` (atomic)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = {model._meta.get_field(name).column: value for name, value in {**keys, **increments}.items()}
    key_columns = [model._meta.get_field(name).column for name in keys]
    increment_columns = [model._meta.get_field(name).column for name in increments]
    quote = connection.ops.quote_name
    # Only model metadata (table and column names) is interpolated; values go in as parameters.
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in key_columns)}) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in increment_columns)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(columns.values()))


def _bump_rollups(event: QuotaEvent) -> None:
    counter = "sent" if event.kind == QuotaEvent.Kind.SENT else "bad_reports"
    increments = {counter: event.count}
    daily_increments = dict(increments)
    if event.kind == QuotaEvent.Kind.SENT and event.tag in (1, 2):
        daily_increments["transactional_sent"] = event.count
    _upsert_increment(OADailyStats, {"oa_id": event.oa_id, "day": event.day}, daily_increments)
    _upsert_increment(OAHourlyStats, {"oa_id": event.oa_id, "day": event.day, "hour": event.hour}, increments)
    if event.campaign_id:
        keys = {"campaign_id": event.campaign_id, "day": event.day}
        _upsert_increment(CampaignDailyStats, keys, increments)
        _upsert_increment(CampaignHourlyStats, {**keys, "hour": event.hour}, increments)
    if event.template_id:
        keys = {"template_id": event.template_id, "day": event.day}
        _upsert_increment(TemplateDailyStats, keys, increments)
        _upsert_increment(TemplateHourlyStats, {**keys, "hour": event.hour}, increments)


def _record_event(kind, oa_id, occurred_at, count, campaign_id, template_id, tag) -> QuotaEvent:
    if count < 1:
        raise ValueError("count must be at least 1")
    event = QuotaEvent.objects.create(
        oa_id=oa_id,
        kind=kind,
        occurred_at=occurred_at,
        day=rules.vietnam_day(occurred_at),
        hour=rules.vietnam_hour(occurred_at),
        count=count,
        tag=tag,
        campaign_id=campaign_id,
        template_id=template_id,
    )
    _bump_rollups(event)
    return event


@transaction.atomic
def record_sent(
    oa_id: int,
    sent_at: datetime,
    count: int = 1,
    campaign_id: int | None = None,
    template_id: int | None = None,
    tag: int | None = None,
) -> QuotaEvent:
    """Record `count` messages the platform accepted; starts the review clock on the first send."""
    quota_state(oa_id)
    event = _record_event(QuotaEvent.Kind.SENT, oa_id, sent_at, count, campaign_id, template_id, tag)
    # First ever send on day X: the review clock starts on X + 1 (unless a level change started it).
    OAQuotaState.objects.filter(oa_id=oa_id, first_send_day__isnull=True).update(
        first_send_day=event.day,
        review_clock_start=Coalesce(F("review_clock_start"), event.day + timedelta(days=1)),
    )
    if tag == rules.MARKETING_TAG:
        OAQuotaState.objects.filter(oa_id=oa_id, first_marketing_day__isnull=True).update(
            first_marketing_day=event.day
        )
    return event


@transaction.atomic
def record_bad_report(
    oa_id: int,
    reported_at: datetime,
    count: int = 1,
    campaign_id: int | None = None,
    template_id: int | None = None,
    tag: int | None = None,
) -> QuotaEvent:
    """Record `count` bad reports (on the Vietnam day they arrived) and apply the OA's guardrail."""
    quota_state(oa_id)
    event = _record_event(
        QuotaEvent.Kind.BAD_REPORT, oa_id, reported_at, count, campaign_id, template_id, tag
    )
    apply_guardrail(oa_id, event.day)
    return event


ROLLUP_MODELS = (
    OADailyStats,
    OAHourlyStats,
    CampaignDailyStats,
    CampaignHourlyStats,
    TemplateDailyStats,
    TemplateHourlyStats,
)


@transaction.atomic
def rebuild_rollups() -> int:
    """Recompute every rollup from the raw events (days without events disappear); returns rows written."""
    if connection.vendor == "postgresql":
        # Hold off concurrent increments so none is lost between the delete and the re-insert.
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in ROLLUP_MODELS)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
    for model in ROLLUP_MODELS:
        model.objects.all().delete()
    sent = Sum("count", filter=Q(kind=QuotaEvent.Kind.SENT), default=0)
    bad = Sum("count", filter=Q(kind=QuotaEvent.Kind.BAD_REPORT), default=0)
    transactional = Sum("count", filter=Q(kind=QuotaEvent.Kind.SENT, tag__in=(1, 2)), default=0)
    written = 0
    groupings = (
        (OADailyStats, ("oa_id", "day"), {"transactional_sent": transactional}),
        (OAHourlyStats, ("oa_id", "day", "hour"), {}),
        (CampaignDailyStats, ("campaign_id", "day"), {}),
        (CampaignHourlyStats, ("campaign_id", "day", "hour"), {}),
        (TemplateDailyStats, ("template_id", "day"), {}),
        (TemplateHourlyStats, ("template_id", "day", "hour"), {}),
    )
    for model, keys, extra in groupings:
        events = QuotaEvent.objects.filter(**{f"{keys[0]}__isnull": False})
        rows = events.values(*keys).order_by().annotate(sent=sent, bad_reports=bad, **extra)
        objects = [model(**row) for row in rows.iterator()]
        model.objects.bulk_create(objects, batch_size=2000)
        written += len(objects)
    return written


# --- reservations ------------------------------------------------------------------------------


class RecipientsRequired(ValueError):
    """Marketing reservations under per-recipient caps must name their recipients."""


def _month_bounds(day: date) -> tuple[date, date]:
    start = rules.month_of(day)
    return start, rules.month_of(start + timedelta(days=32))


def _marketing_quota_room(state: OAQuotaState, policy: rules.Policy, day: date) -> int | None:
    if policy.marketing_quota_divisor is None:
        return None
    month_start, next_month = _month_bounds(day)
    first_counted_month = rules.previous_months(month_start, policy.marketing_quota_months)[:1] or [
        month_start
    ]
    transactional = OADailyStats.objects.filter(
        oa_id=state.oa_id, day__gte=first_counted_month[0], day__lt=month_start
    ).aggregate(total=Sum("transactional_sent", default=0))["total"]
    quota = rules.monthly_marketing_quota(policy, transactional, state.first_marketing_day, day)
    used = DailyQuotaUsage.objects.filter(
        oa_id=state.oa_id, day__gte=month_start, day__lt=next_month
    ).aggregate(total=Sum("marketing_reserved", default=0))["total"]
    return max(0, quota - used)


def _grant_recipients(
    state: OAQuotaState, policy: rules.Policy, day: date, recipients: list[str], most: int
) -> list[str]:
    """The recipients (in order, at most `most`) still within their marketing caps."""
    month_start, next_month = _month_bounds(day)
    rows = (
        RecipientMarketingUsage.objects.filter(
            oa_id=state.oa_id, recipient__in=set(recipients), day__gte=month_start, day__lt=next_month
        )
        .values("recipient")
        .annotate(month=Sum("count"), today=Sum("count", filter=Q(day=day), default=0))
    )
    received_today = Counter({row["recipient"]: row["today"] for row in rows})
    received_month = Counter({row["recipient"]: row["month"] for row in rows})
    granted = []
    for recipient in recipients:
        if len(granted) >= most:
            break
        allowance = rules.recipient_marketing_allowance(
            policy, received_today[recipient], received_month[recipient]
        )
        if allowance is None or allowance > 0:
            granted.append(recipient)
            received_today[recipient] += 1
            received_month[recipient] += 1
    return granted


@transaction.atomic
def reserve(
    oa: OfficialAccount | int,
    n: int,
    tag: int,
    recipients: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
) -> QuotaReservation:
    """Grant up to `n` sends of a `tag` template for the current Vietnam day.

    Never exceeds the day's limit, the OA's monthly marketing quota or a recipient's marketing caps,
    however many workers reserve at once (the OA's state row is locked for the decision). With
    `recipients` (required for marketing under per-recipient caps) the grant names who may be sent
    to, in request order. A reservation granting nothing is returned unsaved.
    """
    oa_id = getattr(oa, "pk", oa)
    if recipients is not None:
        recipients = list(recipients)
        if len(recipients) != n:
            raise ValueError("recipients must list exactly n recipients")
    if n < 0:
        raise ValueError("n must not be negative")
    day = today_in_vietnam(now)
    quota_state(oa_id)
    state = OAQuotaState.objects.select_for_update().select_related("policy").get(oa_id=oa_id)
    policy = rules_policy(state.policy)
    is_marketing = tag == rules.MARKETING_TAG
    has_recipient_caps = (
        policy.recipient_marketing_per_day is not None or policy.recipient_marketing_per_month is not None
    )
    if is_marketing and has_recipient_caps and recipients is None:
        raise RecipientsRequired("marketing reservations must name their recipients under this policy")
    limit = limit_on(state, day)
    reservation = QuotaReservation(oa_id=oa_id, day=day, tag=tag, requested=n, granted=0)

    rooms = {"requested": n}
    if not rules.can_send_tag(policy, limit, tag):
        rooms["tag_not_allowed_at_level"] = 0
    if limit is not None:
        usage = (
            DailyQuotaUsage.objects.filter(oa_id=oa_id, day=day).values_list("reserved", flat=True).first()
        )
        rooms["daily_limit"] = max(0, limit - (usage or 0))
    if is_marketing:
        monthly_room = _marketing_quota_room(state, policy, day)
        if monthly_room is not None:
            rooms["monthly_marketing_quota"] = monthly_room
    limited_by = min(rooms, key=lambda name: (rooms[name], name != "requested"))
    most = rooms[limited_by]
    granted_recipients = recipients[:most] if recipients is not None else []
    if is_marketing and has_recipient_caps and most > 0:
        granted_recipients = _grant_recipients(state, policy, day, recipients, most)
        if len(granted_recipients) < most:
            limited_by = "recipient_cap"
        most = len(granted_recipients)
    reservation.granted = most
    reservation.recipients = granted_recipients
    reservation.tracks_recipient_caps = is_marketing and has_recipient_caps
    reservation.limited_by = "" if limited_by == "requested" else limited_by
    if most == 0:
        return reservation
    _upsert_increment(
        DailyQuotaUsage,
        {"oa_id": oa_id, "day": day},
        {"reserved": most, "marketing_reserved": most if is_marketing else 0},
    )
    if reservation.tracks_recipient_caps:
        for recipient, count in Counter(granted_recipients).items():
            _upsert_increment(
                RecipientMarketingUsage,
                {"oa_id": oa_id, "recipient": recipient, "day": day},
                {"count": count},
            )
    reservation.save()
    return reservation


def remaining_today(oa_id: int, now: datetime | None = None) -> int | None:
    """Sends still available to reserve today (all tags); None when unrestricted. A hint, not a grant."""
    day = today_in_vietnam(now)
    limit = limit_on(quota_state(oa_id), day)
    if limit is None:
        return None
    reserved = DailyQuotaUsage.objects.filter(oa_id=oa_id, day=day).values_list("reserved", flat=True).first()
    return max(0, limit - (reserved or 0))


@transaction.atomic
def release(reservation: QuotaReservation, unused: int | Iterable[str]) -> int:
    """Give back the unused part of a reservation (a count, or the unused recipients); returns how many.

    Marketing reservations under per-recipient caps must be released by recipient, so their caps are
    freed too. Releasing more than is still held is an error.
    """
    if reservation.pk is None:
        return 0
    held = QuotaReservation.objects.select_for_update().get(pk=reservation.pk)
    if isinstance(unused, int):
        if held.tracks_recipient_caps and unused:
            raise RecipientsRequired("this reservation holds recipient caps: release them by recipient")
        count, recipients = unused, []
    else:
        recipients = list(unused)
        count = len(recipients)
        still_held = Counter(held.recipients) - Counter(held.released_recipients)
        if held.recipients and Counter(recipients) - still_held:
            raise ValueError("some recipients were not granted by this reservation or were released already")
    if count < 0 or count > held.granted - held.released:
        raise ValueError("cannot release more than the reservation still holds")
    if count == 0:
        return 0
    is_marketing = held.tag == rules.MARKETING_TAG
    DailyQuotaUsage.objects.filter(oa_id=held.oa_id, day=held.day).update(
        reserved=F("reserved") - count,
        marketing_reserved=F("marketing_reserved") - (count if is_marketing else 0),
    )
    if held.tracks_recipient_caps:
        for recipient, times in Counter(recipients).items():
            RecipientMarketingUsage.objects.filter(
                oa_id=held.oa_id, recipient=recipient, day=held.day
            ).update(count=F("count") - times)
    released_recipients = held.released_recipients + (recipients if held.recipients else [])
    QuotaReservation.objects.filter(pk=held.pk).update(
        released=F("released") + count, released_recipients=released_recipients
    )
    reservation.refresh_from_db()
    return count


# --- reviews, violations, guardrail, corrections ---------------------------------------------


def _window(oa_id: int, day: date, days: int) -> rules.DayTotals:
    totals = OADailyStats.objects.filter(
        oa_id=oa_id, day__gte=day - timedelta(days=days), day__lt=day
    ).aggregate(sent=Sum("sent", default=0), bad=Sum("bad_reports", default=0))
    return rules.DayTotals(totals["sent"], totals["bad"])


def _record_level_change(
    oa_id: int, effective_day: date, old_limit, new_limit, reason: str, *, note: str = "", actor=None
) -> LevelChange:
    """The level history row and its audit record: every level change goes through here."""
    change = LevelChange.objects.create(
        oa_id=oa_id,
        effective_day=effective_day,
        old_limit=old_limit,
        new_limit=new_limit,
        reason=reason,
        note=note,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record_audit_event(
        actor=actor_name(actor) if actor is not None else "system:quota-engine",
        action="oa.level_change",
        summary=f"OA #{oa_id} level {_limit_label(old_limit)} → {_limit_label(new_limit)} "
        f"from {effective_day} ({change.get_reason_display()}){': ' + note if note else ''}",
        target_type="oas.officialaccount",
        target_id=oa_id,
        details={"old": old_limit, "new": new_limit, "reason": reason, "day": effective_day, "note": note},
    )
    return change


def _apply_due_pending_change(state: OAQuotaState, day: date) -> None:
    """Make a review's change current once its day has come (state must be locked)."""
    if state.pending_from_day is None or state.pending_from_day > day:
        return
    levels = state.policy.levels
    old_limit = state.current_limit
    state.current_limit = state.pending_limit
    state.review_clock_start = state.pending_from_day
    upgrade = levels.index(state.current_limit) > levels.index(old_limit)
    _record_level_change(
        state.oa_id,
        state.pending_from_day,
        old_limit,
        state.current_limit,
        LevelChange.Reason.REVIEW_UPGRADE if upgrade else LevelChange.Reason.REVIEW_DOWNGRADE,
    )
    state.pending_limit = state.pending_from_day = None
    state.save()


@transaction.atomic
def review_oa(oa_id: int, day: date) -> LevelReview | None:
    """The daily review at 00:00 of `day`, after applying a change due that day.

    Returns the review made now; None when none is due or it was made already (idempotent).
    """
    quota_state(oa_id)
    state = OAQuotaState.objects.select_for_update().select_related("policy").get(oa_id=oa_id)
    _apply_due_pending_change(state, day)
    policy = rules_policy(state.policy)
    if not rules.review_is_due(policy, _clock_start(state), day.toordinal()):
        return None
    if LevelReview.objects.filter(oa_id=oa_id, day=day).exists():
        return None
    window = _window(oa_id, day, policy.review_window_days)
    outcome = rules.daily_review(policy, state.current_limit, window)
    review = LevelReview.objects.create(
        oa_id=oa_id,
        day=day,
        window_sent=window.sent,
        window_bad_reports=window.bad_reports,
        tier=outcome.tier,
        decision=outcome.decision,
        limit=state.current_limit,
        new_limit=outcome.new_limit,
    )
    if outcome.new_limit != state.current_limit:
        state.pending_limit = outcome.new_limit
        state.pending_from_day = day + timedelta(days=1)
        state.save()
    return review


def last_complete_hour(at: datetime) -> tuple[date, int]:
    """The Vietnam day and hour of the last hour that ended at or before `at`."""
    hour_end = at.replace(minute=0, second=0, microsecond=0)
    moment = hour_end - timedelta(microseconds=1)
    return rules.vietnam_day(moment), rules.vietnam_hour(moment)


def run_violation_checks(at: datetime | None = None) -> list[AutomaticViolation]:
    """The hourly check for every OA at the end of the last complete hour before `at` (idempotent)."""
    day, hour = last_complete_hour(at or timezone.now())
    bad_so_far = dict(
        OAHourlyStats.objects.filter(day=day, hour__lte=hour)
        .values("oa_id")
        .order_by()
        .annotate(bad=Sum("bad_reports"))
        .filter(bad__gt=0)
        .values_list("oa_id", "bad")
    )
    if not bad_so_far:
        return []
    already_violated = set(
        AutomaticViolation.objects.filter(day=day, oa_id__in=bad_so_far).values_list("oa_id", flat=True)
    )
    # Bad reports trip the guardrail as they are recorded; this is the backstop for any that did not.
    already_alerted = set(
        QualityAlert.objects.filter(
            day=day, kind=QualityAlert.Kind.GUARDRAIL, oa_id__in=bad_so_far
        ).values_list("oa_id", flat=True)
    )
    policies = {}
    states = {}
    to_violate, trips = [], []
    for state in OAQuotaState.objects.filter(oa_id__in=bad_so_far).select_related("policy"):
        policy = policies.setdefault(state.policy_id, rules_policy(state.policy))
        states[state.oa_id] = state
        bad = bad_so_far[state.oa_id]
        limit = limit_on(state, day)
        if state.oa_id not in already_violated and rules.is_violation(policy, limit, bad):
            to_violate.append((state.oa_id, bad))
        elif state.oa_id not in already_alerted and (trip := _guardrail_trip(state, policy, limit, bad)):
            trips.append(trip)
    # One transaction for the hour's actions: a burst of violations costs one commit, not one each.
    with transaction.atomic():
        violations = [
            violation
            for oa_id, bad in to_violate
            if (violation := apply_violation(oa_id, day, hour, bad)) is not None
        ]
        # A violation is past the guardrail too (at the lower limit even more so).
        for violation in violations:
            state = states[violation.oa_id]
            policy = policies[state.policy_id]
            trip = _guardrail_trip(state, policy, violation.new_limit, violation.bad_reports)
            if trip and violation.oa_id not in already_alerted:
                trips.append(trip)
        if trips:
            _act_on_guardrail_trips(day, trips)
    return violations


@transaction.atomic
def apply_violation(oa_id: int, day: date, hour: int, bad_reports: int) -> AutomaticViolation | None:
    """Drop the OA one level at once for an automatic violation (once per day; None if done already).

    A review change due the next day is cancelled and the review clock restarts on `day`; at the
    bottom level the violation is recorded but the level stays.
    """
    state = OAQuotaState.objects.select_for_update().select_related("policy").get(oa_id=oa_id)
    if AutomaticViolation.objects.filter(oa_id=oa_id, day=day).exists():
        return None
    _apply_due_pending_change(state, day)
    policy = rules_policy(state.policy)
    old_limit = state.current_limit
    new_limit = rules.level_below(policy, old_limit)
    violation = AutomaticViolation.objects.create(
        oa_id=oa_id, day=day, hour=hour, bad_reports=bad_reports, limit=old_limit, new_limit=new_limit
    )
    if state.pending_from_day is not None:
        LevelReview.objects.filter(oa_id=oa_id, day=state.pending_from_day - timedelta(days=1)).update(
            cancelled_by_violation=True
        )
    state.pending_limit = state.pending_from_day = None
    state.current_limit = new_limit
    state.review_clock_start = day
    state.save()
    if new_limit != old_limit:
        _record_level_change(oa_id, day, old_limit, new_limit, LevelChange.Reason.VIOLATION)
    message = _(
        "%(bad)s bad reports by the end of hour %(hour)s exceed %(threshold)s: limit %(old)s → %(new)s."
    ) % {
        "bad": bad_reports,
        "hour": hour,
        "threshold": _plain_number(rules.violation_threshold(policy, old_limit)),
        "old": _limit_label(old_limit),
        "new": _limit_label(new_limit),
    }
    QualityAlert.objects.get_or_create(
        oa_id=oa_id, day=day, kind=QualityAlert.Kind.VIOLATION, defaults={"message": message}
    )
    return violation


@dataclass(frozen=True)
class GuardrailTrip:
    oa_id: int
    action: str
    reason: str


def _guardrail_trip(
    state: OAQuotaState, policy: rules.Policy, limit: int | None, bad: int
) -> GuardrailTrip | None:
    if not rules.guardrail_reached(policy, limit, state.guardrail_share, bad):
        return None
    threshold = rules.guardrail_threshold(policy, limit, state.guardrail_share)
    reason = _(
        "Quality guardrail: %(bad)s bad reports today reached %(share)s%% "
        "of the automatic-violation threshold (%(threshold)s)."
    ) % {
        "bad": bad,
        "share": _plain_number(state.guardrail_share * 100),
        "threshold": _plain_number(threshold),
    }
    return GuardrailTrip(state.oa_id, state.guardrail_action, reason)


@transaction.atomic
def _act_on_guardrail_trips(day: date, trips: list[GuardrailTrip]) -> None:
    """Alert once per OA and day; pause running marketing campaigns of the OAs set to pause."""
    QualityAlert.objects.bulk_create(
        [
            QualityAlert(oa_id=t.oa_id, day=day, kind=QualityAlert.Kind.GUARDRAIL, message=t.reason)
            for t in trips
        ],
        ignore_conflicts=True,
    )
    reasons = {t.oa_id: t.reason for t in trips if t.action == OAQuotaState.GuardrailAction.PAUSE}
    running_marketing = Campaign.objects.filter(
        oa_id__in=reasons, status=Campaign.Status.RUNNING, template__tag=rules.MARKETING_TAG
    ).values_list("pk", "oa_id")
    paused = Counter(
        oa_id
        for campaign_id, oa_id in running_marketing
        if pause_campaign(campaign_id, reasons[oa_id], actor="system:guardrail")
    )
    for oa_id, count in paused.items():
        QualityAlert.objects.filter(oa_id=oa_id, day=day, kind=QualityAlert.Kind.GUARDRAIL).update(
            campaigns_paused=F("campaigns_paused") + count
        )


def apply_guardrail(oa_id: int, day: date) -> bool:
    """If the OA's bad reports of `day` reached its guardrail, alert once and pause marketing if set to."""
    state = quota_state(oa_id)
    bad = OADailyStats.objects.filter(oa_id=oa_id, day=day).values_list("bad_reports", flat=True).first() or 0
    trip = _guardrail_trip(state, rules_policy(state.policy), limit_on(state, day), bad)
    if trip is not None:
        _act_on_guardrail_trips(day, [trip])
    return trip is not None


class CorrectionRejected(ValueError):
    pass


@transaction.atomic
def correct_level(oa_id: int, new_limit: int | None, reason: str, actor) -> LevelChange:
    """A quality admin sets the OA's limit by hand, with a written reason; the review clock restarts today."""
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionRejected(_("A written reason is required."))
    quota_state(oa_id)
    state = OAQuotaState.objects.select_for_update().select_related("policy").get(oa_id=oa_id)
    if new_limit not in state.policy.levels:
        raise CorrectionRejected(_("The limit must be one of the policy's levels."))
    today = today_in_vietnam()
    _apply_due_pending_change(state, today)
    change = _record_level_change(
        oa_id, today, state.current_limit, new_limit, LevelChange.Reason.MANUAL, note=reason, actor=actor
    )
    state.current_limit = new_limit
    state.pending_limit = state.pending_from_day = None
    state.review_clock_start = today
    state.save()
    return change


@transaction.atomic
def update_guardrail(oa_id: int, share: Decimal, action: str, actor="system") -> OAQuotaState:
    """Set the OA's guardrail share of the violation threshold and its action (pause or alert only)."""
    if not Decimal("0") < share <= Decimal("1"):
        raise ValueError("share must be in (0, 1]")
    if action not in OAQuotaState.GuardrailAction.values:
        raise ValueError(f"unknown guardrail action {action!r}")
    quota_state(oa_id)
    OAQuotaState.objects.filter(oa_id=oa_id).update(guardrail_share=share, guardrail_action=action)
    record_audit_event(
        actor=actor_name(actor),
        action="oa.guardrail",
        summary=f"OA #{oa_id} guardrail: {action} at {_plain_number(share * 100)} % of the threshold",
        target_type="oas.officialaccount",
        target_id=oa_id,
        details={"share": share, "action": action},
    )
    return quota_state(oa_id)


@transaction.atomic
def resolve_alert(alert_id: int, actor) -> bool:
    """Mark an open alert as handled; False if it was already resolved."""
    resolved = QualityAlert.objects.filter(pk=alert_id, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=actor
    )
    if resolved:
        record_audit_event(
            actor=actor_name(actor),
            action="quality_alert.resolve",
            summary=f"Quality alert #{alert_id} marked as handled",
            target_type="quotas.qualityalert",
            target_id=alert_id,
        )
    return bool(resolved)


def run_daily_reviews(at: datetime | None = None) -> int:
    """The 00:00 job: close yesterday's last violation hour, then review every OA; returns reviews made."""
    at = at or timezone.now()
    day = today_in_vietnam(at)
    run_violation_checks(at=datetime.combine(day, datetime.min.time(), tzinfo=rules.VIETNAM))
    return sum(
        review_oa(oa_id, day) is not None for oa_id in OAQuotaState.objects.values_list("oa_id", flat=True)
    )


# --- read models: overview, forecast ----------------------------------------------------------


def _plain_number(value: Decimal) -> str:
    """300 rather than 3E+2 or 300.000000."""
    return format(value.normalize(), "f")


def _limit_label(limit: int | None) -> str:
    return _("unrestricted") if limit is None else f"{limit:,}"


def next_review_day(state: OAQuotaState, policy: rules.Policy, today: date) -> date | None:
    """The next day a review runs (tomorrow at the earliest); None before the first send."""
    start = state.pending_from_day or state.review_clock_start
    if start is None:
        return None
    first = date.fromordinal(rules.next_review_day(policy, start.toordinal()))
    return max(first, today + timedelta(days=1))


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


def quality_overview(today: date | None = None) -> list[OAOverview]:
    """One row per OA for the quality page (a fixed number of queries)."""
    today = today or today_in_vietnam()
    for oa_id in OfficialAccount.objects.filter(quota__isnull=True).values_list("pk", flat=True):
        quota_state(oa_id)
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
    return list(LevelChange.objects.filter(oa_id=oa_id).select_related("changed_by")[:100])
