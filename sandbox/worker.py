"""The background thread of the sandbox process: due simulation events, webhook deliveries, quota changes."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections, transaction

from sandbox import engine, quota, runtime, webhooks
from sandbox.models import SandboxEvent, SandboxOA, SandboxWebhook

log = logging.getLogger(__name__)

TICK_LOCK = threading.Lock()
DRAIN_HORIZON = 0.5  # seconds
TICK_PAUSE = 0.02
_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sandbox-webhook")
_in_flight = set()
_in_flight_lock = threading.Lock()
_last_quota_check = 0.0
_started = False


def run_events(limit=50) -> int:
    now = runtime.now()
    with runtime.WRITE_LOCK, transaction.atomic():
        events = list(
            SandboxEvent.objects.select_related(
                "message", "message__oa", "message__oa__app", "message__infobip_account"
            )
            .filter(done=False, due_at__lte=now)
            .order_by("due_at", "id")[:limit]
        )
        shared = {}  # events of one message in one batch must see each other's changes
        for event in events:
            event.message = shared.setdefault(event.message_id, event.message)
            try:
                with transaction.atomic():
                    engine.run_event(event, now)
            except Exception:
                log.exception("sandbox event %s failed", event.pk)
        SandboxEvent.objects.filter(pk__in=[event.pk for event in events]).update(done=True)
    return len(events)


def send_webhooks(limit=100) -> int:
    now = runtime.real_now()
    with runtime.WRITE_LOCK, transaction.atomic():
        due = list(
            SandboxWebhook.objects.filter(state="pending", next_attempt_at__lte=now).order_by("id")[:limit]
        )
        SandboxWebhook.objects.filter(pk__in=[h.pk for h in due]).update(state="sending")
    for hook in due:
        with _in_flight_lock:
            _in_flight.add(hook.pk)
        _pool.submit(_deliver, hook.pk, hook.url, hook.body, hook.headers, hook.attempts, hook.provider)
    return len(due)


def _deliver(hook_id, url, body, headers, attempts, provider):
    try:
        outcome = webhooks.post(hook_id, url, body, headers, attempts, provider)
        with runtime.WRITE_LOCK, transaction.atomic():
            hook = SandboxWebhook.objects.filter(pk=hook_id).first()
            if hook is not None:  # None: a reset wiped it while it was in flight
                hook.state = "pending"
                webhooks.record(hook, outcome)
    except Exception:
        log.exception("webhook %s failed", hook_id)
    finally:
        with _in_flight_lock:
            _in_flight.discard(hook_id)
        runtime.WAKE.set()
        close_old_connections()


def check_quota_changes() -> None:
    """Announce a changed daily limit with change_oa_daily_quota (first sight only records it)."""
    now = runtime.now()
    for oa in SandboxOA.objects.select_related("app"):
        limit = quota.state(oa, now).limit
        if oa.notified_limit.get("value", "unset") == limit:
            continue
        with runtime.WRITE_LOCK, transaction.atomic():
            previous = oa.notified_limit
            oa.notified_limit = {"value": limit}
            oa.save(update_fields=["notified_limit"])
            if "value" in previous:
                webhooks.emit_zalo(
                    oa,
                    "change_oa_daily_quota",
                    {
                        "oaId": oa.oa_id,
                        "oa_id": oa.oa_id,
                        "quota": {"prev_value": _str(previous["value"]), "new_value": _str(limit)},
                    },
                )


def _str(value):
    return None if value is None else str(value)


def tick(force_quota_check: bool = False) -> int:
    global _last_quota_check
    with TICK_LOCK:
        work = run_events() + send_webhooks()
        if force_quota_check or time.monotonic() - _last_quota_check > 0.5:
            _last_quota_check = time.monotonic()
            check_quota_changes()
    return work


def busy() -> bool:
    """Whether anything is due now or in flight (used by the admin 'drain')."""
    with _in_flight_lock:
        if _in_flight:
            return True
    # With a flowing clock, work due within the horizon counts too (simulated delays of a few ms).
    horizon = timedelta(0) if runtime.config().get("clock_fixed") else timedelta(seconds=DRAIN_HORIZON)
    if SandboxEvent.objects.filter(done=False, due_at__lte=runtime.now() + horizon).exists():
        return True
    return SandboxWebhook.objects.filter(
        state__in=("pending", "sending"),
        next_attempt_at__lte=runtime.real_now() + timedelta(seconds=DRAIN_HORIZON),
    ).exists()


def drain(timeout: float) -> bool:
    """Run until nothing is due (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    tick(force_quota_check=True)
    while time.monotonic() < deadline:
        tick()
        if not busy():
            return True
        time.sleep(0.01)
    return False


def _loop():
    while True:
        runtime.WAKE.wait(timeout=0.05)
        runtime.WAKE.clear()
        try:
            tick()
        except Exception:
            log.exception("sandbox worker tick failed")
            time.sleep(0.2)
        time.sleep(TICK_PAUSE)  # under load, batch the work instead of competing for the write lock


def start() -> None:
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=_loop, name="sandbox-worker", daemon=True).start()
