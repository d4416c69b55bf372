"""A marketer runs the pre-flight of a marketing campaign in the browser and reads the result; a
quality admin sees the stored run without the button. Screenshots in test-results/screenshots."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from audiences.models import ContactList, ContactSource, FollowerStatus
from campaigns.models import PreflightRun
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import Policy
from quotas.services.state import create_quota_state
from tests.campaigns.test_preflight import MAPPING, MARKETING_PARAMS, make_campaign, make_contact
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_type_launch_args, log_in  # noqa: F401
from tests.e2e.conftest import watched_page as watched_page  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "test-results" / "screenshots"
)


def snap(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_marketer_runs_the_preflight_and_a_quality_admin_reads_it(
    live_server, watched_page, marketer, quality_admin, browser
):
    oa = OfficialAccount.objects.create(name="Shop Tết OA", zalo_oa_id="oa-preflight-browser")
    create_quota_state(oa, Policy.objects.get(code="zns-2024"), current_limit=20000)
    template = MessageTemplate.objects.create(
        oa=oa,
        template_id="399001",
        name="[QC] Ưu đãi Tết",
        tag=3,
        params=MARKETING_PARAMS,
        sample_data={"note": "Từ chối nhận tin: soạn TC gửi 8079"},
        price="220",
    )
    source = ContactSource.objects.create(kind="manual", label="browser", created_by="system:test")
    audience = ContactList.objects.create(name="Tết customers", created_by="system:test")
    for n in range(1, 9):
        contact = make_contact(
            source, f"8491234560{n}", name=f"Nguyễn Văn {n}", marketing=n != 8, audience=audience
        )
        FollowerStatus.objects.create(
            contact=contact, oa=oa, status="follows" if n % 2 else "does_not_follow"
        )
    campaign = make_campaign(oa, template, audience, sending_speed_limit_amount=100)
    assert campaign.mapping == MAPPING

    page = watched_page
    log_in(page, live_server, marketer.username, PASSWORD)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/preflight/")
    page.click("[data-run-preflight]")
    page.wait_for_selector("[data-eligible]")
    assert page.inner_text("[data-eligible]") == "7"
    assert page.inner_text("[data-inbox]") == "4"
    assert page.inner_text("[data-days-needed]") == "1"
    assert "0912***60" in page.inner_text("body")  # previews show masked phones
    assert "84912345601" not in page.content() and "0912345601" not in page.content()
    snap(page, "preflight-marketer")
    assert page.problems == []
    assert PreflightRun.objects.filter(campaign=campaign).count() == 1

    context = browser.new_context()
    other = context.new_page()
    log_in(other, live_server, quality_admin.username, PASSWORD)
    other.goto(f"{live_server.url}/campaigns/{campaign.pk}/preflight/")
    assert other.inner_text("[data-eligible]") == "7"
    assert other.locator("[data-run-preflight]").count() == 0
    snap(other, "preflight-quality-admin")
    context.close()
