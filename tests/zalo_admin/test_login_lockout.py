"""Login throttling (django-axes): a username + address is locked out after repeated failures, on the
site login and on the Django admin login; failed logins are logged and audited, never the password."""

import json
import logging
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F

from compliance.models import AuditEvent
from tests.conftest import PASSWORD

WRONG = "wrong-password-Zq8#only-in-this-test"
LOGIN, ADMIN_LOGIN = "/login/", "/admin/login/"


def attempt(client, username, password, url=LOGIN, address="10.1.1.1", **extra):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail_until_locked(client, username, url=LOGIN, address="10.1.1.1"):
    for number in range(1, settings.AXES_FAILURE_LIMIT + 1):
        response = attempt(client, username, WRONG, url, address)
        expected = 429 if number == settings.AXES_FAILURE_LIMIT else 200
        assert response.status_code == expected, f"attempt {number}"
    return response


def test_five_wrong_passwords_lock_the_account_from_that_address(client, marketer):
    assert settings.AXES_FAILURE_LIMIT == 5
    locked = fail_until_locked(client, "marketer")
    page = locked.content.decode()
    assert "Too many failed logins for the account “marketer” from your address" in page
    assert "locked for 15 minutes" in page
    assert locked["Retry-After"] == "900"

    response = attempt(client, "marketer", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)
    assert client.get("/").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, marketer):
    fail_until_locked(client, "marketer")
    assert attempt(client, "marketer", PASSWORD).status_code == 429
    # Move the failures back past the cool-off (15 minutes after the latest attempt).
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))
    response = attempt(client, "marketer", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in(client)


def test_another_address_and_another_username_are_not_locked(client, marketer, quality_admin):
    fail_until_locked(client, "marketer", address="10.1.1.1")
    assert attempt(client, "quality", PASSWORD, address="10.1.1.1").status_code == 302
    client.logout()
    assert attempt(client, "marketer", PASSWORD, address="10.2.2.2").status_code == 302
    assert signed_in(client)


def test_fewer_failures_than_the_limit_do_not_lock_and_a_success_resets_them(client, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "marketer", WRONG).status_code == 200
    assert attempt(client, "marketer", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "marketer", WRONG).status_code == 200
    assert attempt(client, "marketer", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(client, superuser):
    locked = fail_until_locked(client, "root", url=ADMIN_LOGIN)
    assert "Too many failed logins for the account “root”" in locked.content.decode()
    assert attempt(client, "root", PASSWORD, url=ADMIN_LOGIN).status_code == 429
    assert not signed_in(client)
    # The site login shares the count: the same pair stays locked there.
    assert attempt(client, "root", PASSWORD, url=LOGIN).status_code == 429
    assert client.get("/admin/").status_code == 302
    audited = AuditEvent.objects.filter(action="auth.login_failed", details__path=ADMIN_LOGIN)
    assert audited.count() == settings.AXES_FAILURE_LIMIT + 1
    assert AuditEvent.objects.get(action="auth.locked_out").details["path"] == ADMIN_LOGIN


def test_the_lockout_page_speaks_the_users_language(client, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = attempt(client, "marketer", WRONG, HTTP_ACCEPT_LANGUAGE="vi")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Đăng nhập bị khóa trong 15 phút" in page
    assert "Too many failed logins" not in page


def test_failed_logins_are_audited_and_logged_without_the_password(client, marketer, caplog):
    caplog.set_level(logging.DEBUG)
    fail_until_locked(client, "marketer")
    attempt(client, "marketer", PASSWORD)  # refused while locked, audited as a failure too
    attempt(client, "nobody", WRONG, address="10.3.3.3")

    failed = list(AuditEvent.objects.filter(action="auth.login_failed").order_by("id"))
    assert len(failed) == settings.AXES_FAILURE_LIMIT + 2
    first, refused, unknown = failed[0], failed[-2], failed[-1]
    assert first.actor == "system:anonymous"
    assert (first.target_type, first.target_id) == ("auth.user", str(marketer.pk))
    assert first.details == {
        "username": "marketer",
        "ip_address": "10.1.1.1",
        "path": "/login/",
        "failures": 1,
        "locked_out": False,
    }
    assert refused.details["locked_out"] is True
    assert unknown.details["username"] == "nobody" and unknown.target_id == ""

    [lockout] = AuditEvent.objects.filter(action="auth.locked_out")
    assert lockout.details == {
        "username": "marketer",
        "ip_address": "10.1.1.1",
        "path": "/login/",
        "failures": settings.AXES_FAILURE_LIMIT,
        "cool_off_minutes": 15,
    }

    recorded = json.dumps(
        [[e.summary, e.description, e.details, e.target_id] for e in AuditEvent.objects.all()],
        ensure_ascii=False,
    )
    stored_attempts = json.dumps(list(AccessAttempt.objects.values()), default=str)
    for secret in (WRONG, PASSWORD):
        assert secret not in recorded
        assert secret not in caplog.text
        assert secret not in stored_attempts
    assert "Failed login for username 'marketer' from 10.1.1.1" in caplog.text
    assert "Locked out username 'marketer' from 10.1.1.1 for 15 minutes" in caplog.text


def test_force_login_and_a_right_first_password_are_unaffected(client, marketer):
    client.force_login(marketer)
    assert client.get("/").status_code == 200
    client.logout()
    assert attempt(client, "marketer", PASSWORD).status_code == 302
    assert not AuditEvent.objects.filter(action__startswith="auth.").exists()


def test_the_failure_limit_is_a_setting(client, marketer, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert attempt(client, "marketer", WRONG).status_code == 200
    assert attempt(client, "marketer", WRONG).status_code == 429
