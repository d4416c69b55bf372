"""The pure rule functions, on the policies the data migration loads."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quotas import rules
from quotas.rules import DayTotals, Review, Tier

QUIET_DAY = [0] * 24


def only_total(bad_reports: int) -> list[int]:
    return [0] * 23 + [bad_reports]


def run(policy, sent, bad=None, *, initial_limit=..., clock=None, history=()):
    bad = bad or [QUIET_DAY] * len(sent)
    limit = policy.starting_level if initial_limit is ... else initial_limit
    return rules.simulate(policy, sent, bad, initial_limit=limit, review_clock_start=clock, history=history)


def test_the_two_policies_are_loaded_as_the_spec_says(zns, zbs):
    assert zns.levels == (500, 2000, 5000, 10000, 20000, 50000, 100000, 500000)
    assert zbs.levels == (1000, 10000, 20000, 50000, None)
    assert (zns.starting_level, zbs.starting_level) == (5000, 20000)
    assert (zns.penalty_zone, zbs.penalty_zone) == (500, 1000)
    assert (zns.high_max_rate, zns.medium_max_rate, zns.violation_rate) == (
        Decimal("0.001"),
        Decimal("0.005"),
        Decimal("0.02"),
    )


def test_a_policy_rejects_unrestricted_below_the_top(zbs):
    with pytest.raises(ValueError):
        replace(zbs, levels=(1000, None, 20000))


def test_a_policy_rejects_levels_out_of_order(zbs):
    with pytest.raises(ValueError):
        replace(zbs, levels=(10000, 1000, 20000))


# --- months --------------------------------------------------------------------------------------


def test_previous_months_cross_the_year_boundary():
    assert rules.previous_months(date(2026, 1, 15), 2) == [date(2025, 11, 1), date(2025, 12, 1)]
    assert rules.previous_months(date(2026, 3, 31), 2) == [date(2026, 1, 1), date(2026, 2, 1)]


# --- quality tier --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "bad", "tier"),
    [
        (0, 0, Tier.UNDEFINED),
        (0, 3, Tier.UNDEFINED),
        (10000, 0, Tier.HIGH),
        (10000, 10, Tier.HIGH),  # exactly 0.1 %
        (10000, 11, Tier.MEDIUM),
        (10000, 50, Tier.MEDIUM),  # exactly 0.5 %
        (10000, 51, Tier.LOW),
    ],
)
def test_the_quality_tier_follows_the_thresholds_inclusively(zbs, sent, bad, tier):
    assert rules.quality_tier(zbs, DayTotals(sent, bad)) is tier


# --- reviews -------------------------------------------------------------------------------------


def test_a_high_window_with_twice_the_limit_upgrades_one_level(zns):
    outcome = rules.daily_review(zns, 5000, DayTotals(10000, 0))
    assert (outcome.decision, outcome.new_limit) == (Review.UPGRADE, 10000)


def test_a_high_window_just_below_twice_the_limit_holds(zns):
    assert rules.daily_review(zns, 5000, DayTotals(9999, 0)).decision is Review.HOLD


def test_a_low_window_downgrades_one_level(zns):
    outcome = rules.daily_review(zns, 5000, DayTotals(1000, 10))
    assert (outcome.decision, outcome.new_limit) == (Review.DOWNGRADE, 2000)


def test_a_medium_window_holds(zns):
    assert rules.daily_review(zns, 5000, DayTotals(10000, 30)).decision is Review.HOLD


def test_an_undefined_window_holds(zns):
    outcome = rules.daily_review(zns, 5000, DayTotals(0, 0))
    assert (outcome.decision, outcome.tier) == (Review.HOLD, Tier.UNDEFINED)


def test_the_top_level_cannot_upgrade(zns):
    assert rules.daily_review(zns, 500000, DayTotals(2_000_000, 0)).decision is Review.HOLD


def test_unrestricted_cannot_upgrade_but_can_downgrade(zbs):
    assert rules.daily_review(zbs, None, DayTotals(10**7, 0)).decision is Review.HOLD
    assert rules.daily_review(zbs, None, DayTotals(1000, 100)).new_limit == 50000


def test_the_bottom_level_cannot_downgrade(zbs):
    assert rules.daily_review(zbs, 1000, DayTotals(1000, 100)).decision is Review.HOLD


def test_a_review_is_due_from_six_days_after_the_clock_starts(zbs):
    assert not rules.review_is_due(zbs, 2, 7)
    assert rules.review_is_due(zbs, 2, 8)
    assert rules.review_is_due(zbs, 2, 30)
    assert not rules.review_is_due(zbs, None, 30)


def test_nothing_is_reviewed_before_the_first_send(zbs):
    result = run(zbs, [0] * 20)
    assert all(day.review is None for day in result.days)
    assert result.final_limit == 20000


def test_the_first_review_comes_seven_days_after_the_first_send_day(zbs):
    result = run(zbs, [0, 0, 20000, 20000] + [0] * 8)
    reviews = [day.review for day in result.days]
    assert reviews.index(Review.UPGRADE) + 1 == 10  # first send on day 3 -> S = 4 -> review on day 10
    assert result.days[10].limit == 50000


def test_after_a_change_the_next_change_waits_seven_days(zbs):
    result = run(zbs, [40000] * 20, initial_limit=20000, clock=1)
    changes = [day.day for day in result.days if day.review is Review.UPGRADE]
    assert changes == [7, 14]  # 20,000 -> 50,000 on day 8, 50,000 -> unrestricted on day 15
    assert result.days[7].limit == 50000
    assert result.days[14].limit is None


def test_reviews_keep_running_daily_while_they_hold(zbs):
    result = run(zbs, [1000] * 12, initial_limit=20000, clock=1)
    assert [day.review for day in result.days][6:] == [Review.HOLD] * 6


def test_days_before_the_first_day_count_as_zero(zns):
    # Clock started before day 1: the review on day 3 sees only days 1 and 2 of sends.
    result = run(zns, [5000, 5000, 0], initial_limit=5000, clock=-3)
    assert result.days[2].review is Review.UPGRADE


def test_history_before_day_one_counts_in_the_window(zns):
    result = run(zns, [0], initial_limit=5000, clock=-10, history=[DayTotals(10000, 0)])
    assert result.days[0].review is Review.UPGRADE
    assert result.final_limit == 10000


def test_a_day_with_no_sends_still_counts_in_the_window(zbs):
    result = run(zbs, [10000, 0, 0, 0, 0, 0, 0, 0, 0], initial_limit=20000, clock=1)
    assert result.days[7].quality_7d is Tier.HIGH  # day 1 still in the window
    assert result.days[8].quality_7d is Tier.UNDEFINED  # only empty days left


# --- automatic violations ------------------------------------------------------------------------


def test_a_violation_needs_more_than_two_percent_of_the_limit(zbs):
    assert not rules.is_violation(zbs, 20000, 400)
    assert rules.is_violation(zbs, 20000, 401)


def test_the_unrestricted_violation_threshold_is_two_percent_of_the_highest_finite_level(zbs):
    assert rules.violation_threshold(zbs, None) == 1000


def test_a_violation_drops_one_level_at_once(zbs):
    hourly = [0] * 24
    hourly[3] = 401
    day = run(zbs, [100], [hourly]).days[0]
    assert (day.limit, day.limit_end, day.violation_hour) == (20000, 10000, 3)


def test_a_violation_happens_at_most_once_a_day(zbs):
    hourly = [0] * 24
    hourly[1], hourly[20] = 401, 5000
    result = run(zbs, [100], [hourly])
    assert result.days[0].limit_end == 10000


def test_a_violation_ignores_the_seven_day_wait(zbs):
    result = run(zbs, [100, 100], [only_total(401), only_total(201)], initial_limit=20000, clock=1)
    assert [day.limit_end for day in result.days] == [10000, 1000]


def test_a_violation_at_the_bottom_is_recorded_but_the_level_stays(zbs):
    day = run(zbs, [10], [only_total(21)], initial_limit=1000).days[0]
    assert (day.violation_hour, day.limit_end) == (23, 1000)


def test_a_violation_the_day_an_upgrade_was_due_cancels_it(zbs):
    sent = [20000, 20000, 0, 0, 0, 0, 0]
    bad = [QUIET_DAY] * 6 + [only_total(401)]
    result = run(zbs, sent, bad, initial_limit=20000, clock=1)
    last = result.days[-1]
    assert last.review is Review.UPGRADE
    assert (last.limit, last.limit_end, last.violation_hour) == (20000, 10000, 23)
    assert result.final_limit == 10000


def test_a_violation_restarts_the_review_clock_on_its_day(zbs):
    sent = [20000] * 14
    bad = [only_total(401)] + [QUIET_DAY] * 13
    result = run(zbs, sent, bad, initial_limit=20000, clock=-20)
    reviews = [day.day for day in result.days if day.review is not None]
    assert reviews[:2] == [1, 7]  # reviewed at 00:00 of day 1, violation that day: S = 1 -> next on day 7


def test_an_unrestricted_oa_violates_above_two_percent_of_50000(zbs):
    day = run(zbs, [10**6], [only_total(1001)], initial_limit=None).days[0]
    assert (day.limit, day.limit_end) == (None, 50000)


# --- limits and sending -------------------------------------------------------------------------


def test_a_pending_review_change_counts_from_its_day():
    assert rules.effective_limit(20000, 50000, 10, 9) == 20000
    assert rules.effective_limit(20000, 50000, 10, 10) == 50000
    assert rules.effective_limit(50000, None, 10, 11) is None
    assert rules.effective_limit(20000, None, None, 11) == 20000


def test_sends_above_the_limit_are_rejected():
    assert rules.successful_sends(500, 800) == 500
    assert rules.successful_sends(None, 10**9) == 10**9


def test_zns_marketing_needs_the_20000_level(zns):
    assert not rules.can_send_tag(zns, 10000, 3)
    assert rules.can_send_tag(zns, 20000, 3)
    assert rules.can_send_tag(zns, 500, 1)
    assert rules.can_send_tag(zns, 500, 2)


def test_zbs_marketing_is_allowed_at_any_level(zbs):
    assert rules.can_send_tag(zbs, 1000, 3)
    assert rules.can_send_tag(zbs, None, 3)


def test_the_penalty_zone_is_the_lowest_level(zns, zbs):
    assert rules.is_in_penalty_zone(zns, 500)
    assert not rules.is_in_penalty_zone(zns, 2000)
    assert not rules.is_in_penalty_zone(zbs, None)


# --- marketing quotas ----------------------------------------------------------------------------


def test_the_zns_monthly_marketing_quota_is_a_sixth_of_two_months_of_tag_1_and_2(zns):
    # Seed 003: 10,000 in September + 50,000 in October -> 10,000 in November.
    assert rules.monthly_marketing_quota(zns, 60000, date(2026, 5, 3), date(2026, 11, 1)) == 10000


def test_the_zns_monthly_marketing_quota_rounds_down(zns):
    assert rules.monthly_marketing_quota(zns, 59999, date(2026, 5, 3), date(2026, 11, 1)) == 9999


def test_the_first_marketing_month_adds_10000(zns):
    assert rules.monthly_marketing_quota(zns, 60000, date(2026, 11, 20), date(2026, 11, 1)) == 20000
    assert rules.monthly_marketing_quota(zns, 60000, None, date(2026, 11, 1)) == 20000
    assert rules.monthly_marketing_quota(zns, 60000, date(2026, 10, 31), date(2026, 11, 1)) == 10000


def test_zbs_has_no_oa_marketing_quota(zbs):
    assert rules.monthly_marketing_quota(zbs, 60000, None, date(2026, 11, 1)) is None


def test_a_zns_recipient_gets_at_most_four_marketing_messages_a_month(zns):
    assert rules.recipient_marketing_allowance(zns, 0, 3) == 1
    assert rules.recipient_marketing_allowance(zns, 3, 4) == 0
    assert rules.recipient_marketing_allowance(zns, 9, 0) == 4  # no daily cap


def test_a_zbs_recipient_gets_one_marketing_message_a_day_and_thirty_a_month(zbs):
    assert rules.recipient_marketing_allowance(zbs, 0, 0) == 1
    assert rules.recipient_marketing_allowance(zbs, 1, 1) == 0
    assert rules.recipient_marketing_allowance(zbs, 0, 30) == 0
    assert rules.recipient_marketing_allowance(zbs, 0, 29) == 1


def test_without_caps_there_is_no_recipient_allowance(zbs):
    uncapped = replace(zbs, recipient_marketing_per_day=None, recipient_marketing_per_month=None)
    assert rules.recipient_marketing_allowance(uncapped, 5, 50) is None


# --- guardrail and forecast ---------------------------------------------------------------------


def test_the_guardrail_trips_at_75_percent_of_the_violation_threshold(zbs):
    assert rules.guardrail_threshold(zbs, 20000, Decimal("0.75")) == 300
    assert not rules.guardrail_reached(zbs, 20000, Decimal("0.75"), 299)
    assert rules.guardrail_reached(zbs, 20000, Decimal("0.75"), 300)


def test_the_daily_volume_for_an_upgrade_fills_the_window(zbs):
    assert rules.daily_volume_for_upgrade(zbs, 20000) == 5715  # ceil(40,000 / 7)
    assert rules.daily_volume_for_upgrade(zbs, None) is None


def test_a_forecast_at_the_upgrade_volume_climbs_one_level_a_week(zbs):
    result = rules.forecast(
        zbs,
        limit=20000,
        review_clock_start=1,
        history=[],
        planned_daily_volume=60000,
        bad_report_rate=Decimal(0),
        days=15,
    )
    assert [day.limit for day in result.days][6:9] == [20000, 50000, 50000]
    assert result.days[14].limit is None


def test_a_forecast_with_a_bad_rate_above_two_percent_drops_every_day(zbs):
    result = rules.forecast(
        zbs,
        limit=20000,
        review_clock_start=1,
        history=[],
        planned_daily_volume=20000,
        bad_report_rate=Decimal("0.05"),
        days=3,
    )
    assert [day.limit_end for day in result.days] == [10000, 1000, 1000]


# --- properties of the simulation ----------------------------------------------------------------

day_strategy = st.tuples(
    st.integers(min_value=0, max_value=120000),  # requested
    st.lists(st.integers(min_value=0, max_value=150), min_size=24, max_size=24),  # hourly bad reports
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    code=st.sampled_from(["zns", "zbs"]),
    start_index=st.integers(min_value=0, max_value=7),
    days=st.lists(day_strategy, max_size=60),
    clock=st.one_of(st.none(), st.integers(min_value=-10, max_value=5)),
)
def test_a_simulation_moves_at_most_one_level_a_day_and_never_sends_over_the_limit(
    zns, zbs, code, start_index, days, clock
):
    policy = zns if code == "zns" else zbs
    initial = policy.levels[start_index % len(policy.levels)]
    result = rules.simulate(
        policy, [d[0] for d in days], [d[1] for d in days], initial_limit=initial, review_clock_start=clock
    )
    previous_end = initial
    last_change_day = None
    for (requested, hourly), day in zip(days, result.days, strict=True):
        rank = policy.levels.index
        assert day.limit in policy.levels and day.limit_end in policy.levels
        assert day.sent + day.rejected == requested
        assert day.limit is None or day.sent <= day.limit
        assert abs(rank(day.limit) - rank(previous_end)) <= 1  # a review moves one level
        assert rank(day.limit) - rank(day.limit_end) in (0, 1)  # a violation drops one level
        assert (day.violation_hour is not None) == (
            rules.first_violation_hour(policy, day.limit, hourly) is not None
        )
        if day.limit != previous_end:
            assert result.days[day.day - 2].review in (Review.UPGRADE, Review.DOWNGRADE)
            if last_change_day is not None:
                assert day.day - last_change_day >= policy.wait_days  # the 7-day wait
            last_change_day = day.day
        if day.violation_hour is not None:
            last_change_day = day.day
        previous_end = day.limit_end
    assert result.final_limit in policy.levels
