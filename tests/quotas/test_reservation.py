"""Quota reservation for the dispatcher: limits and caps hold, even with many workers at once."""

import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quotas.models import DailyQuotaUsage, OAQuotaState, QuotaReservation, RecipientMarketingUsage
from quotas.services import policies, reservations, rollups
from tests.quotas.conftest import make_oa, vn_moment

DAY = date(2026, 11, 10)
NOW = vn_moment(DAY, 9)


def phones(count: int, start: int = 0) -> list[str]:
    return [f"8490{index:07d}" for index in range(start, start + count)]


def reserved_today(oa) -> int:
    return DailyQuotaUsage.objects.filter(oa=oa, day=DAY).values_list("reserved", flat=True).first() or 0


@pytest.mark.django_db
def test_a_reservation_is_granted_up_to_the_days_limit():
    oa = make_oa(limit=1000)
    first = reservations.reserve(oa, 600, 1, now=NOW)
    second = reservations.reserve(oa, 600, 1, now=NOW)
    assert (first.granted, second.granted, second.limited_by) == (600, 400, "daily_limit")
    assert reservations.reserve(oa, 1, 1, now=NOW).granted == 0
    assert reserved_today(oa) == 1000


@pytest.mark.django_db
def test_the_limit_resets_on_the_next_vietnam_day():
    oa = make_oa(limit=1000)
    reservations.reserve(oa, 1000, 1, now=vn_moment(DAY, 23, 59))
    assert reservations.reserve(oa, 1000, 1, now=vn_moment(DAY + timedelta(days=1), 0, 0)).granted == 1000


@pytest.mark.django_db
def test_an_unrestricted_oa_gets_everything_it_asks_for():
    oa = make_oa(limit=None)
    assert reservations.reserve(oa, 10**7, 1, now=NOW).granted == 10**7


@pytest.mark.django_db
def test_a_pending_review_change_applies_from_its_day_even_before_the_job_ran():
    oa = make_oa(limit=1000, pending_limit=10000, pending_from_day=DAY)
    assert reservations.reserve(oa.pk, 5000, 1, now=NOW).granted == 5000


@pytest.mark.django_db
def test_released_sends_can_be_reserved_again():
    oa = make_oa(limit=1000)
    reservation = reservations.reserve(oa, 1000, 1, now=NOW)
    assert reservations.release(reservation, 300) == 300
    assert reservation.released == 300
    assert reservations.reserve(oa, 1000, 1, now=NOW).granted == 300


@pytest.mark.django_db
def test_releasing_more_than_is_held_is_refused():
    oa = make_oa(limit=1000)
    reservation = reservations.reserve(oa, 10, 1, now=NOW)
    reservations.release(reservation, 6)
    with pytest.raises(ValueError):
        reservations.release(reservation, 5)


@pytest.mark.django_db
def test_a_zbs_recipient_gets_one_marketing_message_a_day():
    oa = make_oa(limit=1000)
    recipients = phones(3)
    first = reservations.reserve(oa, 3, 3, recipients, now=NOW)
    assert first.recipients == recipients
    again = reservations.reserve(oa, 4, 3, [*phones(1), *phones(3, start=10)], now=NOW)
    assert again.recipients == phones(3, start=10)
    assert again.limited_by == "recipient_cap"
    tomorrow = reservations.reserve(oa, 1, 3, phones(1), now=vn_moment(DAY + timedelta(days=1)))
    assert tomorrow.granted == 1


@pytest.mark.django_db
def test_a_zbs_recipient_gets_at_most_thirty_marketing_messages_a_month():
    oa = make_oa(limit=1000)
    recipient = phones(1)
    granted = [
        reservations.reserve(
            oa, 1, 3, recipient, now=vn_moment(date(2026, 12, 1) + timedelta(days=d))
        ).granted
        for d in range(31)
    ]
    assert granted == [1] * 30 + [0]
    assert reservations.reserve(oa, 1, 3, recipient, now=vn_moment(date(2027, 1, 1))).granted == 1


@pytest.mark.django_db
def test_a_zns_recipient_gets_at_most_four_marketing_messages_a_month():
    oa = make_oa(policy_code="zns-2024", limit=20000)
    recipient = phones(1)
    granted = [reservations.reserve(oa, 2, 3, recipient * 2, now=NOW).granted for _ in range(3)]
    assert granted == [2, 2, 0]


