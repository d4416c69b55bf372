"""A quality admin sets up an OA end to end in the browser, against the local sandbox over HTTP."""

from pathlib import Path

import pytest
from django.conf import settings

from oas.models import OACredentials, OfficialAccount, RSAKey
from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "test-results" / "screenshots"


def snap(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_add_connect_sync_preview_and_create_a_key(watched_page, live_server, quality_admin, sb):
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, quality_admin.username, PASSWORD)

    page.goto(f"{live_server.url}/oas/")
    page.click("text=Add an Official Account")
    page.fill("#id_name", "Demo Fashion")
    page.fill("#id_zalo_oa_id", "demo-oa-1")
    page.select_option("#id_provider", "zalo")
    page.select_option("#id_policy", "zns-2024")
    page.fill("#id_app_id", DEMO_APP_ID)
    page.fill("#id_app_secret", DEMO_APP_SECRET)
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Official Account Demo Fashion created.")
    snap(page, "oa-created")
    oa = OfficialAccount.objects.get(zalo_oa_id="demo-oa-1")

    # Zalo OAuth v4 with PKCE: the sandbox's permission page, then back to the dashboard.
    page.click("[data-testid=connect]")
    page.wait_for_url(f"{sb.oauth_base}/**")
    page.click("#grant")
    page.wait_for_selector("text=Connected: tokens stored, encrypted.")
    assert page.locator("[data-testid=token-valid-until]").inner_text() != "not connected"
    assert OACredentials.objects.get(oa=oa).refresh_token
    snap(page, "oa-connected")

    page.click("[data-testid=test-connection]")
    page.wait_for_selector("text=Connection works.")
    # The page shows the reading the button stored (it never asks the provider while rendering).
    assert page.locator("[data-testid=remaining-quota]").inner_text().strip() not in ("", "—")
    assert "Read now" in page.locator("[data-testid=reading-time]").inner_text()
    page.click("[data-testid=refresh-reading]")
    page.wait_for_selector("text=Read from the provider just now.")

    page.click("text=Templates")
    page.click("button:has-text('Sync from the provider')")
    page.wait_for_selector("text=Templates synced")
    snap(page, "templates-synced")
    page.click("text=Order confirmation")
    page.click("button:has-text('Preview with sample data')")
    page.wait_for_selector("[data-testid=preview]")
    assert "no sample data" not in page.locator("[data-testid=preview]").inner_text()
    snap(page, "template-preview")

    page.goto(f"{live_server.url}/oas/{oa.pk}/")
    page.click("[data-testid=key-create]")
    page.wait_for_selector("[data-testid=active-key]")
    snap(page, "rsa-key-created")
    assert RSAKey.objects.filter(oa=oa, is_active=True).count() == 1
    assert page.problems == []
