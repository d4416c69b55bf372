"""The per-OA quality figures against hand-computed values, from rollup rows written directly.

Every test reads at a fixed moment: 05:30 on Sunday 2026-11-15, Vietnam time.
"""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from quotas.charts import load_oa_quality
from quotas.models import (
    DailyQuotaUsage,
    LevelChange,
    OADailyStats,
    OAHourlyStats,
    OAQuotaState,
    RecipientMarketingUsage,
)
from tests.quotas.conftest import make_oa, vn_moment
from zalo_admin.lib.figures import table, table_csv

TODAY = date(2026, 11, 15)
NOW = vn_moment(TODAY, 5, 30)


def day(back: int) -> date:
    return TODAY - timedelta(days=back)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def shop(db):
    """A zbs-2026 OA at 20,000 a day, its review clock started 10 days ago: 1,000 sent on day −8
    without bad reports, 1,000 sent on day −3 with 3 bad reports (0.3 %)."""
    oa = make_oa("Shop", review_clock_start=day(10), first_send_day=day(11))
    OADailyStats.objects.create(oa=oa, day=day(8), sent=1000, bad_reports=0)
    OADailyStats.objects.create(oa=oa, day=day(3), sent=1000, bad_reports=3)
    return oa


def test_the_tier_of_each_day_is_the_tier_of_the_seven_days_before_it(shop):
    figure = load_oa_quality(shop.pk, NOW).charts["tier_timeline"]
    timeline = figure["data"][0]
    assert timeline["x"] == [day(back).isoformat() for back in range(6, -1, -1)]
    # days −6…−3 see only day −8 (1,000 sent, 0 bad: HIGH); days −2 and −1 see days −8 and −3
    # (2,000 sent, 3 bad = 0.15 %: MEDIUM); today sees day −3 alone (0.3 %: MEDIUM).
    assert timeline["y"] == ["High", "High", "High", "High", "Medium", "Medium", "Medium"]
    assert figure["table"]["rows"][4][2:5] == [2000, 3, "0.15 %"]
    assert figure["empty"] is False


def test_every_level_change_is_marked_on_its_day_with_its_reason(shop):
    LevelChange.objects.create(
        oa=shop, effective_day=day(2), old_limit=20000, new_limit=10000, reason="violation"
    )
    LevelChange.objects.create(
        oa=shop, effective_day=day(1), old_limit=10000, new_limit=20000, reason="manual", note="ticket 7"
    )
    LevelChange.objects.create(
        oa=shop, effective_day=day(9), old_limit=10000, new_limit=20000, reason="manual"
    )
    data = load_oa_quality(shop.pk, NOW)
    marks = {trace["name"]: trace for trace in data.charts["tier_timeline"]["data"][1:]}
    assert marks["Automatic violation"]["x"] == [day(2).isoformat()]
    assert marks["Automatic violation"]["text"] == [
        f"{day(2):%d/%m}: Automatic violation: 20,000 → 10,000 a day"
    ]
    assert marks["Manual correction"]["x"] == [day(1).isoformat()]  # day −9 is outside the window
    assert "10,000 → 20,000 a day (ticket 7)" in marks["Manual correction"]["text"][0]
    assert (
        data.charts["tier_timeline"]["table"]["rows"][5][5]
        == "Manual correction: 10,000 → 20,000 a day (ticket 7)"
    )
    # the limit of each day follows the history: 20,000 until day −3, 10,000 on day −2, 20,000 after
    assert data.charts["sent_vs_limit"]["data"][1]["y"] == [20000, 20000, 20000, 20000, 10000, 20000, 20000]


def test_the_bad_report_rate_per_day_sits_against_the_guideline_and_the_medium_bound(shop):
    figure = load_oa_quality(shop.pk, NOW).charts["bad_report_rate"]
    bars, high, medium = figure["data"]
    assert bars["y"] == [None, None, None, 0.3, None, None, None]
    assert high["y"] == [0.1] * 7 and medium["y"] == [0.5] * 7
    assert "3 bad reports for 1,000 messages sent = 0.3 %" in bars["text"][3]


