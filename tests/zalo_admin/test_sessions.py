"""Signed-in sessions end after an idle period; signed-in pages are never stored by a cache."""

import time

from django.conf import settings

from tests.conftest import PASSWORD
from zalo_admin.middleware import LAST_ACTIVITY_KEY


def idle_for(client, seconds):
    """Pretend the session's latest request was `seconds` ago."""
    session = client.session
    session[LAST_ACTIVITY_KEY] = int(time.time()) - seconds
    session.save()


def test_the_default_idle_timeout_is_thirty_minutes():
    assert settings.SESSION_IDLE_TIMEOUT_SECONDS == 1800


def test_an_idle_session_is_logged_out_after_the_timeout(client, marketer):
    client.force_login(marketer)
    assert client.get("/").status_code == 200
    idle_for(client, 1801)
    response = client.get("/oas/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session
    login_page = client.get(response["Location"]).content.decode()
    assert "You were logged out after 30 minutes of inactivity" in login_page
    assert client.get("/").status_code == 302  # stays logged out


def test_activity_keeps_the_session_alive(client, marketer):
    client.force_login(marketer)
    assert client.get("/").status_code == 200
    for _ in range(3):  # 3 x 25 minutes since logging in, never 30 idle
        idle_for(client, 1500)
        assert client.get("/").status_code == 200
        assert int(time.time()) - client.session[LAST_ACTIVITY_KEY] <= 2


def test_the_idle_timeout_is_a_setting(client, marketer, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60
    client.force_login(marketer)
    assert client.get("/").status_code == 200
    idle_for(client, 50)
    assert client.get("/").status_code == 200
    idle_for(client, 61)
    assert client.get("/").status_code == 302


def test_a_form_login_starts_the_idle_clock(client, marketer):
    response = client.post("/login/", {"username": "marketer", "password": PASSWORD})
    assert response.status_code == 302
    assert int(time.time()) - client.session[LAST_ACTIVITY_KEY] <= 2


def test_signed_in_pages_carry_no_store(client, superuser):
    client.force_login(superuser)
    for url in ("/", "/oas/", "/quality/", "/compliance/", "/admin/", "/jobs/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
        assert "private" in response["Cache-Control"], url
