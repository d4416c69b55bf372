"""Typed settings from the environment that fail loudly on malformed values (as healthchecks does)."""

import os
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from zalo_admin.lib import endpoints

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean (use one of: 1/0, true/false, yes/no, on/off)"
    )


def envint(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


ENDPOINT_PROBLEMS = {
    endpoints.INVALID: "is not an http(s) URL",
    endpoints.QUERY_OR_FRAGMENT: "must not have a query (?) or fragment (#)",
    endpoints.HTTPS_REQUIRED: "must use https when DEBUG is off (production mode)",
    endpoints.HTTP_LOOPBACK_ONLY: "may use plain http only for a loopback host (127.0.0.1, ::1, localhost)",
}


def envurl(name: str, default: str, *, local_mode: bool = False) -> str:
    """A provider base URL without a trailing slash (rules in zalo_admin.lib.endpoints): https, or
    plain http to a loopback host when `local_mode` (DEBUG) is on."""
    raw = os.environ.get(name, default).strip()
    problem = endpoints.endpoint_problem(raw, local_mode=local_mode)
    if problem == endpoints.USERINFO:  # the value holds a password: do not echo it
        raise ImproperlyConfigured(f"{name} must not contain a user name or password")
    if problem is not None:
        raise ImproperlyConfigured(f"{name}={raw!r} {ENDPOINT_PROBLEMS[problem]}")
    return raw.rstrip("/")


def database_from_url(url: str) -> dict:
    """Django DATABASES entry for a postgres:// or sqlite:/// URL."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql"}:
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)[1:]  # sqlite:////abs/path or sqlite:///relative/path
        if not path:
            raise ImproperlyConfigured(f"DATABASE_URL={url!r} names no SQLite file")
        # `make run`'s web, worker and scheduler processes share the file: WAL lets readers go on
        # while one writes, and IMMEDIATE transactions take the write lock at BEGIN (waiting up to
        # `timeout`), where a deferred one that reads then writes fails at once with "database is
        # locked" when another process wrote in between.
        options = {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": options}
    raise ImproperlyConfigured(f"DATABASE_URL={url!r}: only postgres:// and sqlite:/// are supported")
