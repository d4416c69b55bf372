"""TWO_FACTOR_REQUIRED: quality admins, auditors and superusers must enrol before anything else opens;
marketers stay free to choose; the setting is read from the environment, typed."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.twofactor.helpers import code_for_secret
from twofactor import services
from twofactor.views import SETUP_SESSION_KEY

SETUP = reverse("twofactor:setup")


@pytest.fixture
def required(settings):
    settings.TWO_FACTOR_REQUIRED = True


def sign_in(client, username):
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return response


@pytest.mark.parametrize("role", ["quality_admin", "auditor", "superuser"])
def test_a_required_role_is_sent_to_enrolment_and_reaches_nothing_else(required, client, role_users, role):
    user = role_users[role]
    assert services.two_factor_required(user)
    sign_in(client, user.username)
    for url in (reverse("home"), reverse("oas:list"), reverse("campaigns:index"), "/admin/", "/jobs/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(SETUP), url
    assert client.post(reverse("oas:list")).status_code == 302
    page = client.get(SETUP)
    assert page.status_code == 200 and "Your role must sign in with a second factor" in page.content.decode()
    assert client.get(reverse("twofactor:setup_qr")).status_code == 200
    response = client.post(SETUP, {"code": code_for_secret(client.session[SETUP_SESSION_KEY])})
    assert response["Location"] == reverse("twofactor:recovery_codes")
    assert client.get(reverse("home")).status_code == 200


def test_a_marketer_is_not_required(required, client, marketer):
    assert not services.two_factor_required(marketer)
    sign_in(client, "marketer")
    assert client.get(reverse("home")).status_code == 200


def test_without_the_setting_nobody_is_required(client, quality_admin):
    assert django_settings.TWO_FACTOR_REQUIRED is False  # the default
    assert not services.two_factor_required(quality_admin)
    sign_in(client, "quality")
    assert client.get(reverse("home")).status_code == 200


def test_a_required_user_who_resets_is_sent_back_to_enrolment(required, client, quality_admin):
    sign_in(client, "quality")
    client.get(SETUP)
    client.post(SETUP, {"code": code_for_secret(client.session[SETUP_SESSION_KEY])})
    response = client.post(reverse("twofactor:manage"), {"action": "reset", "password": PASSWORD})
    assert response.status_code == 302
    assert not services.is_enrolled(quality_admin)
    assert client.get(reverse("home"))["Location"].startswith(SETUP)


@pytest.mark.parametrize(("raw", "expected"), [("1", "True"), ("off", "False"), ("", "False")])
def test_the_setting_is_a_typed_boolean_from_the_environment(raw, expected):
    result = _settings_value("TWO_FACTOR_REQUIRED", raw)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_malformed_setting_stops_start_up_naming_the_variable():
    result = _settings_value("TWO_FACTOR_REQUIRED", "sometimes")
    assert result.returncode != 0
    assert "TWO_FACTOR_REQUIRED='sometimes' is not a boolean" in result.stderr


def _settings_value(name, raw):
    env = {"PATH": os.environ["PATH"], "DEBUG": "1", name: raw}
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "zalo_admin.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
