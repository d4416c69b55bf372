"""The one way to start background work: RQ after commit, or in-process when Redis is unavailable.

Arguments go through JSON even in-process, so a payload that could not cross to a real worker
fails in tests and local runs too (as Zulip does).
"""

import json
import logging
from collections.abc import Callable

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def enqueue(func: Callable | str, *args, queue: str = "default", **kwargs) -> None:
    """Run `func(*args, **kwargs)` as a job once the current transaction commits. `func` may be a
    dotted path ("oas.jobs.sync_oa_templates"), so a producer need not import the consumer."""
    payload = json.loads(json.dumps({"args": args, "kwargs": kwargs}))
    transaction.on_commit(lambda: _dispatch(func, payload, queue))


def _dispatch(func: Callable | str, payload: dict, queue: str) -> None:
    if settings.JOBS_IN_PROCESS:
        try:
            target = import_string(func) if isinstance(func, str) else func
            target(*payload["args"], **payload["kwargs"])
        except Exception:
            logger.exception("in-process job %s failed", func if isinstance(func, str) else func.__qualname__)
        return
    django_rq.get_queue(queue).enqueue(func, *payload["args"], **payload["kwargs"])


def enqueue_at(when, func: Callable | str, *args, queue: str = "default", **kwargs) -> None:
    """Run `func` at `when` (an aware datetime) once the current transaction commits (RQ's scheduler:
    workers run with --with-scheduler). In-process mode has no scheduler: the periodic jobs that
    re-kick waiting work pick it up instead."""
    payload = json.loads(json.dumps({"args": args, "kwargs": kwargs}))
    if settings.JOBS_IN_PROCESS:
        return
    transaction.on_commit(
        lambda: django_rq.get_queue(queue).enqueue_at(when, func, *payload["args"], **payload["kwargs"])
    )
