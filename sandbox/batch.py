"""Set-based writes for the simulation: one batch of events, flushed in a few statements.

The background worker runs a few hundred due events at a time. Each handler in `sandbox.engine`
describes its writes through this module (`save`, `schedule`, `count_send`, `charge`, `queue_webhook`);
inside `batch()` they are collected and written at the end (or at an explicit `flush()`) with one
statement per kind: executemany UPDATEs, bulk INSERTs, one counter UPDATE per OA and day. Outside a
batch every call writes at once, as before. The caller holds runtime.WRITE_LOCK inside a transaction,
so nothing else writes in between and the in-memory counters below are the truth until the flush.
"""

import collections
import contextlib
import copy
import re
import sys
import threading
from collections import defaultdict
from datetime import UTC

from django.db import DEFAULT_DB_ALIAS, connection, connections

_local = threading.local()
_QMARKS = re.compile(r"(?<!%)%s")


def db():
    """This thread's Django connection object itself (the module-level `connection` is a proxy that
    looks the thread's connection up on every attribute)."""
    return connections[DEFAULT_DB_ALIAS]


_sql_cache: dict = {}


def raw(conn, sql: str):
    """(the driver's cursor-less execute target, the statement in its parameter style): statements
    of the hot paths skip Django's cursor wrappers (placeholder rewriting on every call)."""
    conn.ensure_connection()
    if conn.vendor == "sqlite":
        text = _sql_cache.get(sql)
        if text is None:
            text = _sql_cache[sql] = _QMARKS.sub("?", sql)
        return conn.connection, text
    return conn.connection.cursor(), sql


def execute(sql: str, params=(), conn=None):
    """Run one statement on the thread's connection (inside its current transaction); the cursor."""
    target, text = raw(conn or db(), sql)
    return target.execute(text, params)


def executemany(sql: str, rows, conn=None):
    target, text = raw(conn or db(), sql)
    return target.executemany(text, rows)


ADAPTED = ("JSONField", "DateTimeField", "DateField", "DecimalField")


def prepared(fields, values, conn) -> list:
    """The values of `fields` ready for the driver: only JSON, date and decimal values need Django's
    adaptation; strings, numbers, booleans and foreign key ids pass as they are."""
    return [
        f.get_db_prep_save(v, conn) if f.get_internal_type() in ADAPTED else v
        for f, v in zip(fields, values, strict=True)
    ]


