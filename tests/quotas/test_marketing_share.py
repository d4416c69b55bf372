"""The daily marketing share (quota-rules.md, "Daily marketing share"): marketing (tag 3) sent in one
Vietnam day at most 25 % of the limit in force (zns-2024), 512,000 at an unrestricted limit; in the
rules, the reservations, the selector of the campaign builder, the quality pages, the simulator."""

import json
import sys
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quotas import policy_data, rules, selectors
from quotas.models import DailyQuotaUsage, OAQuotaState, Policy
from quotas.services import levels, policies, reservations, rollups
from tests.quotas.conftest import make_oa, vn_moment

DAY = date(2026, 11, 10)
NOW = vn_moment(DAY, 9)
ZNS_LEVELS = (500, 2000, 5000, 10000, 20000, 50000, 100000, 500000)


def phones(count: int, start: int = 0) -> list[str]:
    return [f"8491{index:07d}" for index in range(start, start + count)]


def unrestricted_zns(zns: rules.Policy) -> rules.Policy:
    """zns-2024 with an unrestricted top level (Zalo's ZNS ladder has none; a later version may)."""
    return replace(zns, code="zns-unrestricted", levels=(*zns.levels, None))


def marketing_oa(limit: int, name: str = "Shop", *, day: date = DAY, base: int = 6 * 10**6, **state):
    """A zns-2024 OA at `limit` whose monthly marketing quota in `day`'s month is large: `base`
    tag 1 sends in the month before (quota ⌊base / 6⌋, plus the first month's bonus)."""
    oa = make_oa(name=name, policy_code="zns-2024", limit=limit, **state)
    if base:
        previous_month = rules.month_of(day) - timedelta(days=1)
        rollups.record_sent(oa.pk, vn_moment(previous_month), count=base, tag=1)
    return oa


# --- policy data -----------------------------------------------------------------------------------


def test_zns_2024_has_the_share_and_the_unrestricted_cap_and_zbs_has_none(zns, zbs):
    assert (zns.marketing_daily_share, zns.marketing_daily_cap_unrestricted) == (Decimal("0.25"), 512000)
    assert (zbs.marketing_daily_share, zbs.marketing_daily_cap_unrestricted) == (None, None)


@pytest.mark.django_db
def test_the_migration_sets_the_share_on_versions_of_the_spec_policies_too():
    previous = Policy.objects.get(code="zns-2024")
    version = policies.new_policy_version(previous.pk, {"penalty_zone": 400}, "system:test")
    other = policies.new_policy_version(previous.pk, {"code": "zns-custom"}, "system:test")
    Policy.objects.filter(pk__in=[version.pk, other.pk]).update(
        marketing_daily_share=None, marketing_daily_cap_unrestricted=None
    )  # as copied before the fields existed
    policy_data.load_daily_marketing_share(apps)
    version.refresh_from_db()
    other.refresh_from_db()
    assert version.code == "zns-2024-v2"
    assert (version.marketing_daily_share, version.marketing_daily_cap_unrestricted) == (
        Decimal("0.25"),
        512000,
    )
    assert (other.marketing_daily_share, other.marketing_daily_cap_unrestricted) == (None, None)
    assert Policy.objects.get(code="zbs-2026").marketing_daily_share is None


@pytest.mark.django_db
def test_a_policy_share_above_one_is_refused_by_the_form_validation(zns):
    row = Policy.objects.get(code="zns-2024")
    row.marketing_daily_share = Decimal("1.5")
    with pytest.raises(Exception, match="marketing_daily_share|between 0 and 1"):
        row.full_clean()
    with pytest.raises(ValueError):
        replace(zns, marketing_daily_share=Decimal("1.01"))


# --- rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "allowance"),
    [
        (500, 125),
        (2000, 500),
        (5000, 1250),
        (10000, 2500),
        (20000, 5000),
        (50000, 12500),
        (100000, 25000),
        (500000, 125000),
    ],
)
def test_the_daily_allowance_is_a_quarter_of_each_zns_level(zns, limit, allowance):
    assert rules.daily_marketing_allowance(zns, limit) == allowance


def test_the_allowance_rounds_down(zns):
    assert rules.daily_marketing_allowance(zns, 1003) == 250  # 250.75
    assert rules.daily_marketing_allowance(zns, 1) == 0
    assert rules.daily_marketing_allowance(replace(zns, marketing_daily_share=Decimal("0.333333")), 3) == 0


