"""A rate limiter shared by every worker on every host: GCRA (generic cell rate algorithm) in one
Redis Lua script, so the decision and the update are one atomic step however many workers ask.

A limit is `rate` sends per `period` seconds with a burst of `burst` sends. The key holds the
theoretical arrival time (TAT) of the next send, in milliseconds. Asking for `n` sends reserves
them and answers how long the caller must wait before sending them (0: now); a wait longer than
`max_wait` reserves nothing and answers the wait, so the caller can reschedule instead of sleeping.
`penalise` pushes the TAT forward (the provider said "slow down": Zalo -32, HTTP 429), so every
worker backs off at once.

Time comes from Redis (`TIME`), not from the workers' clocks, so hosts with skewed clocks agree.
The interval may be a fraction of a millisecond (5,000 sends a second: 0.2 ms), so the TAT is kept
fractional and only the key's expiry (PX, an integer) is rounded up.

Local mode (`make run` with Redis unreachable: settings.JOBS_IN_PROCESS): when Redis cannot be
reached, the same algorithm runs on a JSON file under an exclusive file lock
(settings.LOCAL_RATELIMIT_FILE), shared by the processes of this one machine (the dashboard and the
in-process job loop), with this machine's clock. Outside local mode an unreachable Redis stays an
error: the dispatcher then waits instead of sending without the shared limit.
"""

import contextlib
import fcntl
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

_GCRA = """
local key = KEYS[1]
local interval = tonumber(ARGV[1])   -- ms per send
local burst = tonumber(ARGV[2])      -- sends allowed at once
local n = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])   -- ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local new_tat = tat + n * interval
local allow_at = new_tat - burst * interval
local wait = allow_at - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, wait} end
redis.call('SET', key, new_tat, 'PX', math.ceil(math.max(1000, new_tat - now + 1000)))
return {1, wait}
"""

_PENALISE = """
local key = KEYS[1]
local ms = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', key) or now)
local target = now + ms
if tat < target then
  redis.call('SET', key, target, 'PX', ms + 1000)
end
return target - now
"""


@dataclass(frozen=True)
class Limit:
    """`rate` sends per `period` seconds, at most `burst` at once (at least 1)."""

    key: str
    rate: float
    period: float = 1.0
    burst: int | None = None

    @property
    def interval_ms(self) -> float:
        return self.period * 1000.0 / self.rate

    @property
    def burst_size(self) -> int:
        if self.burst is not None:
            return max(1, self.burst)
        # One second's worth (at least one send): smooth, yet no idle gaps between batches.
        return max(1, int(self.rate / self.period))


@dataclass(frozen=True)
class Decision:
    allowed: bool  # the sends are reserved; send them after `wait` seconds
    wait: float  # seconds


_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    return _client


def reset_client() -> None:
    """Drop the connection (tests that switch REDIS_URL, a forked process)."""
    global _client
    _client = None


def acquire(limit: Limit, n: int = 1, *, max_wait: float = 5.0, conn: redis.Redis | None = None) -> Decision:
    """Reserve `n` sends under `limit`; how long to wait before sending them. Not allowed (nothing
    reserved) when the wait would exceed `max_wait` seconds."""
    if n <= 0:
        return Decision(True, 0.0)
    if conn is None and _use_local():
        return _local_acquire(limit, n, max_wait)
    conn = conn or client()
    try:
        allowed, wait_ms = conn.eval(
            _GCRA, 1, limit.key, limit.interval_ms, limit.burst_size, n, int(max_wait * 1000)
        )
    except redis.ConnectionError:
        if not _fall_back_to_local():
            raise
        return _local_acquire(limit, n, max_wait)
    return Decision(bool(allowed), int(wait_ms) / 1000.0)


def penalise(key: str, seconds: float, *, conn: redis.Redis | None = None) -> float:
    """Nobody sends under `key` for `seconds` from now (a provider's "slow down")."""
    if conn is None and _use_local():
        return _local_penalise(key, seconds)
    conn = conn or client()
    try:
        return int(conn.eval(_PENALISE, 1, key, int(seconds * 1000))) / 1000.0
    except redis.ConnectionError:
        if not _fall_back_to_local():
            raise
        return _local_penalise(key, seconds)


# --- local mode: the same GCRA on a locked file ----------------------------------------------------

_LOCAL_RETRY_SECONDS = 60.0  # how long a process keeps to the file before asking Redis again
_local_since: float | None = None


def _use_local() -> bool:
    return _local_since is not None and time.monotonic() - _local_since < _LOCAL_RETRY_SECONDS


def _fall_back_to_local() -> bool:
    """In local mode (jobs in-process) an unreachable Redis switches this process to the file."""
    global _local_since
    if not settings.JOBS_IN_PROCESS:
        return False
    if _local_since is None:
        logger.warning(
            "Redis is unreachable: rate limits are kept in %s, shared by this machine's processes only",
            settings.LOCAL_RATELIMIT_FILE,
        )
    _local_since = time.monotonic()
    return True


@contextlib.contextmanager
def _local_state():
    """The {key: [tat_ms, expires_ms]} table, read and written under an exclusive lock."""
    path = Path(settings.LOCAL_RATELIMIT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            text = handle.read()
            try:
                state = json.loads(text) if text else {}
            except ValueError:
                state = {}  # a torn file from a killed process: start afresh
            now = time.time() * 1000.0
            state = {k: v for k, v in state.items() if v[1] > now}
            yield state, now
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(state))
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _local_acquire(limit: Limit, n: int, max_wait: float) -> Decision:
    with _local_state() as (state, now):
        tat = max(state.get(limit.key, [now, 0])[0], now)
        interval = limit.interval_ms
        new_tat = tat + n * interval
        wait = max(0.0, new_tat - limit.burst_size * interval - now)
        if wait > max_wait * 1000:
            return Decision(False, int(wait) / 1000.0)
        state[limit.key] = [new_tat, math.ceil(max(1000.0, new_tat - now + 1000)) + now]
    return Decision(True, int(wait) / 1000.0)


def _local_penalise(key: str, seconds: float) -> float:
    with _local_state() as (state, now):
        target = now + seconds * 1000
        if state.get(key, [now, 0])[0] < target:
            state[key] = [target, target + 1000]
    return seconds
