"""Production mode refuses unsafe configuration and passes Django's deployment checklist."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from zalo_admin.lib.env import database_from_url, envbool, envint, envurl

PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-0123456789",
    "FIELD_ENCRYPTION_KEY": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
    "ALLOWED_HOSTS": "zalo.example.com",
    "AUDIT_SIGNING_KEY": "a" * 20 + "-production-audit-key-0123456789",
}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )


def test_production_mode_passes_check_deploy_with_no_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY", "AUDIT_SIGNING_KEY"])
def test_production_mode_refuses_to_start_without_a_secret(missing):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_a_malformed_boolean_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='maybe' is not a boolean"):
        envbool("SOME_FLAG", False)


def test_integers_and_urls_are_validated(monkeypatch):
    monkeypatch.setenv("WORKERS", "many")
    with pytest.raises(ImproperlyConfigured, match="WORKERS='many' is not an integer"):
        envint("WORKERS", 1)
    monkeypatch.setenv("WORKERS", "-1")
    with pytest.raises(ImproperlyConfigured, match="must be at least 0"):
        envint("WORKERS", 1, minimum=0)
    monkeypatch.setenv("ZALO_API_BASE", "business.openapi.zalo.me")
    with pytest.raises(ImproperlyConfigured, match="is not an http"):
        envurl("ZALO_API_BASE", "http://x")
    monkeypatch.setenv("ZALO_API_BASE", "https://business.openapi.zalo.me/")
    assert envurl("ZALO_API_BASE", "http://x") == "https://business.openapi.zalo.me"


def test_database_urls_are_parsed_for_postgres_and_sqlite():
    pg = database_from_url("postgres://app:s%40cret@db.internal:6543/zalo?sslmode=require")
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "zalo",
        "app",
        "s@cret",
        "db.internal",
        "6543",
    )
    assert pg["OPTIONS"] == {"sslmode": "require"}
    assert database_from_url("sqlite:////tmp/x.sqlite3")["NAME"] == "/tmp/x.sqlite3"
    with pytest.raises(ImproperlyConfigured, match="only postgres:// and sqlite:///"):
        database_from_url("mysql://root@localhost/zalo")
