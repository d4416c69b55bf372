import pytest
from django.core.management import call_command

from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXPECTED_NAV = {
    "marketer": ["Official Accounts", "Audiences", "Campaigns", "Quality & quota", "Alerts"],
    "quality_admin": ["Official Accounts", "Audiences", "Campaigns", "Quality & quota", "Alerts", "Jobs"],
    "auditor": ["Official Accounts", "Audiences", "Campaigns", "Compliance", "Alerts"],
}


@pytest.mark.parametrize("role", list(EXPECTED_NAV))
def test_each_role_logs_in_and_sees_its_navigation_and_the_chart(watched_page, live_server, role_users, role):
    call_command("seed_demo")  # traffic for the chart
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, role_users[role].username, PASSWORD)
    assert page.locator(".mainnav a").all_inner_texts() == EXPECTED_NAV[role]
    page.wait_for_selector("[data-chart][data-rendered=true]")
    assert page.locator("[data-chart] .main-svg").count() > 0
    assert page.problems == []


def test_switching_language_translates_the_interface(watched_page, live_server, marketer):
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, marketer.username, PASSWORD)
    assert page.locator("h1").inner_text() == "Overview"
    page.click("[data-testid=lang-vi]")
    page.wait_for_selector("html[lang=vi]")
    assert page.locator("h1").inner_text() == "Tổng quan"
    assert "Chiến dịch" in page.locator(".mainnav").inner_text()
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.problems == []


def test_the_empty_chart_says_so(watched_page, live_server, quality_admin):
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, quality_admin.username, PASSWORD)
    assert "No messages have been sent" in page.locator("[data-testid=chart-empty]").inner_text()
    page.wait_for_selector("[data-chart][data-rendered=true]")
    assert page.problems == []