def test_an_unrestricted_limit_gets_the_cap_not_a_share(zns):
    policy = unrestricted_zns(zns)
    assert rules.daily_marketing_allowance(policy, None) == 512000
    assert rules.daily_marketing_share_room(policy, None, 511999) == 1
    assert rules.daily_marketing_share_room(policy, None, 512000) == 0
    assert rules.daily_marketing_share_room(policy, None, 600000) == 0


def test_the_room_at_the_boundary_of_the_share(zns):
    assert rules.daily_marketing_share_room(zns, 20000, 4999) == 1
    assert rules.daily_marketing_share_room(zns, 20000, 5000) == 0
    assert rules.daily_marketing_share_room(zns, 20000, 5001) == 0
    assert rules.daily_marketing_share_room(zns, 20000, 0) == 5000


def test_zbs_has_no_daily_share_at_any_level(zbs):
    for limit in zbs.levels:
        assert rules.daily_marketing_allowance(zbs, limit) is None
        assert rules.daily_marketing_share_room(zbs, limit, 10**9) is None


# --- reservations ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_marketing_is_granted_up_to_exactly_25_percent_of_the_limit():
    oa = marketing_oa(20000)
    first = reservations.reserve(oa, 4999, 3, phones(4999), now=NOW)
    second = reservations.reserve(oa, 1, 3, phones(1, start=4999), now=NOW)
    third = reservations.reserve(oa, 1, 3, phones(1, start=5000), now=NOW)
    assert (first.granted, first.limited_by) == (4999, "")
    assert (second.granted, second.limited_by) == (1, "")  # the 5,000th: 25 % itself is allowed
    assert (third.granted, third.limited_by, third.pk) == (0, "daily_marketing_share", None)


@pytest.mark.django_db
def test_a_reservation_over_the_share_is_cut_and_names_the_share():
    oa = marketing_oa(50000)
    reservation = reservations.reserve(oa, 13000, 3, phones(13000), now=NOW)
    assert (reservation.granted, reservation.limited_by) == (12500, "daily_marketing_share")
    assert reservation.recipients == phones(12500)


@pytest.mark.django_db
def test_other_tags_neither_count_towards_the_share_nor_are_stopped_by_it():
    oa = marketing_oa(20000)
    assert reservations.reserve(oa, 14000, 1, now=NOW).granted == 14000
    assert reservations.reserve(oa, 5000, 3, phones(5000), now=NOW).granted == 5000  # tags 1/2 not counted
    orders = reservations.reserve(oa, 2000, 2, now=NOW)
    assert (orders.granted, orders.limited_by) == (1000, "daily_limit")  # the share does not stop tag 2


@pytest.mark.django_db
def test_the_days_limit_stops_marketing_before_the_share_when_it_is_smaller():
    oa = marketing_oa(20000)
    reservations.reserve(oa, 18000, 1, now=NOW)
    reservation = reservations.reserve(oa, 3000, 3, phones(3000), now=NOW)
    assert (reservation.granted, reservation.limited_by) == (2000, "daily_limit")


@pytest.mark.django_db
def test_a_tie_between_the_days_limit_and_the_share_names_the_days_limit():
    oa = marketing_oa(20000)
    reservations.reserve(oa, 15000, 1, now=NOW)  # 5,000 left of the limit, 5,000 of the share
    reservation = reservations.reserve(oa, 6000, 3, phones(6000), now=NOW)
    assert (reservation.granted, reservation.limited_by) == (5000, "daily_limit")


@pytest.mark.django_db
def test_the_monthly_quota_stops_marketing_when_it_is_smaller_than_the_share():
    # No bonus this month; 60,000 tag 1 in October: a quota of 10,000 for November.
    oa = marketing_oa(50000, base=60000, first_marketing_day=date(2026, 1, 5))
    first = reservations.reserve(oa, 9000, 3, phones(9000), now=NOW)
    second = reservations.reserve(oa, 3000, 3, phones(3000, start=9000), now=NOW)
    assert (first.granted, second.granted, second.limited_by) == (9000, 1000, "monthly_marketing_quota")


