"""Outgoing webhooks: Zalo events signed as Zalo signs them, Infobip delivery reports; retried on non-200.

Zalo: header `X-ZEvent-Signature: mac=<hex>`, mac = sha256(app_id + raw body + timestamp + OA secret)
(plain SHA-256, not HMAC), `X-ZEvent-Server: ZNS`; retries at 30 s, 5 min, 15 min, 30 min, 1 h with
header `num_retry`. Infobip: retries at 1 min + 1 min × n². Both ladders are multiplied by the
`webhook_retry_factor` configuration so tests run them in milliseconds.
"""

import hashlib
import json
import logging
import zlib
from dataclasses import dataclass
from datetime import timedelta

import requests

from sandbox import runtime
from sandbox.models import SandboxOA, SandboxWebhook

log = logging.getLogger(__name__)

ZALO_RETRY_SECONDS = (30, 300, 900, 1800, 3600)
INFOBIP_MAX_RETRIES = 5


def zalo_signature(first_term: str, body: str, timestamp: str, secret: str) -> str:
    return "mac=" + hashlib.sha256(f"{first_term}{body}{timestamp}{secret}".encode()).hexdigest()


def emit_zalo(oa: SandboxOA, event_name: str, payload: dict):
    """Queue a Zalo event for the OA's app webhook (nothing when the app has no webhook URL)."""
    app = oa.app
    if app is None or not app.webhook_url:
        return None
    cfg = runtime.config()
    # The signed `timestamp` is when the event is pushed: real time by default, so receivers' freshness
    # checks pass however far a test moved the sandbox clock (business times follow the sandbox clock).
    clock = runtime.now if cfg.get("webhook_timestamp_clock") == "sandbox" else runtime.real_now
    timestamp = runtime.ms(clock())
    body_obj = {"event_name": event_name, "app_id": app.app_id, **payload, "timestamp": timestamp}
    body = json.dumps(body_obj, ensure_ascii=False, separators=(",", ":"))
    first = app.app_id if cfg.get("webhook_signature_first_term", "app_id") == "app_id" else oa.oa_id
    headers = {
        "Content-Type": "application/json",
        "X-ZEvent-Server": "ZNS",
        "X-ZEvent-Signature": zalo_signature(first, body, timestamp, app.webhook_secret or app.secret_key),
    }
    return _queue("zalo", event_name, app.webhook_url, body, headers)


def emit_infobip(url: str, results: list[dict], kind: str = "delivery_report", **extra):
    body = json.dumps({"results": results, **extra}, ensure_ascii=False, separators=(",", ":"))
    return _queue("infobip", kind, url, body, JSON_HEADERS)


def _queue(provider, kind, url, body, headers):
    from sandbox import batch

    now = runtime.real_now()
    hook = QueuedHook(provider, kind, url, body, headers, now, now)
    batch.queue_webhook(hook)  # written now, or with the worker's batch
    return hook


@dataclass(slots=True)
class QueuedHook:
    """A webhook to write (a plain object: thousands are queued per second)."""

    provider: str
    kind: str
    url: str
    body: str
    headers: dict
    next_attempt_at: object
    created_at: object


JSON_HEADERS = {"Content-Type": "application/json"}
HOOK_FIELDS = ("provider", "kind", "url", "body", "headers", "state", "attempts", "next_attempt_at",
               "history", "created_at")  # fmt: skip


def insert(hooks: list) -> None:
    """Write queued webhooks (one INSERT), then the configured share of duplicates."""
    from sandbox import batch

    rate = float(runtime.config().get("duplicate_webhook_rate") or 0)
    if rate <= 0:  # no duplicates to link: one raw executemany, the rows' ids are not needed
        empty = []
        batch.insert_rows(
            SandboxWebhook,
            HOOK_FIELDS,
            [
                [
                    h.provider,
                    h.kind,
                    h.url,
                    h.body,
                    h.headers,
                    "pending",
                    0,
                    h.next_attempt_at,
                    empty,
                    h.created_at,
                ]
                for h in hooks
            ],
        )
    else:
        hooks = [
            SandboxWebhook(
                provider=h.provider,
                kind=h.kind,
                url=h.url,
                body=h.body,
                headers=h.headers,
                next_attempt_at=h.next_attempt_at,
                created_at=h.created_at,
            )
            for h in hooks
        ]
        SandboxWebhook.objects.bulk_create(hooks, batch_size=500)
        seed = runtime.config()["people_seed"]
        SandboxWebhook.objects.bulk_create(
            [
                SandboxWebhook(
                    provider=hook.provider,
                    kind=hook.kind,
                    url=hook.url,
                    body=hook.body,
                    headers=hook.headers,
                    next_attempt_at=hook.next_attempt_at,
                    created_at=hook.created_at,
                    duplicate_of=hook,
                )
                for hook in hooks
                if _unit(f"dup:{hook.pk}:{seed}") < rate
            ]
        )
    runtime.WAKE.set()


def _unit(text: str) -> float:
    return zlib.crc32(hashlib.sha256(text.encode()).digest()) / 2**32


def retry_delay(hook: SandboxWebhook, attempts_done: int) -> float | None:
    """Seconds until the next attempt after `attempts_done` attempts, None when the ladder is exhausted."""
    factor = float(runtime.config().get("webhook_retry_factor", 1.0))
    if hook.provider == "zalo":
        if attempts_done > len(ZALO_RETRY_SECONDS):
            return None
        return ZALO_RETRY_SECONDS[attempts_done - 1] * factor
    if attempts_done > INFOBIP_MAX_RETRIES:
        return None
    retry_number = attempts_done  # 1min + (1min * retryNumber * retryNumber)
    return (60 + 60 * retry_number * retry_number) * factor


def post(hook_id: int, url: str, body: str, headers: dict, attempts: int, provider: str) -> dict:
    """One HTTP attempt (runs without the write lock); the outcome as a history entry."""
    headers = dict(headers)
    if attempts > 0 and provider == "zalo":
        headers["num_retry"] = str(attempts)
    timeout = float(runtime.config().get("webhook_timeout", 2.0))
    started = runtime.real_now()
    try:
        response = requests.post(url, data=body.encode(), headers=headers, timeout=timeout)
        code = response.status_code
        error = ""
    except requests.RequestException as exc:
        code = None
        error = type(exc).__name__
    return {"at": started.isoformat(), "status": code, "error": error, "num_retry": attempts}


def combine(bodies: list[str]) -> str:
    """One Infobip report body whose `results` are those of every body (in order)."""
    head, tail = '{"results":[', "]}"
    if all(body.startswith(head) and body.endswith(tail) for body in bodies):
        # The bodies emit_infobip writes: join their arrays as text (the same JSON as re-encoding).
        return head + ",".join(body[len(head) : -len(tail)] for body in bodies if body != head + tail) + tail
    results = []
    for body in bodies:
        results.extend(json.loads(body)["results"])
    return json.dumps({"results": results}, ensure_ascii=False, separators=(",", ":"))


def record(hook: SandboxWebhook, outcome: dict, save: bool = True) -> None:
    hook.attempts += 1
    hook.history = [*hook.history, outcome]
    if outcome["status"] == 200:
        hook.state = "delivered"
        hook.next_attempt_at = None
    else:
        delay = retry_delay(hook, hook.attempts)
        if delay is None:
            hook.state = "failed"
            hook.next_attempt_at = None
        else:
            hook.next_attempt_at = runtime.real_now() + timedelta(seconds=delay)
    if save:
        hook.save(update_fields=["attempts", "history", "state", "next_attempt_at"])
