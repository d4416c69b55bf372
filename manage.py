#!/usr/bin/env python3
"""Django's command-line utility. Missing set-up prints one line saying what to do, not a traceback."""

import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".venv"


def _fail(message: str) -> None:
    print(f"manage.py: {message}", file=sys.stderr)
    sys.exit(2)


def _database_problem(exc: Exception) -> str | None:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "no such table" in text or "no such column" in text or text.endswith("does not exist"):
        return f"the database is not migrated ({text}): run `python manage.py migrate` (`make run` does it)"
    if "connection" in text.lower() or "could not connect" in text.lower() or "unable to open" in text:
        return f"cannot reach the database ({text}): check DATABASE_URL"
    return None


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalo_admin.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError:
        venv_python = VENV / "bin" / "python"
        if venv_python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
            os.execv(venv_python, [str(venv_python), *sys.argv])  # noqa: S606 (the project's own Python)
        _fail("Django is not installed here: run `make run` once (it builds .venv), then try again")
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        hint = " (for local use, `make run` writes .env with DEBUG=1)" if "DEBUG is off" in str(exc) else ""
        _fail(f"configuration error: {exc}{hint}")
    except ModuleNotFoundError as exc:
        wanted = os.environ.get("DJANGO_SETTINGS_MODULE", "")  # --settings has been copied there
        if not exc.name or not (wanted == exc.name or wanted.startswith(f"{exc.name}.")):
            raise
        _fail(f"no settings module {wanted!r} (from --settings or DJANGO_SETTINGS_MODULE)")
    except DatabaseError as exc:
        problem = _database_problem(exc)
        if problem is None:
            raise
        _fail(problem)


if __name__ == "__main__":
    main()
