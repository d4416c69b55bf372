"""Resets: by the user (with the password), by a superuser for another user, by the management
command; each audited with who did it and why."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance import actions
from compliance.models import AuditEvent
from tests.conftest import PASSWORD
from tests.twofactor.helpers import enrol, next_code
from twofactor import services


def verified_client(client, user, device):
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert client.post(reverse("twofactor:verify"), {"code": next_code(device)}).status_code == 302
    return client


def test_the_user_resets_with_the_password(client, marketer):
    device, _codes = enrol(marketer)
    verified_client(client, marketer, device)
    response = client.post(reverse("twofactor:manage"), {"action": "reset", "password": "not-my-password"})
    assert response.status_code == 200 and "That is not your password" in response.content.decode()
    assert services.is_enrolled(marketer)

    response = client.post(reverse("twofactor:manage"), {"action": "reset", "password": PASSWORD})
    assert response.status_code == 302
    assert not TOTPDevice.objects.exists() and not StaticDevice.objects.exists()
    assert not StaticToken.objects.exists()
    event = AuditEvent.objects.get(action=actions.AUTH_TWO_FACTOR_RESET)
    assert event.actor == "user:marketer" and event.target_id == str(marketer.pk)
    assert event.details["devices"] == 2
    # Signing in again takes the password alone.
    client.logout()
    client.post(reverse("login"), {"username": "marketer", "password": PASSWORD})
    assert client.get(reverse("home")).status_code == 200


def test_a_superuser_resets_another_user_with_a_reason(client, superuser, auditor):
    enrol(auditor)
    client.force_login(superuser)
    page = client.get(reverse("twofactor:users")).content.decode()
    assert "auditor" in page and reverse("twofactor:reset_user", args=[auditor.pk]) in page
    url = reverse("twofactor:reset_user", args=[auditor.pk])
    assert client.post(url, {"reason": "  "}).status_code == 302
    assert services.is_enrolled(auditor)  # no reason, no reset
    assert client.post(url, {"reason": "lost phone, ticket 42"}).status_code == 302
    assert not services.is_enrolled(auditor)
    event = AuditEvent.objects.get(action=actions.AUTH_TWO_FACTOR_RESET)
    assert event.actor == "user:root"
    assert event.details == {"username": "auditor", "devices": 2, "reason": "lost phone, ticket 42"}
    assert "lost phone, ticket 42" in event.description
    # Once more: nothing left to remove, nothing audited.
    assert client.post(url, {"reason": "again"}).status_code == 302
    assert AuditEvent.objects.filter(action=actions.AUTH_TWO_FACTOR_RESET).count() == 1


def test_other_roles_cannot_reset_someone_else(client, quality_admin, auditor):
    enrol(auditor)
    client.force_login(quality_admin)
    url = reverse("twofactor:reset_user", args=[auditor.pk])
    assert client.post(url, {"reason": "try"}).status_code == 403
    assert services.is_enrolled(auditor)


def test_the_command_resets_and_audits_as_itself(auditor):
    enrol(auditor)
    out = StringIO()
    call_command("reset_two_factor", "auditor", "--reason", "lost phone", "--by", "ops Lan", stdout=out)
    assert "reset: 2 device(s) removed" in out.getvalue()
    assert not services.is_enrolled(auditor)
    event = AuditEvent.objects.get(action=actions.AUTH_TWO_FACTOR_RESET)
    assert event.actor == "system:manage-reset_two_factor"
    assert event.details["reason"] == "lost phone (asked by ops Lan)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--reason", "x"], "no user named 'nobody'"),
        (["auditor"], "give a reason with --reason"),
        ([], "name the user"),
        (["auditor", "--reason", "x", "--colour", "red"], "unrecognized arguments: --colour red"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(auditor, capsys, args, message):
    enrol(auditor)
    with pytest.raises(SystemExit) as exit_info:
        call_command("reset_two_factor", *args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert services.is_enrolled(auditor)


def test_from_the_shell_an_unknown_user_is_one_line_without_traceback():
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    result = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "reset_two_factor", "ghost", "--reason", "x"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "reset_two_factor: no user named 'ghost'"


def test_devices_change_only_through_the_audited_services_not_the_admin():
    from django.contrib import admin

    assert not admin.site.is_registered(TOTPDevice)
    assert not admin.site.is_registered(StaticDevice)
