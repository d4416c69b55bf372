"""The template pages in headless Chromium under the strict CSP: sync, then preview and validate."""

import os

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_type_launch_args, log_in, watched_page  # noqa: F401 (fixtures)
from tests.oas.test_templates import zalo_oa

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_quality_admin_syncs_then_previews_and_validates_a_template_in_the_browser(
    watched_page,  # noqa: F811 (the imported fixture)
    live_server,
    sb,
    quality_admin,
):
    oa = zalo_oa()
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, quality_admin.username, PASSWORD)
    page.goto(f"{live_server.url}/oas/{oa.pk}/templates/")
    page.click("[data-testid=sync-templates]")
    page.wait_for_selector("[data-testid=template-100001]")
    assert "Disabled" in page.locator("[data-testid=template-100007]").inner_text()
    page.click("text=Order confirmation")
    page.fill(
        "[data-testid=template-data]",
        '{"customer_name": "Nguyễn Văn A", "order_code": "DH001", "amount": "15 nghìn"}',
    )
    page.click("[data-testid=validate]")
    page.wait_for_selector("[data-testid=validation-errors]")
    assert page.locator("[data-testid=validation-errors]").inner_text() == "amount must be a number."
    page.fill(
        "[data-testid=template-data]",
        '{"customer_name": "Nguyễn Văn A", "order_code": "DH001", "amount": "15000", "email": "a@b.c"}',
    )
    page.click("[data-testid=preview-contact]")
    page.wait_for_selector("[data-testid=validation-ok]")
    assert page.locator("[data-testid=preview-amount]").inner_text().strip() == "15000"
    if os.environ.get("TEMPLATE_SCREENSHOTS"):
        page.screenshot(path=os.environ["TEMPLATE_SCREENSHOTS"] + "/detail.png", full_page=True)
        page.goto(f"{live_server.url}/oas/{oa.pk}/templates/")
        page.screenshot(path=os.environ["TEMPLATE_SCREENSHOTS"] + "/list.png", full_page=True)
    assert page.problems == []
