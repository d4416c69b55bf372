"""Level changes and their reasons: the daily reviews, the hourly automatic-violation check, manual
corrections, the guardrail (alert, and announce GUARDRAIL_TRIPPED so campaigns pauses marketing)
and quality alerts.

quotas never pauses a campaign itself: `zalo_admin.hooks` carries the guardrail trip to campaigns,
inside the same transaction, and the receivers' answer (the paused campaign ids) is recorded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance import actions
from compliance.services import actor_name, record_audit_event
from quotas import rules
from quotas.models import (
    AutomaticViolation,
    LevelChange,
    LevelReview,
    OADailyStats,
    OAHourlyStats,
    OAQuotaState,
    QualityAlert,
)
from quotas.services.policies import rules_policy
from quotas.services.state import create_quota_state, limit_on, lock_quota_state, quota_state
from zalo_admin import hooks
from zalo_admin.lib.dates import today_in_vietnam, vietnam_day, vietnam_hour, vietnam_midnight

GUARDRAIL_ACTOR = "system:guardrail"


def _clock_start(state: OAQuotaState) -> int | None:
    return state.review_clock_start.toordinal() if state.review_clock_start else None


def _plain_number(value: Decimal) -> str:
    """300 rather than 3E+2 or 300.000000."""
    return format(value.normalize(), "f")


def _limit_label(limit: int | None) -> str:
    return _("unrestricted") if limit is None else f"{limit:,}"


def _audit_limit_label(limit: int | None) -> str:
    """A limit as the audit log stores it, in no language: "∞" for unrestricted, 50,000 otherwise."""
    return "∞" if limit is None else f"{limit:,}"


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
        action=actions.OA_LEVEL_CHANGE,
        target_type="oas.officialaccount",
        target_id=oa_id,
        details={
            "oa_id": oa_id,
            "old": old_limit,
            "new": new_limit,
            "old_label": _audit_limit_label(old_limit),
            "new_label": _audit_limit_label(new_limit),
            "reason": reason,
            "day": effective_day,
            "note": note,
        },
    )
    hooks.emit(
        hooks.LEVEL_CHANGED,
        oa_id=oa_id,
        change_id=change.pk,
        day=str(effective_day),  # a date, or its ISO text
        old_limit=old_limit,
        new_limit=new_limit,
        reason=reason,
        note=note,
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
    state = lock_quota_state(oa_id)
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
    return vietnam_day(moment), vietnam_hour(moment)


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
    _alert, created = QualityAlert.objects.get_or_create(
        oa_id=oa_id, day=day, kind=QualityAlert.Kind.VIOLATION, defaults={"message": message}
    )
    if created:
        hooks.emit(
            hooks.QUALITY_ALERT_RAISED,
            oa_id=oa_id,
            day=day.isoformat(),
            kind=QualityAlert.Kind.VIOLATION.value,
            message=message,
            campaigns_paused=0,
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
    """Alert once per OA and day; for the OAs set to pause, announce GUARDRAIL_TRIPPED (campaigns
    pauses their running marketing campaigns) and count what was paused on the alert."""
    alerted = set(
        QualityAlert.objects.filter(
            day=day, kind=QualityAlert.Kind.GUARDRAIL, oa_id__in=[t.oa_id for t in trips]
        ).values_list("oa_id", flat=True)
    )
    QualityAlert.objects.bulk_create(
        [
            QualityAlert(oa_id=t.oa_id, day=day, kind=QualityAlert.Kind.GUARDRAIL, message=t.reason)
            for t in trips
        ],
        ignore_conflicts=True,
    )
    reasons = {t.oa_id: t.reason for t in trips if t.action == OAQuotaState.GuardrailAction.PAUSE}
    paused_by_oa = {}
    for oa_id, reason in reasons.items():
        results = hooks.emit(
            hooks.GUARDRAIL_TRIPPED, oa_id=oa_id, day=day, reason=reason, actor=GUARDRAIL_ACTOR
        )
        paused = paused_by_oa[oa_id] = sum(len(campaign_ids) for campaign_ids in results)
        if paused:
            QualityAlert.objects.filter(oa_id=oa_id, day=day, kind=QualityAlert.Kind.GUARDRAIL).update(
                campaigns_paused=F("campaigns_paused") + paused
            )
    # People hear of a trip once per OA and day (bad reports trip it again and again afterwards).
    for trip in trips:
        if trip.oa_id not in alerted:
            hooks.emit(
                hooks.QUALITY_ALERT_RAISED,
                oa_id=trip.oa_id,
                day=day.isoformat(),
                kind=QualityAlert.Kind.GUARDRAIL.value,
                message=trip.reason,
                campaigns_paused=paused_by_oa.get(trip.oa_id, 0),
            )


def apply_guardrail(oa_id: int, day: date) -> bool:
    """If the OA's bad reports of `day` reached its guardrail, alert once and pause marketing if set to."""
    state = create_quota_state(oa_id)
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
    state = lock_quota_state(oa_id)
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
def update_guardrail(oa_id: int, share: Decimal, action: str, actor="system:quotas") -> OAQuotaState:
    """Set the OA's guardrail share of the violation threshold and its action (pause or alert only)."""
    if not Decimal("0") < share <= Decimal("1"):
        raise ValueError("share must be in (0, 1]")
    if action not in OAQuotaState.GuardrailAction.values:
        raise ValueError(f"unknown guardrail action {action!r}")
    create_quota_state(oa_id)
    OAQuotaState.objects.filter(oa_id=oa_id).update(guardrail_share=share, guardrail_action=action)
    record_audit_event(
        actor=actor_name(actor),
        action=actions.OA_GUARDRAIL,
        target_type="oas.officialaccount",
        target_id=oa_id,
        details={
            "oa_id": oa_id,
            "share": share,
            "share_percent": f"{_plain_number(share * 100)} %",
            "action": action,
        },
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
            action=actions.QUALITY_ALERT_RESOLVE,
            target_type="quotas.qualityalert",
            target_id=alert_id,
            details={"alert_id": alert_id},
        )
    return bool(resolved)


def run_daily_reviews(at: datetime | None = None) -> int:
    """The 00:00 job: close yesterday's last violation hour, then review every OA; returns reviews made."""
    at = at or timezone.now()
    day = today_in_vietnam(at)
    run_violation_checks(at=vietnam_midnight(day))
    return sum(
        review_oa(oa_id, day) is not None for oa_id in OAQuotaState.objects.values_list("oa_id", flat=True)
    )