@pytest.mark.django_db
def test_releasing_recipients_frees_their_caps():
    oa = make_oa(limit=1000)
    reservation = reservations.reserve(oa, 2, 3, phones(2), now=NOW)
    with pytest.raises(reservations.RecipientsRequired):
        reservations.release(reservation, 1)
    with pytest.raises(ValueError):
        reservations.release(reservation, phones(1, start=50))
    assert reservations.release(reservation, phones(1)) == 1
    with pytest.raises(ValueError):
        reservations.release(reservation, phones(1))
    assert reservations.reserve(oa, 1, 3, phones(1), now=NOW).granted == 1


@pytest.mark.django_db
def test_marketing_reservations_must_name_recipients_under_recipient_caps():
    oa = make_oa(limit=1000)
    with pytest.raises(reservations.RecipientsRequired):
        reservations.reserve(oa, 5, 3, now=NOW)


@pytest.mark.django_db
def test_zns_marketing_below_20000_is_refused():
    oa = make_oa(policy_code="zns-2024", limit=10000)
    reservation = reservations.reserve(oa, 5, 3, phones(5), now=NOW)
    assert (reservation.granted, reservation.limited_by, reservation.pk) == (
        0,
        "tag_not_allowed_at_level",
        None,
    )
    assert reservations.reserve(oa, 5, 1, now=NOW).granted == 5


@pytest.mark.django_db
def test_zns_marketing_stays_within_the_monthly_oa_quota():
    oa = make_oa(policy_code="zns-2024", limit=500000, first_marketing_day=date(2026, 1, 5))
    rollups.record_sent(oa.pk, vn_moment(date(2026, 9, 15)), count=10000, tag=1)
    rollups.record_sent(oa.pk, vn_moment(date(2026, 10, 15)), count=50000, tag=2)
    november = vn_moment(date(2026, 11, 3))
    first = reservations.reserve(oa, 6000, 3, phones(6000), now=november)
    second = reservations.reserve(oa, 6000, 3, phones(6000, start=6000), now=november)
    assert (first.granted, second.granted, second.limited_by) == (6000, 4000, "monthly_marketing_quota")


@pytest.mark.django_db
def test_zns_marketing_gets_the_bonus_in_the_first_marketing_month():
    oa = make_oa(policy_code="zns-2024", limit=500000)
    rollups.record_sent(oa.pk, vn_moment(date(2026, 10, 15)), count=60000, tag=1)
    november = vn_moment(date(2026, 11, 3))
    assert reservations.reserve(oa, 30000, 3, phones(30000), now=november).granted == 20000


@pytest.mark.django_db
def test_the_monthly_marketing_quota_looks_at_the_two_previous_calendar_months_only():
    oa = make_oa(policy_code="zns-2024", limit=500000, first_marketing_day=date(2026, 1, 5))
    rollups.record_sent(oa.pk, vn_moment(date(2026, 8, 31), 23, 59), count=60000, tag=1)  # too old
    rollups.record_sent(oa.pk, vn_moment(date(2026, 11, 1), 0, 0), count=60000, tag=1)  # this month
    rollups.record_sent(oa.pk, vn_moment(date(2026, 9, 1), 0, 0), count=600, tag=2)
    rollups.record_sent(oa.pk, vn_moment(date(2026, 10, 31), 23, 59), count=600, tag=3)  # marketing
    assert reservations.reserve(oa, 1000, 3, phones(1000), now=vn_moment(date(2026, 11, 2))).granted == 100


# --- concurrency -----------------------------------------------------------------------------------


def _hammer(oa_id: int, results: list, errors: list, barrier: threading.Barrier, tag: int, pool: list[str]):
    try:
        barrier.wait()
        for round_number in range(15):
            if tag == 3:
                start = round_number * 7 % len(pool)
                recipients = (pool + pool)[start : start + 7]
                reservation = reservations.reserve(oa_id, len(recipients), 3, recipients, now=NOW)
            else:
                reservation = reservations.reserve(oa_id, 37, tag, now=NOW)
            results.append(reservation)
    except Exception as error:  # surfaced by the test thread
        errors.append(error)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("tag", [1, 3])