def adapted(fields) -> list:
    """Per field: the field where its values need Django's adaptation, else None (see prepared)."""
    return [f if f.get_internal_type() in ADAPTED else None for f in fields]


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
        self.template_counts: dict[tuple[str, object], list[int]] = {}  # (template, hour) -> [sent, bad]

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
            conn = db()
            stats = conn.ops.quote_name(SandboxDailyStat._meta.db_table)
            columns = ("sent", "sent_tag1", "sent_tag2", "sent_tag3")
            sets = ", ".join(f"{name} = {name} + %s" for name in columns)
            day_field = SandboxDailyStat._meta.get_field("day")
            sql = f"UPDATE {stats} SET {sets} WHERE oa_id = %s AND day = %s"  # noqa: S608
            for (oa_pk, day), counts in self.sends.items():
                values = [counts.get(name, 0) for name in columns]
                day_value = day_field.get_db_prep_save(day, conn)
                if not execute(sql, [*values, oa_pk, day_value], conn).rowcount:
                    SandboxDailyStat.objects.get_or_create(
                        oa_id=oa_pk, day=day, defaults={"bad_by_hour": [0] * 24}
                    )
                    execute(sql, [*values, oa_pk, day_value], conn)
            self.sends = defaultdict(lambda: defaultdict(int))
            self.sent_read = {}
        if self.template_counts:
            counts, self.template_counts = self.template_counts, {}
            write_template_counts(counts)
        if self.charges:
            conn = db()
            table = conn.ops.quote_name(SandboxOA._meta.db_table)
            executemany(
                f"UPDATE {table} SET balance = balance - %s WHERE id = %s",  # noqa: S608
                [[amount, oa_pk] for oa_pk, amount in self.charges.items()],
                conn,
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


class Combiner:
    """Writes submitted by concurrent threads, done together under one hold of the write lock.

    `submit(item)` queues the item and waits for the write lock; the thread that gets it takes
    every item queued by then (up to `limit`, oldest first) and calls `write(items)` inside one
    transaction and batch, so one commit serves them all; a thread whose item an earlier holder
    already wrote returns at once. When a group fails unexpectedly, each of its items is written
    again on its own, and an item that fails alone gets the exception as its `failure`."""

    def __init__(self, write, limit: int = 64):
        self.write = write
        self.limit = limit
        self.queue: collections.deque = collections.deque()
        self.mutex = threading.Lock()

    def submit(self, item) -> None:
        from sandbox import runtime

        done = [False]
        with self.mutex:
            self.queue.append((item, done))
        while not done[0]:
            with runtime.WRITE_LOCK:
                if done[0]:
                    return
                with self.mutex:
                    group = [self.queue.popleft() for _ in range(min(self.limit, len(self.queue)))]
                try:
                    self._write([entry for entry, _done in group])
                finally:
                    for _entry, entry_done in group:
                        entry_done[0] = True

    def _write(self, items: list) -> None:
        from django.db import transaction

        try:
            with transaction.atomic(), batch():
                self.write(items)
            return
        except Exception:
            if len(items) == 1:
                items[0].failure = sys.exc_info()[1]
                return
        for item in items:
            try:
                with transaction.atomic(), batch():
                    self.write([item])
            except Exception as exc:
                item.failure = exc


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
    instances; a JSON or date value repeated across rows (the same dict, datetime…) is adapted once."""
    if not rows:
        return
    conn = db()
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    columns = ", ".join(conn.ops.quote_name(f.column) for f in concrete)
    marks = ", ".join(["%s"] * len(concrete))
    sql = f"INSERT INTO {conn.ops.quote_name(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    adapt = [(index, f) for index, f in enumerate(adapted(concrete)) if f is not None]
    memo: dict = {}
    params = []
    for row in rows:
        out = list(row)
        for index, f in adapt:
            value = row[index]
            key = (index, id(value)) if isinstance(value, dict | list) else (index, value)
            ready = memo.get(key, memo)
            if ready is memo:
                ready = memo[key] = f.get_db_prep_save(value, conn)
            out[index] = ready
        params.append(out)
    executemany(sql, params, conn)


_insert_sql: dict = {}


def insert_instance(obj) -> None:
    """INSERT one model instance with a raw statement (no ORM compilation) and set its pk."""
    conn = db()
    meta = obj._meta
    key = (meta.label, conn.vendor)
    cached = _insert_sql.get(key)
    if cached is None:
        concrete = [f for f in meta.concrete_fields if not f.primary_key]
        columns = ", ".join(conn.ops.quote_name(f.column) for f in concrete)
        marks = ", ".join(["%s"] * len(concrete))
        sql = f"INSERT INTO {conn.ops.quote_name(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
        if conn.vendor == "postgresql":
            sql += " RETURNING id"
        cached = _insert_sql[key] = (sql, [(f.attname, f) for f in concrete], adapted(concrete))
    sql, names, adapt = cached
    params = []
    for (name, _field), f in zip(names, adapt, strict=True):
        value = getattr(obj, name)
        params.append(value if f is None or (value is None and f.null) else f.get_db_prep_save(value, conn))
    cursor = execute(sql, params, conn)
    obj.pk = cursor.fetchone()[0] if conn.vendor == "postgresql" else cursor.lastrowid
    obj._state.adding = False
    obj._state.db = conn.alias


def update_rows(model, rows: list, fields) -> None:
    """UPDATE model SET f… = values of each row WHERE id = row.pk, as one executemany."""
    if not rows:
        return
    conn = db()
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    sets = ", ".join(f"{conn.ops.quote_name(f.column)} = %s" for f in concrete)
    sql = f"UPDATE {conn.ops.quote_name(meta.db_table)} SET {sets} WHERE id = %s"  # noqa: S608
    adapt = adapted(concrete)
    names = [f.attname for f in concrete]
    params = [
        [
            getattr(row, name) if f is None else f.get_db_prep_save(getattr(row, name), conn)
            for name, f in zip(names, adapt, strict=True)
        ]
        + [row.pk]
        for row in rows
    ]
    executemany(sql, params, conn)


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


def count_template(template_id: str, sent_at, sent: int = 0, bad: int = 0) -> None:
    """Count a message sent to a person (sent=1) or a bad report of one (bad=1) in the hourly
    counters of its template (by the hour it was sent in), which the template's quality reads."""
    if not template_id or sent_at is None:
        return
    key = (template_id, sent_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0))
    pending = current()
    counts = {} if pending is None else pending.template_counts
    entry = counts.get(key)
    if entry is None:
        entry = counts[key] = [0, 0]
    entry[0] += sent
    entry[1] += bad
    if pending is None:
        write_template_counts(counts)


