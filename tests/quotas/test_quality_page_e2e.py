"""The quality pages in headless Chromium: charts render under the strict CSP, a correction works."""

import pytest

from quotas.services import rollups
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_type_launch_args, log_in, watched_page  # noqa: F401 (fixtures)
from tests.quotas.conftest import vn_moment
from zalo_admin.lib import dates

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_quality_admin_sees_the_charts_and_corrects_a_level_with_a_reason(
    watched_page,  # noqa: F811 (the imported fixture)
    live_server,
    quality_admin,
    oa,
):
    today = dates.today_in_vietnam()
    rollups.record_sent(oa.pk, vn_moment(today, 8), count=1200, tag=1)
    rollups.record_bad_report(oa.pk, vn_moment(today, 9), count=2)
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, quality_admin.username, PASSWORD)
    page.goto(f"{live_server.url}/quality/")
    page.click(f"text={oa.name}")
    page.wait_for_selector("[data-chart=volume-chart][data-rendered=true]")
    page.wait_for_selector("[data-chart=quality-chart][data-rendered=true]")
    page.select_option("[data-testid=correction-form] select", "50000")
    page.fill("[data-testid=correction-form] textarea", "Raised by Zalo support, ticket 123")
    page.click("[data-testid=correction-form] button")
    page.wait_for_selector("[data-testid=level-history]")
    assert "ticket 123" in page.locator("[data-testid=level-history]").inner_text()
    assert page.locator("[data-testid=current-limit]").inner_text().startswith("50,000")
    assert page.problems == []
