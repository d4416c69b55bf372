"""The OAuth permission page in headless Chromium: no CSP violation, the grant lands on the callback."""

import os
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from sandbox.testing import DEMO_APP_ID

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--no-sandbox"],
    }


def test_an_admin_grants_access_in_a_browser(sb, receiver, page):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    callback = receiver.url.replace("/hook", "/callback")
    query = urlencode(
        {"app_id": DEMO_APP_ID, "redirect_uri": callback, "code_challenge": "abc", "state": "xyz"}
    )
    page.goto(f"{sb.oauth_base}/v4/oa/permission?{query}")
    page.check("input[value=demo-oa-2]")
    page.click("#grant")
    page.wait_for_url(f"{callback}?*")
    params = parse_qs(urlsplit(page.url).query)
    assert params["oa_id"] == ["demo-oa-2"] and params["state"] == ["xyz"] and params["code"][0]
    assert problems == []
