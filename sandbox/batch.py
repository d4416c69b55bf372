"""Set-based writes for the simulation: one batch of events, flushed in a few statements.

The background worker runs a few hundred due events at a time. Each handler in `sandbox.engine`
describes its writes through this module (`save`, `schedule`, `count_send`, `charge`, `queue_webhook`);
inside `batch()` they are collected and written at the end (or at an explicit `flush()`) with one
statement per kind: executemany UPDATEs, bulk INSERTs, one counter UPDATE per OA and day. Outside a
batch every call writes at once, as before. The caller holds runtime.WRITE_LOCK inside a transaction,
so nothing else writes in between and the in-memory counters below are the truth until the flush.
"""

import contextlib
import threading
from collections import defaultdict

from django.db import connection

_local = threading.local()


class Batch:
    def __init__(self):
        self.dirty: dict[int, tuple[object, set[str]]] = {}  # message pk -> (message, fields)
        self.new: list = []  # messages without a pk, inserted first at the flush (raw INSERT)
        self.events: list = []
        self.webhooks: list = []
        self.sends: dict[tuple[int, object], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.charges: dict[int, int] = defaultdict(int)
        self.oas: dict[int, object] = {}  # one instance per OA: its balance is tracked in memory
        self.templates: dict[tuple[int, str], object] = {}  # templates to re-evaluate at the end
        self.sent_read: dict[tuple[int, object], tuple[int, int]] = {}  # daily counts read this batch
        self.accounts: dict[int, object] = {}

    def pending_sends(self, oa_pk: int, day) -> tuple[int, int]:
        counts = self.sends.get((oa_pk, day))
        return (counts["sent"], counts["sent_tag3"]) if counts else (0, 0)

    def flush(self) -> None:
        from sandbox import webhooks
        from sandbox.models import SandboxDailyStat, SandboxEvent, SandboxMessage, SandboxOA

        if self.new:
            new, self.new = self.new, []
            for msg in new:
                insert_instance(msg)
        if self.dirty:
            by_fields: dict[tuple[str, ...], list] = defaultdict(list)
            for msg, fields in self.dirty.values():
                by_fields[tuple(sorted(fields))].append(msg)
            for fields, rows in by_fields.items():
                update_rows(SandboxMessage, rows, fields)
            self.dirty = {}
        if self.sends:
            stats = connection.ops.quote_name(SandboxDailyStat._meta.db_table)
            columns = ("sent", "sent_tag1", "sent_tag2", "sent_tag3")
            sets = ", ".join(f"{name} = {name} + %s" for name in columns)
            day_field = SandboxDailyStat._meta.get_field("day")
            for (oa_pk, day), counts in self.sends.items():
                values = [counts.get(name, 0) for name in columns]
                day_value = day_field.get_db_prep_save(day, connection)
                sql = f"UPDATE {stats} SET {sets} WHERE oa_id = %s AND day = %s"  # noqa: S608
                with connection.cursor() as cursor:
                    cursor.execute(sql, [*values, oa_pk, day_value])
                    updated = cursor.rowcount
                if not updated:
                    SandboxDailyStat.objects.get_or_create(
                        oa_id=oa_pk, day=day, defaults={"bad_by_hour": [0] * 24}
                    )
                    with connection.cursor() as cursor:
                        cursor.execute(sql, [*values, oa_pk, day_value])
            self.sends = defaultdict(lambda: defaultdict(int))
            self.sent_read = {}
        if self.charges:
            table = connection.ops.quote_name(SandboxOA._meta.db_table)
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET balance = balance - %s WHERE id = %s",  # noqa: S608
                    [[amount, oa_pk] for oa_pk, amount in self.charges.items()],
                )
            self.charges = defaultdict(int)
        if self.events:
            insert_rows(
                SandboxEvent,
                ("kind", "message", "due_at", "done"),
                [[kind, msg.pk, due_at, False] for kind, msg, due_at in self.events],
            )
            self.events = []
        if self.webhooks:
            hooks, self.webhooks = self.webhooks, []
            webhooks.insert(hooks)


def current() -> Batch | None:
    return getattr(_local, "batch", None)


@contextlib.contextmanager
def batch():
    """Collect the writes of the block and flush them at its end (nested blocks join the outer one)."""
    outer = current()
    if outer is not None:
        yield outer
        return
    _local.batch = Batch()
    try:
        yield _local.batch
        pending = _local.batch
        pending.flush()
        if pending.templates:
            from sandbox import engine

            templates, pending.templates = pending.templates, {}
            _local.batch = None  # quality reads the flushed ledger and writes at once (rare)
            for oa, template_id, now in templates.values():
                engine.evaluate_template_quality(oa, template_id, now)
    finally:
        _local.batch = None


def flush() -> None:
    pending = current()
    if pending is not None:
        pending.flush()


def insert_rows(model, fields: tuple[str, ...], rows: list[list]) -> None:
    """INSERT rows (lists of Python values in `fields` order) as one executemany, without model
    instances; a value repeated across rows (the same dict, datetime…) is converted once."""
    if not rows:
        return
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in concrete)
    marks = ", ".join(["%s"] * len(concrete))
    sql = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    memo: dict = {}
    params = []
    for row in rows:
        out = []
        for index, (f, value) in enumerate(zip(concrete, row, strict=True)):
            key = (index, id(value)) if isinstance(value, dict | list) else (index, value)
            prepared = memo.get(key, memo)
            if prepared is memo:
                prepared = memo[key] = f.get_db_prep_save(value, connection)
            out.append(prepared)
        params.append(out)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


