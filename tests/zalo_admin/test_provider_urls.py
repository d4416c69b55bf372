"""Provider base URLs from the environment (issue 9a): https in production, plain http only to a
loopback host in local mode (DEBUG), never credentials, a query or a fragment; a bad value stops
start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from zalo_admin.lib.env import envurl

PRODUCTION = {
    "PATH": os.environ["PATH"],
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-0123456789",
    "FIELD_ENCRYPTION_KEY": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
    "AUDIT_SIGNING_KEY": "a" * 20 + "-production-audit-key-0123456789",
    "ALLOWED_HOSTS": "zalo.example.com",
}
LOCAL = {"PATH": os.environ["PATH"], "DEBUG": "1"}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("value", "local_mode"),
    [
        ("https://business.openapi.zalo.me/", False),
        ("https://127.0.0.1:8443/zalo", False),
        ("http://127.0.0.1:8600/zalo", True),
        ("http://localhost:8600/zalo", True),
        ("http://[::1]:8600/zalo", True),
        ("https://oauth.zaloapp.com", True),
    ],
)
def test_https_anywhere_and_loopback_http_in_local_mode_are_accepted(monkeypatch, value, local_mode):
    monkeypatch.setenv("ZALO_API_BASE", value)
    assert envurl("ZALO_API_BASE", "https://unused.example", local_mode=local_mode) == value.rstrip("/")


@pytest.mark.parametrize(
    ("value", "local_mode", "message"),
    [
        ("http://127.0.0.1:8600/zalo", False, "must use https when DEBUG is off"),
        ("http://business.openapi.zalo.me", False, "must use https when DEBUG is off"),
        ("http://sandbox.internal:8600/zalo", True, "may use plain http only for a loopback host"),
        ("http://127.0.0.1.attacker.example/zalo", True, "may use plain http only for a loopback host"),
        ("https://business.openapi.zalo.me/?x=1", False, "must not have a query (?) or fragment (#)"),
        ("https://business.openapi.zalo.me/#x", False, "must not have a query (?) or fragment (#)"),
        ("https://business.openapi.zalo.me:port", False, "is not an http(s) URL"),
        ("ftp://business.openapi.zalo.me", False, "is not an http(s) URL"),
    ],
)
def test_other_urls_are_refused_with_the_variable_named(monkeypatch, value, local_mode, message):
    monkeypatch.setenv("ZALO_API_BASE", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        envurl("ZALO_API_BASE", "https://unused.example", local_mode=local_mode)
    assert str(refused.value).startswith(f"ZALO_API_BASE={value!r} {message}")


def test_a_url_with_a_password_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("INFOBIP_BASE_URL", "https://user:hunter2-secret@api.infobip.com")
    with pytest.raises(ImproperlyConfigured) as refused:
        envurl("INFOBIP_BASE_URL", "https://unused.example")
    assert str(refused.value) == "INFOBIP_BASE_URL must not contain a user name or password"


@pytest.mark.parametrize(
    ("env", "variable", "value", "message"),
    [
        (PRODUCTION, "ZALO_API_BASE", "http://127.0.0.1:8600/zalo", "must use https when DEBUG is off"),
        (PRODUCTION, "ZALO_OAUTH_BASE", "http://oauth.zaloapp.com", "must use https when DEBUG is off"),
        (PRODUCTION, "INFOBIP_BASE_URL", "http://api.infobip.com", "must use https when DEBUG is off"),
        (PRODUCTION, "ZALO_OA_API_BASE", "openapi.zalo.me", "is not an http(s) URL"),
        (
            LOCAL,
            "ZALO_API_BASE",
            "http://sandbox.internal:8600/zalo",
            "may use plain http only for a loopback",
        ),
    ],
)
def test_a_bad_provider_url_stops_start_up_naming_the_variable(env, variable, value, message):
    result = manage("check", env={**env, variable: value})
    assert result.returncode != 0
    assert f"{variable}={value!r} {message}" in result.stderr


def test_production_defaults_to_the_real_https_services_and_local_mode_to_the_sandbox():
    show = (
        "from django.conf import settings as s; print(s.ZALO_API_BASE, s.ZALO_OAUTH_BASE, s.INFOBIP_BASE_URL)"
    )
    production = manage("shell", "-v", "0", "-c", show, env=PRODUCTION)
    assert production.returncode == 0, production.stderr
    assert production.stdout.splitlines()[-1].split() == [
        "https://business.openapi.zalo.me",
        "https://oauth.zaloapp.com",
        "https://api.infobip.com",
    ]
    local = manage("shell", "-v", "0", "-c", show, env=LOCAL)
    assert local.returncode == 0, local.stderr
    assert local.stdout.splitlines()[-1].split() == [
        "http://127.0.0.1:8600/zalo",
        "http://127.0.0.1:8600/oauth",
        "http://127.0.0.1:8600/infobip",
    ]