@pytest.mark.django_db
def test_the_share_is_a_daily_one_and_resets_at_vietnam_midnight():
    oa = marketing_oa(20000)
    late = reservations.reserve(oa, 5000, 3, phones(5000), now=vn_moment(DAY, 23, 59))
    tomorrow = vn_moment(DAY + timedelta(days=1), 0, 0)
    assert late.granted == 5000
    assert reservations.reserve(oa, 1, 3, phones(1, start=5000), now=vn_moment(DAY, 23, 59)).granted == 0
    assert reservations.reserve(oa, 5000, 3, phones(5000, start=5000), now=tomorrow).granted == 5000


@pytest.mark.django_db
def test_released_marketing_restores_the_share():
    oa = marketing_oa(20000)
    reservation = reservations.reserve(oa, 5000, 3, phones(5000), now=NOW)
    assert (
        reservations.reserve(oa, 1, 3, phones(1, start=5000), now=NOW).limited_by == "daily_marketing_share"
    )
    assert reservations.release(reservation, phones(300)) == 300
    assert selectors.remaining_marketing_share_today(oa.pk, DAY) == 300
    again = reservations.reserve(oa, 500, 3, phones(500, start=5000), now=NOW)
    assert (again.granted, again.limited_by) == (300, "daily_marketing_share")


@pytest.mark.django_db
def test_a_level_drop_mid_day_lowers_the_share_at_once():
    oa = marketing_oa(50000)
    assert reservations.reserve(oa, 8000, 3, phones(8000), now=NOW).granted == 8000
    levels.apply_violation(oa.pk, DAY, 10, bad_reports=1001)  # 50,000 → 20,000 for the rest of the day
    assert OAQuotaState.objects.get(oa=oa).current_limit == 20000
    after = reservations.reserve(oa, 1, 3, phones(1, start=8000), now=vn_moment(DAY, 11))
    assert (after.granted, after.limited_by) == (0, "daily_marketing_share")  # 8,000 already > 5,000
    assert reservations.reserve(oa, 1000, 1, now=vn_moment(DAY, 11)).granted == 1000


@pytest.mark.django_db
def test_a_review_change_due_today_sets_the_share_from_00_00():
    oa = marketing_oa(20000, pending_limit=50000, pending_from_day=DAY)  # the job has not run yet
    reservation = reservations.reserve(oa, 13000, 3, phones(13000), now=vn_moment(DAY, 0, 0))
    assert (reservation.granted, reservation.limited_by) == (12500, "daily_marketing_share")
    yesterday = reservations.reserve(
        oa, 6000, 3, phones(6000, start=20000), now=vn_moment(DAY - timedelta(days=1), 23, 59)
    )
    assert (yesterday.granted, yesterday.limited_by) == (5000, "daily_marketing_share")


@pytest.mark.django_db
def test_an_unrestricted_oa_is_capped_at_512000_marketing_a_day():
    previous = Policy.objects.get(code="zns-2024")
    # A version with an unrestricted top level and without per-recipient caps (so that half a
    # million recipients need not be named).
    changes = {"levels": [*previous.levels, None], "code": "zns-open", "recipient_marketing_per_month": None}
    version = policies.new_policy_version(previous.pk, changes, "system:test")
    oa = make_oa(name="Open", policy_code=version.code, limit=None, first_marketing_day=DAY)
    # A month with a large base so that the monthly quota is not what stops it.
    rollups.record_sent(oa.pk, vn_moment(date(2026, 10, 15)), count=6 * 10**6, tag=1)
    reservation = reservations.reserve(oa, 512001, 3, now=NOW)
    assert (reservation.granted, reservation.limited_by) == (512000, "daily_marketing_share")
    assert reservations.reserve(oa, 10**6, 1, now=NOW).granted == 10**6  # no daily limit for the rest


@pytest.mark.django_db
def test_zbs_marketing_has_no_daily_share():
    oa = make_oa(name="Zbs", policy_code="zbs-2026", limit=1000)
    reservation = reservations.reserve(oa, 1000, 3, phones(1000), now=NOW)
    assert (reservation.granted, reservation.limited_by) == (1000, "")
    assert selectors.marketing_share_today(oa.pk, DAY).applies is False
    assert selectors.remaining_marketing_share_today(oa.pk, DAY) is None


# --- selector for the campaign builder --------------------------------------------------------------


