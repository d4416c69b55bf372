"""Run-time state of the sandbox process: configuration, the sandbox clock and the write lock.

The sandbox runs as one process (gunicorn, one gthread worker) so an in-process cache of the
configuration stays coherent; the configuration itself lives in the sandbox database.
"""

import copy
import json
import os
import threading
from datetime import UTC, datetime, timedelta

DEFAULT_CONFIG = {
    # Simulated people (see sandbox/people.py for the mapping).
    "people_seed": "sandbox",
    "rates": {
        "not_on_zalo": 0.05,
        "opted_out": 0.03,
        "unreachable": 0.02,
        "follower": 0.6,
        "read": 0.7,
        "bad_report": 0.01,
    },
    "delivery_delay_ms": [100, 2000],  # per phone, inside this range, times delay_factor
    "read_delay_ms": [500, 5000],
    "bad_report_delay_ms": [1000, 8000],
    "delay_factor": 1.0,
    # OAuth.
    "access_token_lifetime": 90000,
    "refresh_token_lifetime": 90 * 86400,
    "code_lifetime": 600,
    # Sends.
    "accept_local_phone_formats": True,  # 0xxxxxxxxx and 9-digit numbers are normalised to 84…
    "night_ban": False,  # -133 between 22:00 and 06:00 Vietnam time
    "dev_daily_quota": 100,
    "quota_exhausted": False,  # forced: every OA answers -144
    # Webhooks.
    "webhook_retry_factor": 1.0,  # 0.001 turns Zalo's 30 s … 1 h ladder into 30 ms … 3.6 s
    "webhook_timeout": 2.0,
    "webhook_signature_first_term": "app_id",  # or "oa_id" (provider-apis.md §1.14 CONFLICT)
    "webhook_timestamp_clock": "real",  # or "sandbox": the clock of the signed `timestamp` field
    "duplicate_webhook_rate": 0.0,
    # Faults on the provider paths (not on /sandbox/...).
    "faults": {
        "error_rate": 0.0,
        "error_status": 503,
        "latency_ms": 0,
        "timeout_rate": 0.0,
        "timeout_seconds": 30.0,
        "reset_rate": 0.0,
        "scope": ["zalo", "oauth", "infobip"],
    },
    # Clock: sandbox now = fixed moment if set, else real time + offset.
    "clock_offset_seconds": 0.0,
    "clock_fixed": None,
}

WRITE_LOCK = threading.RLock()  # SQLite has one writer; serialising writes in-process avoids lock errors
WAKE = threading.Event()  # set when there is new work for the background worker

_cache: dict | None = None
_cache_lock = threading.Lock()


def merge(base: dict, patch: dict) -> dict:
    """A deep merge of `patch` into a copy of `base` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def initial_config() -> dict:
    """Defaults plus the JSON in SANDBOX_CONFIG (set from the command's flags)."""
    raw = os.environ.get("SANDBOX_CONFIG", "")
    return merge(DEFAULT_CONFIG, json.loads(raw) if raw else {})


def config() -> dict:
    global _cache
    cached = _cache
    if cached is not None:
        return cached
    from sandbox.models import SandboxSetting

    with _cache_lock:
        row = SandboxSetting.objects.filter(key="config").first()
        _cache = merge(DEFAULT_CONFIG, row.data if row else {})
        return _cache


def set_config(data: dict) -> dict:
    """Replace the stored configuration (already merged with defaults by the caller)."""
    global _cache
    from sandbox.models import SandboxSetting

    with WRITE_LOCK:
        SandboxSetting.objects.update_or_create(key="config", defaults={"data": data})
        with _cache_lock:
            _cache = merge(DEFAULT_CONFIG, data)
    return _cache


def update_config(patch: dict) -> dict:
    return set_config(merge(config(), patch))


MEMO_MAX = 100_000
_memo: dict = {}
_memo_lock = threading.Lock()
_MISSING = object()


def cached(namespace: str, key, loader):
    """A per-process memo of hot lookups (tokens, templates, pinned people); cleared on every write
    through the admin API, on reset and on template changes (the process is the only writer)."""
    with _memo_lock:
        value = _memo.get((namespace, key), _MISSING)
    if value is _MISSING:
        value = loader()
        with _memo_lock:
            if len(_memo) > MEMO_MAX:  # e.g. a flood of random tokens: start over rather than grow
                _memo.clear()
            _memo[(namespace, key)] = value
    return value


def clear_caches() -> None:
    with _memo_lock:
        _memo.clear()


def real_now() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    """The sandbox clock (UTC, aware)."""
    cfg = config()
    if cfg.get("clock_fixed"):
        return parse_iso(cfg["clock_fixed"])
    return real_now() + timedelta(seconds=float(cfg.get("clock_offset_seconds") or 0))


def parse_iso(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def ms(moment: datetime | None) -> str | None:
    """Epoch milliseconds as a string, as Zalo writes times."""
    return None if moment is None else str(int(moment.timestamp() * 1000))
