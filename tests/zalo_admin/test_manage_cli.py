"""A documented `python manage.py …` in a fresh shell works or prints one line saying what is missing."""

import os
import subprocess
import sys

from django.conf import settings

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, without Django


def manage(*args, env, python=sys.executable):
    return subprocess.run(
        [python, str(settings.BASE_DIR / "manage.py"), *args],
        cwd="/",
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )


def assert_one_clear_line(result, expected):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_production_mode_without_secrets_says_what_to_set():
    result = manage("verify_audit_log", env={"DEBUG": "0"})
    assert_one_clear_line(result, "configuration error: SECRET_KEY must be set when DEBUG is off")
    assert "make run" in result.stderr


def test_an_unmigrated_database_says_to_migrate(tmp_path):
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    result = manage("verify_audit_log", env=env)
    assert_one_clear_line(result, "the database is not migrated")
    assert "python manage.py migrate" in result.stderr


def test_an_unreachable_database_names_the_setting():
    result = manage(
        "verify_audit_log", env={"DEBUG": "1", "DATABASE_URL": "postgres://postgres@127.0.0.1:9/x"}
    )
    assert_one_clear_line(result, "cannot reach the database")
    assert "DATABASE_URL" in result.stderr


def test_the_system_python_runs_commands_with_the_projects_virtualenv(tmp_path):
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    result = manage("verify_audit_log", env=env, python=SYSTEM_PYTHON)
    assert_one_clear_line(result, "the database is not migrated")
