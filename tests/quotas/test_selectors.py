"""The read models of the quality pages (quotas.selectors): overview and forecast."""

from datetime import timedelta

import pytest

from quotas import selectors
from tests.quotas.conftest import make_oa
from tests.quotas.test_services import DAY, report, send


@pytest.mark.django_db
def test_the_forecast_says_when_the_next_upgrade_can_happen(oa):
    today = DAY
    send(oa, today - timedelta(days=10), 100)
    forecast = selectors.forecast_level(oa.pk, 6000, days=20, today=today)
    assert forecast.daily_volume_for_upgrade == 5715
    assert forecast.days[0].day == today + timedelta(days=1)
    assert forecast.next_upgrade_limit == 50000
    assert forecast.next_upgrade_day is not None


@pytest.mark.django_db
def test_the_quality_overview_lists_every_oa(oa):
    make_oa(name="Other", policy_code="zns-2024")
    send(oa, DAY, 100)
    report(oa, DAY, 1)
    rows = selectors.quality_overview(today=DAY)
    assert [(row.oa.name, row.limit, row.sent_today, row.bad_reports_today) for row in rows] == [
        ("Other", 5000, 0, 0),
        ("Shop", 20000, 100, 1),
    ]
    assert rows[1].next_review == DAY + timedelta(days=7)