def write_template_counts(counts: dict) -> None:
    from sandbox.models import SandboxTemplateStat

    conn = db()
    table = conn.ops.quote_name(SandboxTemplateStat._meta.db_table)
    hour_field = SandboxTemplateStat._meta.get_field("hour")
    update = f"UPDATE {table} SET sent = sent + %s, bad = bad + %s WHERE template_id = %s AND hour = %s"  # noqa: S608
    insert = f"INSERT INTO {table} (template_id, hour, sent, bad) VALUES (%s, %s, %s, %s)"  # noqa: S608
    for (template_id, hour), (sent, bad) in counts.items():
        moment = hour_field.get_db_prep_save(hour, conn)
        if not execute(update, [sent, bad, template_id, moment], conn).rowcount:
            execute(insert, [template_id, moment, sent, bad], conn)


def template_totals(template_id: str, since, until) -> tuple[int, int]:
    """(sent, bad) of a template's messages sent from the hour of `since` to `until`."""
    from sandbox.models import SandboxTemplateStat

    flush()
    conn = db()
    table = conn.ops.quote_name(SandboxTemplateStat._meta.db_table)
    hour_field = SandboxTemplateStat._meta.get_field("hour")
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    row = execute(
        f"SELECT COALESCE(SUM(sent), 0), COALESCE(SUM(bad), 0) FROM {table}"  # noqa: S608
        " WHERE template_id = %s AND hour >= %s AND hour <= %s",
        [template_id, hour_field.get_db_prep_save(start, conn), hour_field.get_db_prep_save(until, conn)],
        conn,
    ).fetchone()
    return int(row[0]), int(row[1])


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


def oa_for_send(cached_oa):
    """The batch's instance of an OA whose settings came with a cached token: a copy (the cached
    one is shared by the threads) with its balance read fresh, once per batch."""
    pending = current()
    oa = pending.oas.get(cached_oa.pk) if pending is not None else None
    if oa is None:
        oa = copy.copy(cached_oa)
        oa.balance = oa_balance(oa.pk)
        if pending is not None:
            pending.oas[oa.pk] = oa
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

    table = SandboxOA._meta.db_table
    return execute(f'SELECT balance FROM "{table}" WHERE id = %s', [oa_pk]).fetchone()[0]  # noqa: S608


def daily_counts(oa_pk: int, day) -> tuple[int, int]:
    """(sent, sent_tag3) of an OA's Vietnam day, (0, 0) without a row."""
    from sandbox.models import SandboxDailyStat

    conn = db()
    table = conn.ops.quote_name(SandboxDailyStat._meta.db_table)
    value = SandboxDailyStat._meta.get_field("day").get_db_prep_save(day, conn)
    sql = f"SELECT sent, sent_tag3 FROM {table} WHERE oa_id = %s AND day = %s"  # noqa: S608
    row = execute(sql, [oa_pk, value], conn).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def _id_list(ids) -> str:
    """Integer ids written into the statement (they come from the database: ints only), instead
    of one bound parameter each, which the ORM prepares one by one."""
    return ", ".join(str(int(pk)) for pk in ids)


def messages_by_id(ids) -> list:
    """The messages with these ids (model instances), 500 per statement."""
    from sandbox.models import SandboxMessage

    ids = list(ids)
    table = SandboxMessage._meta.db_table
    out = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        out.extend(SandboxMessage.objects.raw(f'SELECT * FROM "{table}" WHERE id IN ({_id_list(chunk)})'))  # noqa: S608
    return out


def delete_ids(model, ids) -> None:
    ids = list(ids)
    for start in range(0, len(ids), 500):
        execute(f'DELETE FROM "{model._meta.db_table}" WHERE id IN ({_id_list(ids[start : start + 500])})')  # noqa: S608


def due_scheduled(now, excluded, limit: int) -> list:
    """Scheduled messages (Infobip) whose send time has come, oldest first, not among `excluded`
    (messages with an event in the current batch), by the partial index on scheduled rows."""
    from sandbox.models import SandboxMessage

    if limit <= 0:
        return []
    table = SandboxMessage._meta.db_table
    moment = SandboxMessage._meta.get_field("send_after").get_db_prep_save(now, db())
    skip = f" AND id NOT IN ({_id_list(excluded)})" if excluded else ""
    sql = (
        f'SELECT * FROM "{table}" WHERE state = %s AND send_after <= %s{skip}'  # noqa: S608
        f" ORDER BY send_after, id LIMIT {int(limit)}"
    )
    return list(SandboxMessage.objects.raw(sql, ["scheduled", moment]))


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