@pytest.mark.django_db
def test_the_selector_gives_the_remaining_share_today_and_writes_nothing(django_assert_max_num_queries):
    oa = marketing_oa(20000)
    reservations.reserve(oa, 1200, 3, phones(1200), now=NOW)
    reservations.reserve(oa, 3000, 1, now=NOW)
    usage_before = list(DailyQuotaUsage.objects.values_list("reserved", "marketing_reserved"))
    with django_assert_max_num_queries(2):
        share = selectors.marketing_share_today(oa.pk, DAY)
    assert (share.limit, share.allowance, share.used, share.remaining) == (20000, 5000, 1200, 3800)
    assert (share.share, share.unrestricted_cap, share.marketing_allowed) == (Decimal("0.25"), 512000, True)
    assert selectors.remaining_marketing_share_today(oa.pk, DAY) == 3800
    assert selectors.remaining_marketing_share_today(oa.pk, DAY + timedelta(days=1)) == 5000
    assert list(DailyQuotaUsage.objects.values_list("reserved", "marketing_reserved")) == usage_before


@pytest.mark.django_db
def test_the_selector_says_no_marketing_below_the_marketing_level():
    oa = marketing_oa(10000)
    share = selectors.marketing_share_today(oa.pk, DAY)
    assert (share.allowance, share.remaining, share.marketing_allowed) == (2500, 2500, False)
    assert selectors.remaining_marketing_share_today(oa.pk, DAY) == 0


@pytest.mark.django_db
def test_the_selector_never_creates_a_quota_state():
    from oas.models import OfficialAccount

    bare = OfficialAccount.objects.create(name="Bare", zalo_oa_id="oa-bare")
    OAQuotaState.objects.filter(oa=bare).delete()
    with pytest.raises(OAQuotaState.DoesNotExist):
        selectors.marketing_share_today(bare.pk)
    assert not OAQuotaState.objects.filter(oa=bare).exists()