def test_todays_bad_reports_by_hour_run_up_to_now_against_the_violation_threshold(shop):
    OAHourlyStats.objects.create(oa=shop, day=TODAY, hour=1, bad_reports=10)
    OAHourlyStats.objects.create(oa=shop, day=TODAY, hour=3, bad_reports=5)
    OADailyStats.objects.create(oa=shop, day=TODAY, sent=0, bad_reports=15)
    data = load_oa_quality(shop.pk, NOW)
    per_hour, so_far, violation, guardrail = data.charts["bad_reports_today"]["data"]
    assert per_hour["y"][:7] == [0, 10, 0, 5, 0, 0, None]  # 05:30: hours 0–5 so far
    assert so_far["y"][:7] == [0, 10, 10, 15, 15, 15, None]
    assert violation["y"][0] == 400.0  # 2 % of 20,000
    assert guardrail["y"][0] == 300.0  # 75 % of it
    assert data.bad_reports_today == 15
    assert data.charts["bad_reports_today"]["table"]["rows"][-1] == ["05:00", 0, 15]


def test_upgrade_eligibility_and_the_next_review_are_projected_from_the_window(shop):
    data = load_oa_quality(shop.pk, NOW)
    sent, limit, window, needed = data.charts["sent_vs_limit"]["data"]
    assert sent["y"] == [0, 0, 0, 1000, 0, 0, 0]
    assert limit["y"] == [20000] * 7
    # the 7 days ending each day: day −8 alone (days −6…−4), days −8 and −3 (−3, −2), day −3 alone (−1, 0)
    assert window["y"] == [1000, 1000, 1000, 2000, 2000, 1000, 1000]
    assert needed["y"] == [40000] * 7
    review = data.review
    assert review.day == TODAY + timedelta(days=1)  # clock start −10: reviews due daily from −4 on
    assert (review.window_first, review.window_last) == (day(6), TODAY)
    assert (review.window.sent, review.window.bad_reports) == (1000, 3)
    assert (review.tier, review.decision) == ("MEDIUM", "hold")
    assert (review.upgrade_limit, review.upgrade_sent, review.needed_for_upgrade) == (50000, 40000, 39000)
    assert review.upgrade_bad_reports == 40  # 0.1 % of 40,000


def test_the_remaining_daily_quota_is_the_limit_less_todays_reservations(shop):
    DailyQuotaUsage.objects.create(oa=shop, day=TODAY, reserved=1234, marketing_reserved=0)
    data = load_oa_quality(shop.pk, NOW)
    assert (data.limit, data.reserved_today, data.remaining_today) == (20000, 1234, 18766)


@pytest.fixture
def zns_shop(db):
    """A zns-2024 OA: 10,000 transaction sends in September, 50,000 in October (seed 003's example),
    no marketing sent before November."""
    oa = make_oa("ZNS shop", policy_code="zns-2024", limit=20000)
    OADailyStats.objects.create(oa=oa, day=date(2026, 9, 10), sent=10000, transactional_sent=10000)
    OADailyStats.objects.create(oa=oa, day=date(2026, 10, 3), sent=20000, transactional_sent=20000)
    OADailyStats.objects.create(oa=oa, day=date(2026, 10, 31), sent=30000, transactional_sent=30000)
    OADailyStats.objects.create(oa=oa, day=date(2026, 8, 31), sent=99999, transactional_sent=99999)  # too old
    DailyQuotaUsage.objects.create(oa=oa, day=date(2026, 11, 1), reserved=500, marketing_reserved=500)
    DailyQuotaUsage.objects.create(oa=oa, day=TODAY, reserved=1500, marketing_reserved=1500)
    return oa


