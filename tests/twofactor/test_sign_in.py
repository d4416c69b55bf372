"""Signing in with a second factor: the password alone does not sign in; a code does; wrong codes
are failed logins for the throttle; a recovery code works once."""

import time

from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse

from compliance import actions
from compliance.models import AuditEvent
from tests.conftest import PASSWORD
from tests.twofactor.helpers import enrol, next_code
from twofactor.views import PENDING_KEY

LOGIN, VERIFY = reverse("login"), reverse("twofactor:verify")


def password_step(client, username, address="10.3.3.3"):
    return client.post(LOGIN, {"username": username, "password": PASSWORD}, REMOTE_ADDR=address)


def code_step(client, code, address="10.3.3.3"):
    return client.post(VERIFY, {"code": code}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_password_leads_to_the_code_step_and_the_code_signs_in(client, quality_admin):
    device, _codes = enrol(quality_admin)
    response = password_step(client, "quality")
    assert response.status_code == 302 and response["Location"] == VERIFY
    assert not signed_in(client)
    assert client.get(reverse("oas:list")).status_code == 302  # nothing opens on the password alone
    assert "Enter the code for" in client.get(VERIFY).content.decode()

    response = code_step(client, next_code(device))
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in(client) and PENDING_KEY not in client.session
    assert client.get(reverse("oas:list")).status_code == 200
    event = AuditEvent.objects.get(action=actions.AUTH_TWO_FACTOR_SIGN_IN)
    assert event.actor == "user:quality"
    assert event.details == {"username": "quality", "ip_address": "10.3.3.3"}


def test_the_code_step_keeps_the_page_asked_for(client, quality_admin):
    device, _codes = enrol(quality_admin)
    client.post(f"{LOGIN}?next=/oas/", {"username": "quality", "password": PASSWORD, "next": "/oas/"})
    assert code_step(client, next_code(device))["Location"] == "/oas/"


def test_a_code_is_not_accepted_twice(client, quality_admin):
    device, _codes = enrol(quality_admin)
    password_step(client, "quality")
    code = next_code(device)
    assert code_step(client, code).status_code == 302
    client.logout()
    password_step(client, "quality")
    assert code_step(client, code).status_code == 200
    assert not signed_in(client)


def test_a_wrong_code_is_refused_audited_and_counted_as_a_failed_login(client, quality_admin):
    device, _codes = enrol(quality_admin)
    password_step(client, "quality")
    response = code_step(client, wrong(next_code(device)))
    assert response.status_code == 200
    assert "That code is not valid" in response.content.decode()
    assert not signed_in(client)
    assert AccessAttempt.objects.get(username="quality", ip_address="10.3.3.3").failures_since_start == 1
    event = AuditEvent.objects.get(action=actions.AUTH_TWO_FACTOR_FAILED)
    assert event.details["username"] == "quality" and event.details["failures"] == 1
    assert not AuditEvent.objects.filter(action=actions.AUTH_LOGIN_FAILED).exists()


def test_wrong_codes_lock_the_username_and_address_out_like_wrong_passwords(client, quality_admin):
    device, _codes = enrol(quality_admin)
    # One wrong password, then wrong codes: they add up to the same limit.
    client.post(LOGIN, {"username": "quality", "password": "not-it"}, REMOTE_ADDR="10.3.3.3")
    password_step(client, "quality")
    for number in range(2, settings.AXES_FAILURE_LIMIT + 1):
        response = code_step(client, wrong(next_code(device)))
        expected = 429 if number == settings.AXES_FAILURE_LIMIT else 200
        assert response.status_code == expected, f"failure {number}"
    assert "Too many failed logins for the account “quality”" in response.content.decode()
    assert AuditEvent.objects.filter(action=actions.AUTH_LOCKED_OUT).count() == 1
    # Locked: the right password is refused, and the right code gets no further either.
    assert password_step(client, "quality").status_code == 429
    assert not signed_in(client)
    assert code_step(client, next_code(device)).status_code == 302  # no pending sign-in any more
    assert not signed_in(client)


def test_a_recovery_code_signs_in_once(client, auditor):
    _device, codes = enrol(auditor)
    password_step(client, "auditor")
    response = code_step(client, codes[0].upper().replace("-", " "))  # typed any which way
    assert response.status_code == 302 and signed_in(client)
    event = AuditEvent.objects.get(action=actions.AUTH_TWO_FACTOR_RECOVERY_USED)
    assert event.details["remaining"] == 9
    client.logout()
    time.sleep(1.1)  # django-otp's back-off after a failure is per device; none happened here
    password_step(client, "auditor")
    assert code_step(client, codes[0]).status_code == 200
    assert not signed_in(client)
    time.sleep(1.1)  # that failure starts django-otp's 1-second back-off of the recovery codes
    assert code_step(client, codes[1]).status_code == 302 and signed_in(client)


def test_the_code_step_without_a_password_goes_back_to_the_login(client, quality_admin):
    enrol(quality_admin)
    assert client.get(VERIFY)["Location"] == LOGIN
    assert code_step(client, "123456")["Location"] == LOGIN
    assert not AccessAttempt.objects.exists()


def test_an_accepted_password_waits_only_so_long_for_its_code(client, quality_admin):
    device, _codes = enrol(quality_admin)
    password_step(client, "quality")
    session = client.session
    session[PENDING_KEY]["since"] -= settings.TWO_FACTOR_PENDING_SECONDS + 1
    session.save()
    assert code_step(client, next_code(device))["Location"] == LOGIN
    assert not signed_in(client)


def test_a_session_signed_in_without_the_code_reaches_only_the_code_step(client, superuser):
    """The Django admin's own login, or a session begun before its user enrolled."""
    device, _codes = enrol(superuser)
    response = client.post(reverse("admin:login"), {"username": "root", "password": PASSWORD})
    assert signed_in(client)
    for url in (reverse("admin:index"), reverse("home"), reverse("twofactor:manage"), reverse("oas:list")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(VERIFY), url
    assert client.post(reverse("logout")).status_code == 302  # public views stay open
    client.force_login(superuser)
    response = client.post(VERIFY + "?next=/admin/", {"code": next_code(device)})
    assert response["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200
