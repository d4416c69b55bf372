"""The background thread of the sandbox process: due simulation events, webhook deliveries, quota changes."""

import fcntl
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections, transaction

from sandbox import batch, engine, quota, runtime, webhooks
from sandbox.models import SandboxEvent, SandboxMessage, SandboxOA, SandboxWebhook

log = logging.getLogger(__name__)

TICK_LOCK = threading.Lock()
EVENT_BATCH = 500  # due events handled in one transaction, their writes flushed set-based
WEBHOOK_BATCH = 1000
REPORTS_PER_POST = 100
DRAIN_HORIZON = 0.5  # seconds
TICK_PAUSE = 0.02
_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sandbox-webhook")
_in_flight = set()
_in_flight_lock = threading.Lock()
_last_quota_check = 0.0
_started = False


def run_events(limit=EVENT_BATCH) -> int:
    """Due simulation events, then Infobip messages due for dispatch, in one transaction and batch.

    A `read` event is one conditional UPDATE for all of them (the message is not loaded) unless
    another event of the same message is in the batch."""
    now = runtime.now()
    with runtime.WRITE_LOCK, transaction.atomic(), batch.batch():
        events = list(
            SandboxEvent.objects.filter(done=False, due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("id", "kind", "message_id")[:limit]
        )
        loaded = {message_id for _pk, kind, message_id in events if kind != "read"}
        reads = {message_id for _pk, kind, message_id in events if kind == "read"} - loaded
        # Events of one message in one batch share its instance and so see each other's changes.
        shared = {msg.pk: _attach(msg) for msg in batch.messages_by_id(loaded)}
        for pk, kind, message_id in events:
            msg = shared.get(message_id)
            if msg is None:
                continue  # a pure read (below), or the message is gone
            try:
                engine.run_event(_Event(kind, msg), now)
            except Exception:
                log.exception("sandbox event %s failed", pk)
        if reads:
            batch.mark_read(reads, now)
        if events:
            batch.delete_ids(SandboxEvent, [pk for pk, _kind, _message_id in events])
        due = batch.due_scheduled(now, loaded | reads, max(0, limit - len(events)))
        for msg in due:
            try:
                engine.dispatch(_attach(msg), now)
            except Exception:
                log.exception("sandbox dispatch of message %s failed", msg.pk)
    return len(events) + len(due)


class _Event:
    __slots__ = ("kind", "message")

    def __init__(self, kind, message):
        self.kind = kind
        self.message = message


def _attach(msg: SandboxMessage) -> SandboxMessage:
    """The batch's shared OA (with its app) and Infobip account instances on a message."""
    if msg.oa_id is not None:
        msg.oa = batch.oa_instance(msg.oa_id)
    if msg.infobip_account_id is not None:
        msg.infobip_account = batch.account_instance(msg.infobip_account_id)
    return msg


HOOK_COLUMNS = ("id", "url", "body", "headers", "attempts", "provider", "kind", "duplicate_of_id")


def send_webhooks(limit=WEBHOOK_BATCH) -> int:
    """Start the due webhooks: one POST per Zalo event; Infobip delivery reports due for one URL go
    together, up to REPORTS_PER_POST results in one body (Infobip's `results` array)."""
    now = runtime.real_now()
    with runtime.WRITE_LOCK, transaction.atomic():
        due = list(
            SandboxWebhook.objects.filter(state="pending", next_attempt_at__lte=now)
            .order_by("id")
            .values_list(*HOOK_COLUMNS)[:limit]
        )
        if due:
            SandboxWebhook.objects.filter(pk__in=[h[0] for h in due]).update(state="sending")
    groups: list[list[tuple]] = []
    open_groups: dict[tuple, list[tuple]] = {}
    for hook in due:
        pk, url, body, headers, attempts, provider, kind, duplicate_of = hook
        if provider == "infobip" and kind == "delivery_report" and duplicate_of is None:
            key = (url, attempts == 0)  # first attempts together: their rows are written in one go
            group = open_groups.get(key)
            if group is None or len(group) >= REPORTS_PER_POST:
                group = open_groups[key] = []
                groups.append(group)
            group.append(hook)
        else:
            groups.append([hook])
    for group in groups:
        ids = [hook[0] for hook in group]
        with _in_flight_lock:
            _in_flight.update(ids)
        _pk, url, body, headers, attempts, provider, _kind, _dup = group[0]
        if len(group) > 1:
            body = webhooks.combine([hook[2] for hook in group])
        first_try = all(hook[4] == 0 for hook in group)
        _pool.submit(_deliver, ids, url, body, headers, attempts, provider, first_try)
    return len(due)


def _deliver(hook_ids, url, body, headers, attempts, provider, first_try=False):
    try:
        outcome = webhooks.post(hook_ids[0], url, body, headers, attempts, provider)
        with runtime.WRITE_LOCK, transaction.atomic():
            if first_try:
                # Never tried before (empty history): every row gets the same outcome, one UPDATE.
                proto = SandboxWebhook(provider=provider, attempts=0, history=[])
                webhooks.record(proto, outcome, save=False)
                SandboxWebhook.objects.filter(pk__in=hook_ids).update(
                    attempts=proto.attempts,
                    history=proto.history,
                    state=proto.state,
                    next_attempt_at=proto.next_attempt_at,
                )
            else:
                hooks = list(SandboxWebhook.objects.filter(pk__in=hook_ids))  # a reset may have wiped them
                for hook in hooks:
                    hook.state = "pending"
                    webhooks.record(hook, outcome, save=False)
                batch.update_rows(SandboxWebhook, hooks, ("attempts", "history", "state", "next_attempt_at"))
    except Exception:
        log.exception("webhook %s failed", hook_ids)
    finally:
        with _in_flight_lock:
            _in_flight.difference_update(hook_ids)
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
            # Read again under the lock: an earlier tick (or an admin save) may have changed it.
            previous = SandboxOA.objects.filter(pk=oa.pk).values_list("notified_limit", flat=True).first()
            if previous is None or previous.get("value", "unset") == limit:
                continue
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
    started = time.monotonic()
    runtime.sync()
    with TICK_LOCK:
        work = last = run_events()
        while last >= EVENT_BATCH and time.monotonic() - started < 0.2:
            last = run_events()  # a backlog: several batches before the webhooks of this tick
            work += last
        work += send_webhooks()
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
    if SandboxMessage.objects.filter(state="scheduled", send_after__lte=runtime.now() + horizon).exists():
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


def _lead():
    """Run the loop in one process of the sandbox only: the one holding the worker lock (another
    process takes over when it dies). Every process still runs due work on `drain`."""
    fd = os.open(runtime.state_path(".worker"), os.O_RDWR | os.O_CREAT, 0o600)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.5)
            continue
        _loop()


def start() -> None:
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=_lead, name="sandbox-worker", daemon=True).start()