# --- pages -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_oa_page_shows_the_share_used_and_remaining(client, marketer):
    from zalo_admin.lib import dates

    oa = marketing_oa(20000, day=dates.today_in_vietnam())
    reservations.reserve(oa, 1200, 3, phones(1200), now=vn_moment(dates.today_in_vietnam(), 12))
    client.force_login(marketer)
    html = client.get(reverse("quotas:oa_detail", args=[oa.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    share = html.split('data-testid="marketing-share"', 1)[1].split("</dd>", 1)[0]
    assert "5,000 a day (25 % of today's limit of 20,000)" in share
    assert (
        '1,200 reserved today, <strong data-testid="marketing-share-remaining">3,800</strong> remaining'
        in share
    )


@pytest.mark.django_db
def test_the_overview_shows_marketing_today_against_the_share(client, quality_admin):
    from zalo_admin.lib import dates

    oa = marketing_oa(50000, day=dates.today_in_vietnam())
    make_oa(name="Zbs", policy_code="zbs-2026")
    make_oa(name="Small", policy_code="zns-2024", limit=5000)
    reservations.reserve(oa, 700, 3, phones(700), now=vn_moment(dates.today_in_vietnam(), 12))
    client.force_login(quality_admin)
    html = client.get(reverse("quotas:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    cells = [part.split("</td>", 1)[0] for part in html.split('data-testid="marketing-share">')[1:]]
    assert len(cells) == 3
    assert any(
        '"marketing-share-used">700</span> / <span data-testid="marketing-share-allowance">12,500' in c
        for c in cells
    )
    assert any("No daily share under this policy" in c for c in cells)
    assert any("Marketing not allowed at this level" in c for c in cells)


@pytest.mark.django_db
def test_the_policies_page_shows_the_daily_share(client, marketer):
    client.force_login(marketer)
    html = client.get(reverse("quotas:policies"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "25 % of the daily limit" in html
    assert "at most 512,000 a day when unrestricted" in html


# --- simulator -------------------------------------------------------------------------------------


def simulate(scenario: dict) -> dict:
    out = StringIO()
    sys.stdin, saved = StringIO(json.dumps(scenario)), sys.stdin
    try:
        call_command("quota_simulate", "-", stdout=out)
    finally:
        sys.stdin = saved
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_the_simulator_accepts_marketing_up_to_the_share_of_the_limit_at_midnight():
    scenario = {
        "policy": "zns-2024",
        "initial_limit": 20000,
        "days": [
            {"sent": 10000, "marketing": 6000, "bad_reports": 0},
            {"sent": 10000, "marketing": 5000, "bad_reports": 0},
            {"sent": 22000, "marketing": 4000, "bad_reports": 0},
            {"sent": 100, "bad_reports": 0},
        ],
    }
    days = simulate(scenario)["days"]
    got = [(d["sent"], d["rejected"], d["marketing_sent"], d["marketing_rejected"]) for d in days]
    assert got == [(9000, 1000, 5000, 1000), (10000, 0, 5000, 0), (20000, 2000, 4000, 0), (100, 0, 0, 0)]


@pytest.mark.django_db
def test_the_simulator_output_is_unchanged_without_marketing():
    days = simulate(
        {"policy": "zns-2024", "initial_limit": 20000, "days": [{"sent": 100, "bad_reports": 0}]}
    )["days"]
    assert "marketing_sent" not in days[0] and "marketing_rejected" not in days[0]


@pytest.mark.django_db
def test_the_simulator_uses_the_limit_of_each_day_for_the_share():
    hourly = [0] * 24
    hourly[8] = 1001  # > 2 % of 50,000: a violation at the end of hour 8 drops to 20,000
    scenario = {
        "policy": "zns-2024",
        "initial_limit": 50000,
        "days": [
            {"sent": 20000, "marketing": 20000, "bad_reports": 1001, "bad_reports_by_hour": hourly},
            {"sent": 20000, "marketing": 20000, "bad_reports": 0},
        ],
    }
    days = simulate(scenario)["days"]
    assert (days[0]["limit"], days[0]["limit_end"], days[0]["marketing_sent"]) == (50000, 20000, 12500)
    assert (days[1]["limit"], days[1]["marketing_sent"], days[1]["marketing_rejected"]) == (
        20000,
        5000,
        15000,
    )


@pytest.mark.django_db
def test_the_simulator_refuses_marketing_below_the_marketing_level_and_has_no_share_for_zbs():
    zns = simulate(
        {
            "policy": "zns-2024",
            "initial_limit": 10000,
            "days": [{"sent": 100, "marketing": 100, "bad_reports": 0}],
        }
    )
    assert (zns["days"][0]["sent"], zns["days"][0]["marketing_rejected"]) == (0, 100)
    zbs = simulate(
        {
            "policy": "zbs-2026",
            "initial_limit": None,
            "days": [{"sent": 900000, "marketing": 900000, "bad_reports": 0}],
        }
    )
    assert (zbs["days"][0]["sent"], zbs["days"][0]["marketing_sent"]) == (900000, 900000)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "message"),
    [
        (
            {"sent": 10, "marketing": 11, "bad_reports": 0},
            "day 1 marketing (11) must not be more than its sent (10)",
        ),
        ({"sent": 10, "marketing": -1, "bad_reports": 0}, "day 1 marketing must not be negative, got -1"),
        ({"sent": 10, "marketing": "5", "bad_reports": 0}, "day 1 marketing must be a whole number, got '5'"),
    ],
)
def test_the_simulator_refuses_a_bad_marketing_count_with_one_line(day, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        simulate({"policy": "zns-2024", "days": [day]})
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().endswith(message)


def test_the_rules_simulation_caps_marketing_at_the_unrestricted_cap(zns):
    policy = unrestricted_zns(zns)
    result = rules.simulate(
        policy,
        [600000],
        [[0] * 24],
        initial_limit=None,
        review_clock_start=None,
        marketing_requested=[600000],
    )
    day = result.days[0]
    assert (day.sent, day.rejected, day.marketing_sent, day.marketing_rejected) == (
        512000,
        88000,
        512000,
        88000,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit_index=st.integers(min_value=0, max_value=7),
    days=st.lists(
        st.tuples(st.integers(min_value=0, max_value=700000), st.integers(min_value=0, max_value=100)),
        min_size=1,
        max_size=20,
    ),
)
def test_a_simulation_never_accepts_marketing_over_the_share_or_below_the_level(zns, limit_index, days):
    requested = [total for total, _percent in days]
    marketing = [total * percent // 100 for total, percent in days]
    result = rules.simulate(
        zns,
        requested,
        [[0] * 24] * len(days),
        initial_limit=ZNS_LEVELS[limit_index],
        review_clock_start=None,
        marketing_requested=marketing,
    )
    for day, asked in zip(result.days, marketing, strict=True):
        assert day.marketing_sent + day.marketing_rejected == asked
        assert day.marketing_sent <= day.sent <= day.limit
        assert day.marketing_sent <= day.limit * Decimal("0.25")
        if day.limit < 20000:
            assert day.marketing_sent == 0
        elif asked <= day.limit // 4:
            assert day.marketing_sent == asked
