"""Liveness of the parts the dashboard cannot work without."""

import os

import redis
from django.conf import settings
from django.db import connection


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says why
        return f"error: {exc.__class__.__name__}: {exc}".strip()
    return "ok"


def redis_status(url: str | None = None) -> str:
    client = redis.Redis.from_url(url or settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"error: {exc.__class__.__name__}: {exc}"
    finally:
        client.close()
    return "ok"


def check_health() -> tuple[bool, dict[str, str]]:
    parts = {"database": database_status(), "redis": redis_status()}
    return all(value == "ok" for value in parts.values()), parts


def settle_job_mode() -> str:
    """`make run`'s one decision, taken by each of its steps (seed_demo, run_stack) the same way:
    when Redis is unreachable, jobs run in-process (this process, and the children it starts through
    the environment). Returns the line to print when it switched, else ""."""
    if settings.JOBS_IN_PROCESS:
        return ""
    state = redis_status()
    if state == "ok":
        return ""
    settings.JOBS_IN_PROCESS = True
    os.environ["JOBS_IN_PROCESS"] = "1"
    return f"Redis at {settings.REDIS_URL} is unreachable ({state}); jobs run in-process."