_insert_sql: dict = {}


def insert_instance(obj) -> None:
    """INSERT one model instance with a raw statement (no ORM compilation) and set its pk."""
    meta = obj._meta
    key = (meta.label, connection.vendor)
    cached = _insert_sql.get(key)
    if cached is None:
        concrete = [f for f in meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in concrete)
        marks = ", ".join(["%s"] * len(concrete))
        sql = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
        if connection.vendor == "postgresql":
            sql += " RETURNING id"
        cached = _insert_sql[key] = (sql, concrete)
    sql, concrete = cached
    params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0] if connection.vendor == "postgresql" else cursor.lastrowid
    obj._state.adding = False
    obj._state.db = connection.alias


def update_rows(model, rows: list, fields) -> None:
    """UPDATE model SET f… = values of each row WHERE id = row.pk, as one executemany."""
    if not rows:
        return
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in concrete)
    sql = f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {sets} WHERE id = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in concrete] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


# --- the calls the engine makes ----------------------------------------------------------------------


def save(msg, fields) -> None:
    pending = current()
    if pending is None:
        msg.save(update_fields=list(fields) if msg.pk is not None else None)
        return
    if msg.pk is None:  # a new message: one raw INSERT of all its fields at the flush
        if not any(m is msg for m in pending.new):
            pending.new.append(msg)
        return
    entry = pending.dirty.get(msg.pk)
    if entry is None:
        pending.dirty[msg.pk] = (msg, set(fields))
    else:
        entry[1].update(fields)


def schedule(msg, kind: str, due_at) -> None:
    from sandbox import runtime
    from sandbox.models import SandboxEvent

    pending = current()
    if pending is None:
        SandboxEvent(kind=kind, message=msg, due_at=due_at).save()
    else:
        pending.events.append((kind, msg, due_at))  # the message's pk is read at the flush
    runtime.WAKE.set()


def count_send(oa, tag: int, day) -> None:
    from sandbox import quota

    field = {1: "sent_tag1", 2: "sent_tag2", 3: "sent_tag3"}.get(tag, "sent_tag1")
    pending = current()
    if pending is None:
        quota.increment(oa, day, {"sent": 1, field: 1})
        return
    counts = pending.sends[(oa.pk, day)]
    counts["sent"] += 1
    counts[field] += 1


def charge(oa, amount: int) -> None:
    from django.db.models import F

    from sandbox.models import SandboxOA

    oa.balance -= amount
    pending = current()
    if pending is None:
        SandboxOA.objects.filter(pk=oa.pk).update(balance=F("balance") - amount)
    else:
        pending.charges[oa.pk] += amount


def queue_webhook(hook) -> None:
    from sandbox import webhooks

    pending = current()
    if pending is None:
        webhooks.insert([hook])
    else:
        pending.webhooks.append(hook)


def account_instance(account_pk: int | None):
    from sandbox.models import SandboxInfobipAccount

    if account_pk is None:
        return None
    pending = current()
    if pending is None:
        return SandboxInfobipAccount.objects.get(pk=account_pk)
    account = pending.accounts.get(account_pk)
    if account is None:
        account = pending.accounts[account_pk] = SandboxInfobipAccount.objects.get(pk=account_pk)
    return account


def oa_instance(oa_pk: int):
    """The batch's one instance of an OA (fresh from the database at first use)."""
    from sandbox.models import SandboxOA

    pending = current()
    if pending is None:
        return SandboxOA.objects.select_related("app").get(pk=oa_pk)
    oa = pending.oas.get(oa_pk)
    if oa is None:
        oa = pending.oas[oa_pk] = SandboxOA.objects.select_related("app").get(pk=oa_pk)
    return oa


def evaluate_template_later(oa, template_id: str, now) -> bool:
    """In a batch, a template's quality is evaluated once at its end (True); else False."""
    pending = current()
    if pending is None:
        return False
    pending.templates[(oa.pk, template_id)] = (oa, template_id, now)
    return True


def oa_balance(oa_pk: int) -> int:
    from sandbox.models import SandboxOA

    table = connection.ops.quote_name(SandboxOA._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT balance FROM {table} WHERE id = %s", [oa_pk])  # noqa: S608
        return cursor.fetchone()[0]


def daily_counts(oa_pk: int, day) -> tuple[int, int]:
    """(sent, sent_tag3) of an OA's Vietnam day, (0, 0) without a row."""
    from sandbox.models import SandboxDailyStat

    table = connection.ops.quote_name(SandboxDailyStat._meta.db_table)
    value = SandboxDailyStat._meta.get_field("day").get_db_prep_save(day, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT sent, sent_tag3 FROM {table} WHERE oa_id = %s AND day = %s", [oa_pk, value])  # noqa: S608
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, 0)


def mark_read(message_ids, now) -> None:
    """engine.read for messages not loaded: read_at once, `delivered` becomes `read` (one UPDATE)."""
    from sandbox.models import SandboxMessage

    meta = SandboxMessage._meta
    table = connection.ops.quote_name(meta.db_table)
    moment = meta.get_field("read_at").get_db_prep_save(now, connection)
    ids = list(message_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET read_at = %s,"  # noqa: S608
                " state = CASE WHEN state = 'delivered' THEN 'read' ELSE state END"
                f" WHERE id IN ({marks}) AND read_at IS NULL",
                [moment, *chunk],
            )