def test_the_monthly_marketing_quota_shows_how_it_was_computed(zns_shop):
    quota = load_oa_quality(zns_shop.pk, NOW).marketing_quota
    assert quota.months == [(date(2026, 9, 1), 10000), (date(2026, 10, 1), 50000)]
    assert (quota.transactional, quota.divisor, quota.base) == (60000, 6, 10000)
    assert (quota.bonus_applies, quota.bonus, quota.quota) == (True, 10000, 20000)  # first marketing month
    assert (quota.used, quota.remaining) == (2000, 18000)


def test_the_bonus_is_gone_after_the_first_marketing_month(zns_shop):
    OAQuotaState.objects.filter(oa=zns_shop).update(first_marketing_day=date(2026, 10, 20))
    quota = load_oa_quality(zns_shop.pk, NOW).marketing_quota
    assert (quota.bonus_applies, quota.quota, quota.remaining) == (False, 10000, 8000)


def test_the_marketing_burn_down_follows_the_month_and_projects_its_pace(zns_shop):
    left, pace = load_oa_quality(zns_shop.pk, NOW).charts["marketing_burn_down"]["data"]
    assert len(left["x"]) == 30 and left["x"][0] == "2026-11-01"
    assert left["y"][0] == 19500 and left["y"][13] == 19500 and left["y"][14] == 18000
    assert left["y"][15:] == [None] * 15
    # 2,000 used in 15 days: 133.3 a day; 15 days later 18,000 − 2,000 = 16,000 left
    assert pace["y"][14] == 18000 and pace["y"][29] == 16000.0 and pace["y"][13] is None


def test_a_zbs_oa_has_no_monthly_marketing_quota(shop):
    data = load_oa_quality(shop.pk, NOW)
    assert data.marketing_quota is None and "marketing_burn_down" not in data.charts


def test_the_recipient_histogram_counts_this_months_marketing_per_recipient(zns_shop):
    rows = [
        ("r1", date(2026, 11, 2), 1),
        ("r1", date(2026, 11, 9), 1),
        ("r2", date(2026, 11, 3), 4),
        ("r3", TODAY, 1),
        ("r4", date(2026, 10, 30), 3),  # last month: not counted
        ("r5", TODAY, 0),  # released: not counted
    ]
    for recipient, when, count in rows:
        RecipientMarketingUsage.objects.create(oa=zns_shop, recipient=recipient, day=when, count=count)
    figure = load_oa_quality(zns_shop.pk, NOW).charts["recipient_caps"]
    bars = figure["data"][0]
    assert bars["x"] == [1, 2, 3, 4] and bars["y"] == [1, 1, 0, 1]  # zns-2024: 4 a month
    assert figure["table"]["rows"][3] == [4, 1, "Yes"]
    assert figure["layout"]["annotations"][0]["text"] == "Monthly cap: 4"


def test_an_oa_without_data_gets_empty_figures_that_still_draw(db):
    oa = make_oa("Quiet")
    data = load_oa_quality(oa.pk, NOW)
    for name in ("tier_timeline", "bad_report_rate", "bad_reports_today", "sent_vs_limit", "recipient_caps"):
        assert data.charts[name]["empty"] is True, name
        assert data.charts[name]["data"], name
    assert data.review is None


def test_a_chart_downloads_as_csv_with_its_table(client, marketer, shop):
    client.force_login(marketer)
    response = client.get(
        reverse("quotas:oa_chart_csv", kwargs={"oa_id": shop.pk, "chart": "bad_report_rate"})
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode("utf-8").splitlines()
    assert lines[0] == "\ufeffDay,Sent,Bad reports,Bad-report rate,Quality that day"
    assert len(lines) == 8
    missing = client.get(reverse("quotas:oa_chart_csv", kwargs={"oa_id": shop.pk, "chart": "nope"}))
    assert missing.status_code == 404


def test_the_csv_neutralises_cells_a_spreadsheet_would_run():
    lines = "".join(table_csv(table(["name", "n"], [["=HYPERLINK(1)", -3], ["+1", None]]))).splitlines()
    assert lines == ["\ufeffname,n", "'=HYPERLINK(1),-3", "'+1,"]
