"""Run-time state of the sandbox processes: configuration, the sandbox clock and the write lock.

The sandbox may run as several gunicorn processes on one database. What they share:
- the write lock (`WRITE_LOCK`): a thread lock inside a process plus an flock() on a file next to the
  database across processes, so one writer at a time without SQLite's sleeping busy handler;
- a generation counter in a small shared-memory file (`shared_state`): every change of the
  configuration or of cached rows bumps it (at once and again after the commit), and each process
  drops its caches when it sees a new value (`sync()`, at the start of every request and tick);
- the configuration itself lives in the sandbox database.
"""

import copy
import fcntl
import hashlib
import json
import mmap
import os
import struct
import tempfile
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


def state_path(suffix: str) -> str:
    """A file shared by the processes of one sandbox (next to its SQLite file, else in the temp dir)."""
    url = os.environ.get("SANDBOX_DATABASE_URL", "")
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return url[len("sqlite://") :] + suffix
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"zalo-sandbox-{digest}{suffix}")


class ProcessWriteLock:
    """A re-entrant lock held by one thread of one process at a time (thread RLock + flock)."""

    def __init__(self):
        self._local = threading.RLock()
        self._depth = 0
        self._fd = None
        self._pid = None

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own description
            self._fd = os.open(state_path(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> None:
        self._local.acquire()
        if self._depth == 0:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._local.release()
                raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        self._local.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class SharedCounters:
    """Two 64-bit counters in a shared file: [0] caches and configuration, [1] quota history."""

    def __init__(self):
        self._map = None
        self._pid = None

    def _mapped(self):
        if self._map is None or self._pid != os.getpid():
            fd = os.open(state_path(".gen"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < 16:
                    os.ftruncate(fd, 16)
                self._map = mmap.mmap(fd, 16)
            finally:
                os.close(fd)
            self._pid = os.getpid()
        return self._map

    def get(self, slot: int) -> int:
        return struct.unpack_from("<Q", self._mapped(), slot * 8)[0]

    def bump(self, slot: int) -> int:
        shared = self._mapped()
        with WRITE_GEN_LOCK:
            fd = os.open(state_path(".gen"), os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                value = struct.unpack_from("<Q", shared, slot * 8)[0] + 1
                struct.pack_into("<Q", shared, slot * 8, value)
            finally:
                os.close(fd)  # closing releases the flock
        return value


WRITE_LOCK = ProcessWriteLock()  # one writer at a time across every process of the sandbox
WRITE_GEN_LOCK = threading.Lock()
WAKE = threading.Event()  # set when there is new work for this process's background worker
shared_state = SharedCounters()
CACHES, QUOTA = 0, 1
_seen_generation = None

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
        invalidate()
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
    """Drop the cached rows here and tell the other processes to drop theirs."""
    invalidate()


def _drop_local() -> None:
    global _cache
    with _memo_lock:
        _memo.clear()
    with _cache_lock:
        _cache = None


def invalidate(slot: int = CACHES) -> None:
    """Bump a shared counter now and again once the current transaction commits (a process that
    reloaded in between would otherwise keep what it read before the commit)."""
    from django.db import transaction

    global _seen_generation
    if slot == CACHES:
        _drop_local()
    shared_state.bump(slot)
    transaction.on_commit(lambda: shared_state.bump(slot))
    if slot == CACHES:
        _seen_generation = None


def sync() -> None:
    """Drop this process's caches when another process changed what they hold."""
    global _seen_generation
    generation = shared_state.get(CACHES)
    if generation != _seen_generation:
        _drop_local()
        _seen_generation = generation


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
