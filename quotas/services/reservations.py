"""Reservations: today's sends granted under the OA's row lock (daily limit, daily marketing share,
monthly marketing quota, per-recipient caps), and the release of what was not used."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, Sum

from oas.models import OfficialAccount
from quotas import rules
from quotas.models import (
    DailyQuotaUsage,
    OADailyStats,
    OAQuotaState,
    QuotaReservation,
    RecipientMarketingUsage,
)
from quotas.services.policies import rules_policy
from quotas.services.rollups import upsert_increment
from quotas.services.state import limit_on, lock_quota_state
from zalo_admin.lib.dates import today_in_vietnam


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


def _add_recipient_usage(oa_id: int, day: date, counts: Counter, *, sign: int = 1) -> None:
    """Add (sign 1) or take back (sign -1) every recipient's count of one batch in ONE statement:
    an INSERT ... SELECT over unnest(...) ON CONFLICT DO UPDATE (set-based, however large the
    batch). Taking back only touches existing rows (the reservation created them) and never goes
    below zero."""
    if not counts:
        return
    table = connection.ops.quote_name(RecipientMarketingUsage._meta.db_table)
    recipients = list(counts)
    amounts = [int(counts[r]) for r in recipients]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":  # SQLite (`make run` without DATABASE_URL): no arrays
            day = connection.ops.adapt_datefield_value(day)
            if sign > 0:
                cursor.executemany(
                    f"INSERT INTO {table} (oa_id, recipient, day, count) VALUES (%s, %s, %s, %s) "  # noqa: S608
                    "ON CONFLICT (oa_id, recipient, day) DO UPDATE SET count = count + excluded.count",
                    [(oa_id, r, day, n) for r, n in zip(recipients, amounts, strict=True)],
                )
            else:
                cursor.executemany(
                    f"UPDATE {table} SET count = MAX(0, count - %s) "  # noqa: S608
                    "WHERE oa_id = %s AND day = %s AND recipient = %s",
                    [(n, oa_id, day, r) for r, n in zip(recipients, amounts, strict=True)],
                )
        elif sign > 0:
            cursor.execute(
                f"INSERT INTO {table} (oa_id, recipient, day, count) "  # noqa: S608
                "SELECT %s, r, %s, n FROM unnest(%s::text[], %s::int[]) AS u(r, n) "
                f"ON CONFLICT (oa_id, recipient, day) DO UPDATE SET count = {table}.count + EXCLUDED.count",
                [oa_id, day, recipients, amounts],
            )
        else:
            cursor.execute(
                f"UPDATE {table} AS u SET count = GREATEST(0, u.count - v.n) "  # noqa: S608
                "FROM unnest(%s::text[], %s::int[]) AS v(r, n) "
                "WHERE u.oa_id = %s AND u.day = %s AND u.recipient = v.r",
                [recipients, amounts, oa_id, day],
            )


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

    Never exceeds the day's limit, the day's marketing share of the limit in force (tag 3), the OA's
    monthly marketing quota or a recipient's marketing caps, however many workers reserve at once
    (the OA's state row is locked for the decision). `limited_by` names what granted fewer than
    asked: `tag_not_allowed_at_level`, `daily_limit`, `daily_marketing_share`,
    `monthly_marketing_quota` or `recipient_cap` (the smallest room; on a tie, the first of these).
    With `recipients` (required for marketing under per-recipient caps) the grant names who may be
    sent to, in request order. A reservation granting nothing is returned unsaved.
    """
    oa_id = getattr(oa, "pk", oa)
    if recipients is not None:
        recipients = list(recipients)
        if len(recipients) != n:
            raise ValueError("recipients must list exactly n recipients")
    if n < 0:
        raise ValueError("n must not be negative")
    day = today_in_vietnam(now)
    state = lock_quota_state(oa_id)
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
    reserved, marketing_reserved = (
        DailyQuotaUsage.objects.filter(oa_id=oa_id, day=day)
        .values_list("reserved", "marketing_reserved")
        .first()
    ) or (0, 0)
    if limit is not None:
        rooms["daily_limit"] = max(0, limit - reserved)
    if is_marketing:
        share_room = rules.daily_marketing_share_room(policy, limit, marketing_reserved)
        if share_room is not None:
            rooms["daily_marketing_share"] = share_room
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
    upsert_increment(
        DailyQuotaUsage,
        {"oa_id": oa_id, "day": day},
        {"reserved": most, "marketing_reserved": most if is_marketing else 0},
    )
    if reservation.tracks_recipient_caps:
        _add_recipient_usage(oa_id, day, Counter(granted_recipients))
    reservation.save()
    return reservation


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
        _add_recipient_usage(held.oa_id, held.day, Counter(recipients), sign=-1)
    released_recipients = held.released_recipients + (recipients if held.recipients else [])
    QuotaReservation.objects.filter(pk=held.pk).update(
        released=F("released") + count, released_recipients=released_recipients
    )
    reservation.refresh_from_db()
    return count