def test_concurrent_workers_never_exceed_the_limit_or_the_caps(tag):
    oa = make_oa(limit=1000)
    pool = phones(60)
    results, errors, workers = [], [], 8
    barrier = threading.Barrier(workers)
    threads = [
        threading.Thread(target=_hammer, args=(oa.pk, results, errors, barrier, tag, pool))
        for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    granted = sum(reservation.granted for reservation in results)
    assert granted == reserved_today(oa)
    if tag == 3:
        per_recipient = Counter(r for reservation in results for r in reservation.recipients)
        assert max(per_recipient.values()) == 1  # ZBS: one marketing message per recipient per day
        assert granted == len(pool)
    else:
        assert granted == 1000  # 8 workers x 15 rounds x 37 asked: exactly the limit granted
    assert QuotaReservation.objects.filter(oa=oa).aggregate(total=Sum("granted"))["total"] == granted


# --- properties ------------------------------------------------------------------------------------

operation = st.tuples(
    st.sampled_from(["reserve", "release"]),
    st.sampled_from([1, 2, 3]),
    st.integers(min_value=0, max_value=400),
    st.lists(st.integers(min_value=0, max_value=9), max_size=8),
    st.integers(min_value=0, max_value=40),  # day offset within a two-month span
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    policy_code=st.sampled_from(["zbs-2026", "zns-2024"]),
    limit_index=st.integers(min_value=0, max_value=3),
    operations=st.lists(operation, min_size=1, max_size=25),
)
def test_no_sequence_of_reservations_and_releases_breaks_a_limit_or_a_cap(
    policy_code, limit_index, operations
):
    oa = make_oa(name=f"prop-{OAQuotaState.objects.count()}", policy_code=policy_code)
    state = OAQuotaState.objects.get(oa=oa)
    state.current_limit = state.policy.levels[limit_index + (3 if policy_code == "zns-2024" else 0)]
    state.save()
    policy = policies.rules_policy(state.policy)
    held: list[QuotaReservation] = []
    start = date(2026, 10, 20)
    for kind, tag, n, recipient_numbers, day_offset in operations:
        now = vn_moment(start + timedelta(days=day_offset))
        if kind == "reserve":
            recipients = [f"84900000{number}" for number in recipient_numbers] if tag == 3 else None
            asked = n if recipients is None else len(recipients)
            reservation = reservations.reserve(oa, asked, tag, recipients, now=now)
            assert reservation.granted <= asked
            if reservation.pk:
                held.append(reservation)
        elif held:
            reservation = held[n % len(held)]
            still = reservation.granted - reservation.released
            if reservation.recipients:
                unused = list(
                    (Counter(reservation.recipients) - Counter(reservation.released_recipients)).elements()
                )
                reservations.release(reservation, unused[: n % (len(unused) + 1)])
            else:
                reservations.release(reservation, n % (still + 1))
    for usage in DailyQuotaUsage.objects.filter(oa=oa):
        assert usage.reserved <= state.current_limit
        net = sum(r.granted - r.released for r in QuotaReservation.objects.filter(oa=oa, day=usage.day))
        assert usage.reserved == net
    per_day = Counter()
    per_month = Counter()
    for row in RecipientMarketingUsage.objects.filter(oa=oa):
        per_day[(row.recipient, row.day)] += row.count
        per_month[(row.recipient, row.day.replace(day=1))] += row.count
    if policy.recipient_marketing_per_day is not None:
        assert all(count <= policy.recipient_marketing_per_day for count in per_day.values())
    assert all(count <= policy.recipient_marketing_per_month for count in per_month.values())


@pytest.mark.django_db
def test_a_transactional_reservation_with_recipients_is_released_by_count_without_touching_caps():
    oa = make_oa(limit=1000)
    marketing = reservations.reserve(oa, 1, 3, phones(1), now=NOW)
    orders = reservations.reserve(oa, 3, 1, phones(3), now=NOW)
    assert orders.recipients == phones(3)
    assert reservations.release(orders, 2) == 2
    assert reservations.release(orders, phones(1)) == 1
    assert RecipientMarketingUsage.objects.get(oa=oa, recipient=phones(1)[0]).count == 1
    assert marketing.tracks_recipient_caps and not orders.tracks_recipient_caps
    assert reserved_today(oa) == 1
