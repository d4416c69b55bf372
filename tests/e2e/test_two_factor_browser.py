"""Two-factor sign-in in the browser: a quality admin required to use it enrols with the key shown on
the page, sees the recovery codes, then signs in again with the password and a code."""

import os
import time
from base64 import b32decode
from pathlib import Path

import pytest
from django.conf import settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD
from tests.twofactor.helpers import next_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# pytest-playwright empties test-results/ when a session starts: SCREENSHOT_DIR keeps them elsewhere.
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "test-results" / "screenshots"
)


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def password_step(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")


def test_a_required_quality_admin_enrols_and_signs_in_with_a_code(
    watched_page, live_server, quality_admin, settings
):
    settings.TWO_FACTOR_REQUIRED = True
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})

    password_step(page, live_server, "quality")
    page.wait_for_url(f"{live_server.url}/account/two-factor/setup/**")
    assert "Your role must sign in with a second factor" in page.inner_text(
        "[data-testid=two-factor-required]"
    )
    qr = page.locator("[data-testid=two-factor-qr]")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the SVG loaded under the CSP
    shot(page, "two-factor-1-setup")
    # Like an authenticator app given the key by hand: base32, shown in groups of four.
    key = b32decode(page.inner_text("[data-testid=two-factor-key]").replace(" ", ""))
    page.goto(f"{live_server.url}/oas/")  # nothing else opens before enrolment
    assert "/account/two-factor/setup/" in page.url
    page.fill("#id_code", f"{totp(key):06d}")
    page.click("button.primary")

    page.wait_for_url(f"{live_server.url}/account/two-factor/recovery-codes/")
    codes = page.locator("[data-testid=recovery-codes] code").all_inner_texts()
    assert len(codes) == 10
    shot(page, "two-factor-2-recovery-codes")
    page.click("text=Continue")
    page.wait_for_url(f"{live_server.url}/")
    page.click(".logout-form button")
    page.wait_for_url(f"{live_server.url}/login/")

    password_step(page, live_server, "quality")
    page.wait_for_url(f"{live_server.url}/account/two-factor/code/")
    page.fill("#id_code", "000000" if f"{totp(key):06d}" != "000000" else "111111")
    page.click("button.primary")
    assert "That code is not valid" in page.inner_text("[data-testid=code-error]")
    shot(page, "two-factor-3-wrong-code")
    time.sleep(1.1)  # django-otp's back-off after one wrong code
    page.fill("#id_code", next_code(TOTPDevice.objects.get(user=quality_admin)))
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/account/two-factor/")
    assert "On" in page.inner_text("[data-testid=two-factor-status]")
    assert page.inner_text("[data-testid=recovery-codes-left]") == "10"
    shot(page, "two-factor-4-signed-in")
    assert page.problems == []
