"""The dispatcher: approved campaigns go out through RQ workers exactly once, within every limit.

Messages (`CampaignMessage`, one per recipient) only move forward along `TRANSITIONS`, each move one
conditional UPDATE (`transition`): a row is sent only by the worker whose `claimed -> sending`
UPDATE matched it, and `sending` is written (committed) before the request leaves. So:

- a worker killed before sending leaves `claimed` rows: after their lease they return to `queued`;
- a worker killed mid-request leaves `sending` rows: after their lease they become `unconfirmed`
  and are never re-sent automatically (a delivery report with their tracking id resolves them);
- an answer that does not say whether the provider acted (SEND_OUTCOME_UNKNOWN) is `unconfirmed`;
  Infobip's "duplicate message id" means an earlier try got through: accepted.

A batch: claim (SKIP LOCKED) -> shared rate limits (campaigns.ratelimit) -> quota reservation for
the batch (quotas.services.reservations, set-based) -> `sending` (only while the campaign runs) ->
provider (Infobip: many per request; Zalo: one per request, a small thread pool over one pooled
session) -> accepted / failed / queued again with backoff / unconfirmed -> release unused quota.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audiences.models import Contact, ContactConsentState
from audiences.services import record_contact_sent, refusals_now
from campaigns import analytics_rollups, approval, eligibility, mapping, ratelimit
from campaigns.models import (
    MAX_VALIDITY_SECONDS,
    Campaign,
    CampaignDispatch,
    CampaignMessage,
    CampaignMessageEvent,
)
from campaigns.services import pause_campaign
from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas.models import OACredentials, OfficialAccount
from oas.services.clients import client_for
from oas.services.template_events import SYNC_JOB, announce_unsendable
from providers import errors
from providers.base import ACCEPTED, REJECTED, MessageRequest, SendResult
from providers.http import HttpClient
from quotas import rules
from quotas.models import CampaignDailyStats, QualityAlert
from quotas.services import reservations
from quotas.services.rollups import record_sent
from zalo_admin import hooks, jobs
from zalo_admin.lib.dates import today_in_vietnam, vietnam_midnight

log = logging.getLogger(__name__)

S = CampaignMessage.State
ACTOR = "system:dispatcher"
TABLE = CampaignMessage._meta.db_table
EVENTS_TABLE = CampaignMessageEvent._meta.db_table
JOB = "campaigns.jobs.dispatch_batch"
START_JOB = "campaigns.jobs.start_campaign"
GATE_JOB = "campaigns.jobs.evaluate_stage_gate"

# Every allowed move. Nothing goes back to queued once a request may have left (sending -> queued
# only for outcomes that prove the provider never processed it: not attempted, 429/503, refused
# connection). Delivered, expired and failed over are final; failed may still fail over (Infobip's
# own failover reports it).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.CLAIMED, S.EXPIRED, S.FAILED}),
    S.CLAIMED: frozenset({S.QUEUED, S.SENDING, S.EXPIRED, S.FAILED}),
    S.SENDING: frozenset({S.ACCEPTED, S.FAILED, S.QUEUED, S.UNCONFIRMED, S.DELIVERED}),
    S.ACCEPTED: frozenset({S.DELIVERED, S.FAILED, S.FAILED_OVER}),
    S.UNCONFIRMED: frozenset({S.ACCEPTED, S.DELIVERED, S.FAILED, S.FAILED_OVER}),
    S.FAILED: frozenset({S.FAILED_OVER}),
    S.DELIVERED: frozenset(),
    S.EXPIRED: frozenset(),
    S.FAILED_OVER: frozenset(),
}
STATE_TIME = {
    S.CLAIMED: "claimed_at",
    S.SENDING: "sending_at",
    S.ACCEPTED: "accepted_at",
    S.DELIVERED: "delivered_at",
    S.FAILED: "failed_at",
    S.EXPIRED: "expired_at",
    S.FAILED_OVER: "failed_over_at",
    S.UNCONFIRMED: "unconfirmed_at",
}
# Rows a worker holds, and rows still to send: a campaign is finished when none are left.
HELD = (S.CLAIMED, S.SENDING)
OPEN = (S.QUEUED, S.CLAIMED, S.SENDING)
TEXT_FIELDS = {"provider_message_id": 120, "error_code": 64, "provider_error_code": 64}
TEXT_FIELDS["provider_error_message"] = 500
CANCELLED = "CAMPAIGN_CANCELLED"
RECIPIENT_CAP = "RECIPIENT_MARKETING_CAP"
VALIDITY_PASSED = "VALIDITY_PASSED"
# A recipient who may no longer get the campaign's purpose when its batch is about to leave.
REFUSED_AT_SEND = "RECIPIENT_REFUSED_AT_SEND"
# Provider "slow down" answers back every worker off for this long when they name no Retry-After.
PROVIDER_BACKOFF_SECONDS = 5.0
MAX_SLEEP = 5.0  # a shorter wait is slept in the job; a longer one reschedules it


class ForbiddenTransition(ValueError):
    """A move not in TRANSITIONS (a programming error: refused before any SQL)."""


class DispatchRefused(Exception):
    """Pause/resume/cancel not possible now; `str()` says why, for the person."""


# --- ids --------------------------------------------------------------------------------------------


def tracking_id(campaign_id: int, phone: str) -> str:
    """Stable per campaign and recipient (so a retry, a resume or a report matches it), at most 48
    characters, and without the phone in it (it travels in logs and webhooks)."""
    key = hashlib.sha256(b"campaigns.tracking_id|" + str(settings.SECRET_KEY).encode()).digest()
    digest = hmac.new(key, f"{campaign_id}:{phone}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"c{campaign_id}-{digest}"


# --- transitions --------------------------------------------------------------------------------------


def transition(
    ids,
    expected,
    new: str,
    *,
    now: datetime | None = None,
    values: dict | None = None,
    per_row: dict[int, dict] | None = None,
    attempts_delta: int = 0,
    require_running: bool = False,
    detail: str = "",
    actor: str = ACTOR,
) -> list[int]:
    """Move the rows among `ids` that are in an `expected` state to `new`, in ONE conditional UPDATE;
    the ids actually moved (a row another worker moved first is left alone). `values`: columns set
    on every row; `per_row`: {id: {text column: value}}; `require_running`: only while the campaign
    is running (a pause or a kill switch committed before this UPDATE stops the send). Each move is
    appended to the message's timeline."""
    expected = (expected,) if isinstance(expected, str) else tuple(expected)
    for state in expected:
        if new not in TRANSITIONS[state]:
            raise ForbiddenTransition(f"{state} -> {new} is not allowed")
    ids = [int(i) for i in (per_row.keys() if per_row is not None else ids)]
    if not ids:
        return []
    now = now or timezone.now()
    quote = connection.ops.quote_name
    sets, params = ["state = %s", "updated_at = %s"], [new, now]
    if new in STATE_TIME:
        sets.append(f"{STATE_TIME[new]} = %s")
        params.append(now)
    for name, value in (values or {}).items():
        sets.append(f"{quote(name)} = %s")
        params.append(value)
    if attempts_delta:
        greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # SQLite: scalar max()
        sets.append(f"attempts = {greatest}(0, m.attempts + %s)")
        params.append(attempts_delta)
    shared = len(sets)  # the columns set alike on every row
    columns = sorted({name for row in (per_row or {}).values() for name in row})
    source = "old"
    source_params: list = []
    if per_row is not None and columns:
        unnests = ["unnest(%s::bigint[]) AS id"]
        source_params.append(ids)
        for name in columns:
            if name not in TEXT_FIELDS and name != "not_before":
                raise ValueError(f"{name} cannot be set per row")
            kind = "timestamptz" if name == "not_before" else "text"
            unnests.append(f"unnest(%s::{kind}[]) AS {quote(name)}")
            values_of = [per_row[i].get(name) for i in ids]
            if kind == "text":
                values_of = [str(v or "")[: TEXT_FIELDS[name]] for v in values_of]
            source_params.append(values_of)
        for name in columns:
            sets.append(f"{quote(name)} = v.{quote(name)}")
        source = f"old JOIN (SELECT {', '.join(unnests)}) AS v ON v.id = old.id"
    running = (
        " AND EXISTS (SELECT 1 FROM campaigns_campaign c WHERE c.id = m.campaign_id AND c.status = 'running')"
        if require_running
        else ""
    )
    if connection.vendor != "postgresql":
        moved = _transition_rows_sqlite(ids, expected, sets[:shared], params, columns, per_row, running)
        _record_events_sqlite(moved, new, now, per_row or {}, values or {}, detail, actor)
        moved = list(_moved_rows_sqlite(moved))
    else:
        # One statement: the CTE locks the rows still in an expected state (re-checked after any
        # concurrent change), so the timeline can name the state each row left; the moves are
        # appended to the timeline by the same statement, which returns what the rollups need.
        event = _event_columns(columns, values or {}, detail)
        returned = ", ".join(MOVED_MESSAGE_COLUMNS)
        sql = (
            f"WITH old AS (SELECT id, state FROM {TABLE} WHERE id = ANY(%s) AND state = ANY(%s) FOR UPDATE), "  # noqa: S608
            f"moved AS (UPDATE {TABLE} AS m SET {', '.join(sets)} FROM {source} "
            f"WHERE m.id = old.id AND m.state = old.state{running} "
            f"RETURNING m.id, old.state AS from_state, {', '.join(f'm.{c}' for c in MOVED_MESSAGE_COLUMNS)}, "
            f"{event.sql} AS event_error, {event.provider_sql} AS event_provider, "
            f"{event.detail_sql} AS event_detail), "
            f"events AS (INSERT INTO {EVENTS_TABLE} "
            "(message_id, from_state, to_state, at, error_code, provider_code, detail, actor) "
            "SELECT id, from_state, %s, %s, event_error, event_provider, event_detail, %s FROM moved) "
            f"SELECT id, from_state, {returned} FROM moved"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql, [ids, list(expected), *params, *source_params, *event.params, new, now, actor[:150]]
            )
            moved = cursor.fetchall()
    analytics_rollups.record_transitions(moved, new)  # funnel counts, sends per source, latency
    return [row[0] for row in moved]


# What `transition` hands its rollups per moved row: the id, the state it left, then these columns.
MOVED_MESSAGE_COLUMNS = (
    "campaign_id", "audience_source_id", "sending_at", "accepted_at", "delivered_at", "created_at",
)  # fmt: skip


@dataclass
class _EventColumns:
    """SQL for the timeline entry's codes and detail, as the moved row's new values give them: the
    row's own value first, else the value set on every row (detail: the row's provider message,
    else its provider message id, else the move's `detail`)."""

    sql: str
    provider_sql: str
    detail_sql: str
    params: list


def _event_columns(columns: list[str], common: dict, detail: str) -> _EventColumns:
    quote = connection.ops.quote_name
    params: list = []

    def first_of(names: list[str], fallback, limit: int) -> str:
        parts = [f"NULLIF(v.{quote(name)}, '')" for name in names if name in columns]
        if fallback:
            parts.append("%s")
            params.append(str(fallback))
        return f"LEFT(COALESCE({', '.join(parts)}, ''), {limit})" if parts else "''"

    error = first_of(["error_code"], common.get("error_code"), 64)
    provider = first_of(["provider_error_code"], common.get("provider_error_code"), 64)
    text = first_of(["provider_error_message", "provider_message_id"], detail, 500)
    return _EventColumns(error, provider, text, params)


def _record_events_sqlite(moved, new, now, per_row, common, detail, actor) -> None:
    """The timeline entries of `transition` on SQLite, by the rules `_event_columns` gives
    PostgreSQL's statement in SQL (keep the two alike)."""
    events = []
    for message_id, old_state in moved:
        row = per_row.get(message_id, {})
        events.append(
            CampaignMessageEvent(
                message_id=message_id,
                from_state=old_state,
                to_state=new,
                at=now,
                error_code=str(row.get("error_code") or common.get("error_code") or "")[:64],
                provider_code=str(row.get("provider_error_code") or common.get("provider_error_code") or "")[
                    :64
                ],
                detail=str(row.get("provider_error_message") or row.get("provider_message_id") or detail)[
                    :500
                ],
                actor=actor[:150],
            )
        )
    CampaignMessageEvent.objects.bulk_create(events, batch_size=2000)


def _moved_rows_sqlite(moved):
    old_state = dict(moved)
    for row in (
        CampaignMessage.objects.filter(pk__in=list(old_state))
        .values_list("pk", *MOVED_MESSAGE_COLUMNS)
        .order_by("pk")
    ):
        yield (row[0], old_state[row[0]], *row[1:])


def _transition_rows_sqlite(ids, expected, sets, params, columns, per_row, running) -> list[tuple[int, str]]:
    """`transition` on SQLite (`make run` without DATABASE_URL: one local user), which has no arrays,
    ANY() or FOR UPDATE: read the rows' states, then one conditional UPDATE per row in one
    transaction; the WHERE re-checks the state, so a row another process moved meanwhile is left
    alone, as on PostgreSQL."""
    adapt = connection.ops.adapt_datetimefield_value

    def value(v):
        return adapt(v) if isinstance(v, datetime) else v

    quote = connection.ops.quote_name
    common = [value(v) for v in params]
    row_sets = [f"{quote(name)} = %s" for name in columns]
    sql = (
        f"UPDATE {TABLE} AS m SET {', '.join([*sets, *row_sets])} "  # noqa: S608
        f"WHERE m.id = %s AND m.state = %s{running} RETURNING id"
    )
    moved = []
    with transaction.atomic(), connection.cursor() as cursor:
        for first in range(0, len(ids), 500):
            chunk = ids[first : first + 500]
            cursor.execute(
                f"SELECT id, state FROM {TABLE} WHERE id IN ({', '.join(['%s'] * len(chunk))}) "  # noqa: S608
                f"AND state IN ({', '.join(['%s'] * len(expected))})",
                [*chunk, *expected],
            )
            for message_id, old_state in cursor.fetchall():
                row = (per_row or {}).get(message_id, {})
                own = []
                for name in columns:
                    v = row.get(name)
                    own.append(value(v) if name == "not_before" else str(v or "")[: TEXT_FIELDS[name]])
                cursor.execute(sql, [*common, *own, message_id, old_state])
                if cursor.fetchone() is not None:
                    moved.append((message_id, old_state))
    return moved


# --- audit --------------------------------------------------------------------------------------------


def _audit(action: str, campaign_id: int, actor, **details) -> None:
    record_audit_event(
        actor=actor_name(actor),
        action=action,
        target_type="campaigns.campaign",
        target_id=campaign_id,
        details={"campaign_id": campaign_id, **details},
    )


# --- start --------------------------------------------------------------------------------------------


def first_slice_size(campaign: Campaign, total: int) -> int:
    """The staged release's first slice: the percentage of the recipients, at least the minimum."""
    if not campaign.staged_release or total == 0:
        return 0
    size = math.ceil(total * float(campaign.stage_percent or 100) / 100)
    size = max(size, campaign.stage_min_recipients or 0)
    return min(total, max(1, size))


@dataclass(frozen=True)
class StartOutcome:
    started: bool
    reason: str = ""
    recipients: int = 0


def start_campaign(campaign_id: int, *, now: datetime | None = None, actor=ACTOR) -> StartOutcome:
    """At `send at`: re-check the approval hash, then create every message row (tracking ids stored
    before any HTTP call), running, audited, workers kicked. Safe to run twice (a running campaign is
    only kicked again); a scheduled one whose time has not come is scheduled for it."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("oa", "template").get(pk=campaign_id)
    if campaign.status == Campaign.Status.RUNNING:
        kick(campaign_id)
        return StartOutcome(False, "already running")
    if campaign.status != Campaign.Status.SCHEDULED:
        return StartOutcome(False, f"not scheduled ({campaign.status})")
    if campaign.send_at is not None and campaign.send_at > now:
        jobs.enqueue_at(campaign.send_at, START_JOB, campaign_id)
        return StartOutcome(False, "scheduled for later")
    try:
        phones = approval.eligible_phones(campaign)
    except approval.ApprovalRefused as exc:
        return _refuse_start(campaign_id, str(exc), actor)
    verification = approval.recheck_approval(campaign_id, actor=actor, phones=phones)
    if not verification.ok:
        return _refuse_start(campaign_id, verification.reason, actor)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().select_related("template").get(pk=campaign_id)
        if campaign.status != Campaign.Status.SCHEDULED:
            return StartOutcome(False, f"not scheduled ({campaign.status})")
        created = _create_messages(campaign, sorted(set(phones)), now)
        total = CampaignMessage.objects.filter(campaign_id=campaign_id).count()
        slice_size = first_slice_size(campaign, total)
        if slice_size:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {TABLE} SET in_first_slice = TRUE WHERE id IN "  # noqa: S608
                    f"(SELECT id FROM {TABLE} WHERE campaign_id = %s ORDER BY id LIMIT %s)",
                    [campaign_id, slice_size],
                )
        CampaignDispatch.objects.update_or_create(
            campaign=campaign,
            defaults={
                "started_at": now,
                "recipients": total,
                "stage": CampaignDispatch.Stage.FIRST_SLICE if slice_size else CampaignDispatch.Stage.NONE,
                "stage_slice": slice_size,
            },
        )
        Campaign.objects.filter(pk=campaign_id).update(
            status=Campaign.Status.RUNNING, pause_reason="", updated_at=now
        )
        _audit(
            actions.CAMPAIGN_START,
            campaign_id,
            actor,
            recipients=total,
            approval_hash=verification.approved_hash,
            rules=eligibility.applied_rules(campaign, now),
        )
        kick(campaign_id)
    log.info("campaign #%s started: %s messages (%s new)", campaign_id, total, created)
    return StartOutcome(True, recipients=total)


def _refuse_start(campaign_id: int, reason: str, actor) -> StartOutcome:
    with transaction.atomic():
        if not pause_campaign(campaign_id, reason, actor=actor):
            # The recheck voided the approval (the campaign is a draft again): say why on it.
            Campaign.objects.filter(pk=campaign_id).update(pause_reason=reason)
        _audit(actions.CAMPAIGN_START_REFUSED, campaign_id, actor, reason=reason)
    return StartOutcome(False, reason)


def _create_messages(campaign: Campaign, phones: list[str], now: datetime, chunk: int = 2000) -> int:
    """The message rows of `phones`, in chunks (bulk INSERT, existing rows kept: idempotent)."""
    template = campaign.template
    param_types = {str(p.get("name")): str(p.get("type") or "") for p in (template.params or [])}
    validity = campaign.validity_seconds or MAX_VALIDITY_SECONDS
    valid_until = now + timedelta(seconds=validity)
    created = 0
    sources = analytics_rollups.SourceResolver(campaign)  # which list or segment brought each one
    purpose = eligibility.PURPOSE_BY_TAG[template.tag]  # the consent each message relies on

    for start in range(0, len(phones), chunk):
        part = phones[start : start + chunk]
        contacts = {c.phone: c for c in Contact.objects.filter(phone__in=part)}
        source_of = sources.sources_for(contact.pk for contact in contacts.values())
        consents = dict(
            ContactConsentState.objects.filter(
                contact_id__in=[c.pk for c in contacts.values()], purpose=purpose, granted=True
            ).values_list("contact_id", "event_id")
        )
        rows = []
        for phone in part:
            contact = contacts.get(phone)
            data = {}
            if contact is not None:
                data, _problems = mapping.render_values(campaign.mapping or {}, contact, param_types)
            source_id = source_of.get(contact.pk) if contact is not None else None
            sources.count(source_id)
            rows.append(
                CampaignMessage(
                    campaign_id=campaign.pk,
                    contact=contact,
                    consent_event_id=consents.get(contact.pk) if contact is not None else None,
                    phone=phone,
                    tracking_id=tracking_id(campaign.pk, phone),
                    template_data=data,
                    valid_until=valid_until,
                    audience_source_id=source_id,
                )
            )
        created += len(CampaignMessage.objects.bulk_create(rows, ignore_conflicts=True))
    sources.finish()
    return created


# --- kicking workers ------------------------------------------------------------------------------


def _alive_key(campaign_id: int) -> str:
    return f"campaigns:dispatch:alive:{campaign_id}"


def _heartbeat(campaign_id: int, seconds: float) -> None:
    with contextlib.suppress(redis.RedisError):
        ratelimit.client().set(_alive_key(campaign_id), "1", px=max(1000, int(seconds * 1000)))


def is_alive(campaign_id: int) -> bool:
    try:
        return bool(ratelimit.client().exists(_alive_key(campaign_id)))
    except redis.RedisError:
        return False


def kick(campaign_id: int, jobs_count: int | None = None) -> None:
    """Enqueue the campaign's dispatch jobs (after commit); each re-enqueues itself while work remains."""
    _heartbeat(campaign_id, settings.DISPATCH_JOB_SECONDS * 2 + 30)
    for _n in range(jobs_count or settings.DISPATCH_PARALLEL_JOBS):
        jobs.enqueue(JOB, campaign_id)


# --- delivery window --------------------------------------------------------------------------------


def next_opening(campaign: Campaign, now: datetime) -> datetime | None:
    """None while `now` is inside the campaign's delivery window (and, for marketing, Decree 91's
    hours); else when it next opens; `now + 8 days` marks a window that never opens."""
    marketing = int(campaign.template.tag) == rules.MARKETING_TAG
    presets = eligibility.marketing_rules()
    ctx = SimpleNamespace(campaign=campaign, marketing=marketing, presets=presets)
    try:
        from zoneinfo import ZoneInfo

        ctx.zone = ZoneInfo(campaign.time_zone or "Asia/Ho_Chi_Minh")
    except (KeyError, ValueError):
        ctx.zone = eligibility.VIETNAM
    horizon = now + timedelta(days=8)
    intervals = eligibility.delivery_intervals(ctx, now, horizon)
    if not intervals:
        return horizon
    opens, _closes = intervals[0]
    return None if opens <= now else opens


# --- provider plumbing ---------------------------------------------------------------------------------


class DispatchHttp(HttpClient):
    """The dispatcher's HTTP client: a send is never repeated inside the HTTP layer unless the
    failure proves nothing was processed (connect failures, 429, 503). Infobip would recognise a
    repeated messageId, but an ambiguous answer is ours to record (unconfirmed), not the provider's
    to deduplicate."""

    def request(self, method: str, url: str, *, safe_to_repeat: bool = True, **kwargs):
        if method.upper() == "POST" and "/message" in url:
            safe_to_repeat = False
        return super().request(method, url, safe_to_repeat=safe_to_repeat, **kwargs)


_process_state: dict = {}
_process_lock = threading.Lock()


def _per_process(name: str, factory):
    with _process_lock:
        pid = os.getpid()
        if _process_state.get("pid") != pid:
            _process_state.clear()
            _process_state["pid"] = pid
        if name not in _process_state:
            _process_state[name] = factory()
        return _process_state[name]


def dispatch_http() -> HttpClient:
    return _per_process("http", lambda: DispatchHttp(pool_maxsize=settings.DISPATCH_ZALO_CONCURRENCY + 2))


def _pool() -> ThreadPoolExecutor:
    return _per_process(
        "pool",
        lambda: ThreadPoolExecutor(
            max_workers=settings.DISPATCH_ZALO_CONCURRENCY, thread_name_prefix="zalo-send"
        ),
    )


def provider_limit(oa: OfficialAccount) -> ratelimit.Limit:
    """The provider's own request rate for this OA's Zalo app or Infobip account (shared by every
    campaign of every OA on it)."""
    creds = OACredentials.objects.filter(oa_id=oa.pk).first()
    if oa.provider == OfficialAccount.Provider.INFOBIP:
        account = hashlib.sha256(
            f"{creds.infobip_base_url if creds else ''}|{creds.infobip_api_key if creds else ''}".encode()
        ).hexdigest()[:16]
        key = f"infobip:{account}"
        rate = settings.DISPATCH_PROVIDER_RATES.get(key, settings.DISPATCH_INFOBIP_ACCOUNT_RATE)
    else:
        key = f"zalo:{creds.app_id if creds and creds.app_id else oa.zalo_oa_id}"
        rate = settings.DISPATCH_PROVIDER_RATES.get(key, settings.DISPATCH_ZALO_APP_RATE)
    return ratelimit.Limit(f"campaigns:rl:provider:{key}", rate=rate, period=1.0)


SPEED_UNIT_SECONDS = {"MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def campaign_limit(campaign: Campaign) -> ratelimit.Limit | None:
    if not campaign.sending_speed_limit_amount:
        return None
    period = SPEED_UNIT_SECONDS[campaign.sending_speed_limit_time_unit]
    rate = campaign.sending_speed_limit_amount
    return ratelimit.Limit(
        f"campaigns:rl:campaign:{campaign.pk}", rate=rate, period=period, burst=max(1, min(rate, 10))
    )


def _send(oa: OfficialAccount, messages: list[MessageRequest]) -> list[SendResult]:
    client = client_for(oa, http=dispatch_http())
    if oa.provider == OfficialAccount.Provider.INFOBIP:
        size = settings.DISPATCH_INFOBIP_BATCH_SIZE
        results: list[SendResult] = []
        for start in range(0, len(messages), size):
            results += client.send_batch(messages[start : start + size])
        return results
    # Zalo: one message per request, at most DISPATCH_ZALO_CONCURRENCY in flight, over one pooled
    # session. Each lane is a plain sequence through the OA's client (token refresh once, key
    # retirement, kill switch read before it).
    lanes = min(settings.DISPATCH_ZALO_CONCURRENCY, len(messages))
    parts = [messages[i::lanes] for i in range(lanes)]

    def lane(part):
        try:
            return client.send_batch(part)
        finally:
            connection.close()

    by_id = {}
    for part_results in _pool().map(lane, parts):
        for result in part_results:
            by_id[result.tracking_id] = result
    return [by_id[m.tracking_id] for m in messages]


# --- one batch ---------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    kind: str  # "sent" | "idle" | "wait" | "stop" | "done"
    wait_until: datetime | None = None
    reason: str = ""
    counts: dict | None = None


def _set_wait(campaign_id: int, reason: str, until: datetime) -> BatchOutcome:
    CampaignDispatch.objects.filter(campaign_id=campaign_id).update(wait_reason=reason, wait_until=until)
    return BatchOutcome("wait", until, reason)


def _clear_wait(campaign_id: int) -> None:
    CampaignDispatch.objects.filter(campaign_id=campaign_id).exclude(wait_reason="").update(
        wait_reason="", wait_until=None
    )


def expire_overdue(campaign_id: int, now: datetime) -> int:
    """Queued rows whose validity has passed are never sent: expired."""
    ids = list(
        CampaignMessage.objects.filter(campaign_id=campaign_id, state=S.QUEUED, valid_until__lt=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:10000]
    )
    return len(transition(ids, S.QUEUED, S.EXPIRED, now=now, values={"error_code": VALIDITY_PASSED}))


def run_batch(
    campaign_id: int,
    *,
    worker: str = "",
    now: datetime | None = None,
    send_gate: threading.Lock | None = None,
) -> BatchOutcome:
    """Claim, limit, reserve, send and record one batch of the campaign. `send_gate`: held from the
    move to `sending` until the answers are in (a job's lanes share one: one batch in flight per
    job)."""
    now = now or timezone.now()
    worker = worker or worker_name()
    campaign = Campaign.objects.select_related("oa", "template").get(pk=campaign_id)
    if campaign.status != Campaign.Status.RUNNING:
        return BatchOutcome("stop", reason=campaign.status)
    dispatch = CampaignDispatch.objects.get(campaign_id=campaign_id)
    if dispatch.wait_until and dispatch.wait_until > now:
        return BatchOutcome("wait", dispatch.wait_until, dispatch.wait_reason)
    expire_overdue(campaign_id, now)
    if dispatch.stage in (CampaignDispatch.Stage.WAITING, CampaignDispatch.Stage.FAILED):
        return BatchOutcome("stop", reason="stage_gate")
    opening = next_opening(campaign, now)
    if opening is not None:
        if opening >= now + timedelta(days=8):
            pause_campaign(campaign_id, _("The delivery window never opens."), actor=ACTOR)
            return BatchOutcome("stop", reason="window")
        return _set_wait(campaign_id, "window", opening)
    if dispatch.wait_reason:
        _clear_wait(campaign_id)

    speed = campaign_limit(campaign)
    size = settings.DISPATCH_BATCH_SIZE
    if speed is not None:
        size = min(size, speed.burst_size)
    first_slice = dispatch.stage == CampaignDispatch.Stage.FIRST_SLICE
    claimed = _claim(campaign_id, size, worker, now, first_slice)
    if not claimed:
        return _nothing_claimed(campaign, dispatch, now)
    ids = [row["id"] for row in claimed]

    # Shared rate limits: the campaign's sendingSpeedLimit, then the provider's own rate.
    try:
        for limit in [speed, provider_limit(campaign.oa)]:
            if limit is None:
                continue
            decision = ratelimit.acquire(limit, len(ids), max_wait=MAX_SLEEP)
            if not decision.allowed:
                transition(ids, S.CLAIMED, S.QUEUED, values={"claimed_by": "", "lease_until": None})
                reason = "speed_limit" if limit is speed else "provider_rate"
                return _set_wait(campaign_id, reason, timezone.now() + timedelta(seconds=decision.wait))
            if decision.wait:
                time.sleep(decision.wait)
    except redis.RedisError:
        transition(ids, S.CLAIMED, S.QUEUED, values={"claimed_by": "", "lease_until": None})
        return BatchOutcome("idle", reason="redis")

    # Quota for the batch (one reservation; set-based recipient caps).
    tag = int(campaign.template.tag)
    marketing = tag == rules.MARKETING_TAG
    phones = [row["phone"] for row in claimed]
    reservation = reservations.reserve(campaign.oa_id, len(ids), tag, phones if marketing else None)
    if reservation.tracks_recipient_caps:
        granted_phones = set(reservation.recipients)
        granted = [row for row in claimed if row["phone"] in granted_phones]
    else:
        granted = claimed[: reservation.granted]
    granted_ids = {row["id"] for row in granted}
    refused = [row["id"] for row in claimed if row["id"] not in granted_ids]
    wait = None
    if refused:
        limited_by = reservation.limited_by
        if limited_by == "recipient_cap":
            transition(refused, S.CLAIMED, S.FAILED, values={"error_code": RECIPIENT_CAP})
        else:
            transition(refused, S.CLAIMED, S.QUEUED, values={"claimed_by": "", "lease_until": None})
        if limited_by in ("daily_limit", "daily_marketing_share"):
            wait = _set_wait(
                campaign_id, "quota", vietnam_midnight(today_in_vietnam(now) + timedelta(days=1))
            )
        elif limited_by in ("monthly_marketing_quota", "tag_not_allowed_at_level"):
            reason = (
                _("The monthly marketing quota is used up.")
                if limited_by == "monthly_marketing_quota"
                else _("The OA's level does not allow this template's tag.")
            )
            pause_campaign(campaign_id, reason, actor=ACTOR)
            wait = BatchOutcome("stop", reason=limited_by)
    granted, refused_now = _drop_refused_now(campaign, granted)
    if not granted:
        _release(reservation, refused_now)
        return wait or BatchOutcome("idle")

    # The job's send gate is taken before the move to `sending`, so rows are `sending` only while
    # their requests are (about to be) in flight: a worker killed while a lane waits at the gate
    # leaves that lane's rows claimed (queued again after the lease), not unconfirmed.
    gate = _HeldGate(send_gate)
    try:
        # The point of no return: only rows this UPDATE moves are sent, and only while the campaign runs.
        sending_ids = set(
            transition(
                [row["id"] for row in granted],
                S.CLAIMED,
                S.SENDING,
                values={"lease_until": timezone.now() + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)},
                attempts_delta=1,
                require_running=True,
            )
        )
        not_sent = [row for row in granted if row["id"] not in sending_ids]
        if not_sent:
            transition(
                [r["id"] for r in not_sent],
                S.CLAIMED,
                S.QUEUED,
                values={"claimed_by": "", "lease_until": None},
            )
        to_send = [row for row in granted if row["id"] in sending_ids]
        unused = [row["phone"] for row in not_sent] + refused_now
        if to_send:
            counts, unused_sent = _send_and_record(campaign, to_send, reservation, gate)
            unused += unused_sent
        else:
            counts = {}
    finally:
        gate.release()
    _release(reservation, unused)
    return wait or BatchOutcome("sent", counts=counts)


def _drop_refused_now(campaign: Campaign, rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Ask the audience ledgers once more, just before the batch leaves: a withdrawal, an opt-out,
    a suppression or an erasure committed since the start fails the recipient's message (with the
    reason on its timeline) instead of sending it. Returns the rows still to send and the phones
    whose quota is unused."""
    purpose = eligibility.PURPOSE_BY_TAG[campaign.template.tag]
    refusals = refusals_now([row["phone"] for row in rows], purpose, campaign.oa)
    if not refusals:
        return rows, []
    stopped: dict = {}
    for row in rows:
        if row["phone"] in refusals:
            stopped.setdefault(refusals[row["phone"]], []).append(row)
    for decision, group in stopped.items():
        transition(
            [row["id"] for row in group],
            S.CLAIMED,
            S.FAILED,
            values={"error_code": REFUSED_AT_SEND, "lease_until": None},
            detail=f"{decision.reason_code}: {decision.reason_text}",
        )
    return [row for row in rows if row["phone"] not in refusals], [
        row["phone"] for g in stopped.values() for row in g
    ]


def _claim(campaign_id: int, size: int, worker: str, now: datetime, first_slice: bool) -> list[dict]:
    with transaction.atomic():
        queued = CampaignMessage.objects.filter(campaign_id=campaign_id, state=S.QUEUED).filter(
            Q(not_before__isnull=True) | Q(not_before__lte=now)
        )
        if first_slice:
            queued = queued.filter(in_first_slice=True)
        ids = list(
            queued.order_by("pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:size]
        )
        moved = transition(
            ids,
            S.QUEUED,
            S.CLAIMED,
            now=now,
            values={
                "claimed_by": worker[:120],
                "lease_until": now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS),
            },
        )
    return list(
        CampaignMessage.objects.filter(pk__in=moved)
        .order_by("pk")
        .values("id", "phone", "tracking_id", "template_data", "attempts")
    )


def _nothing_claimed(campaign: Campaign, dispatch: CampaignDispatch, now: datetime) -> BatchOutcome:
    open_rows = CampaignMessage.objects.filter(campaign_id=campaign.pk, state__in=OPEN)
    first_slice = dispatch.stage == CampaignDispatch.Stage.FIRST_SLICE
    if first_slice and not open_rows.filter(in_first_slice=True).exists():
        return _close_first_slice(campaign, now)
    later = open_rows.filter(state=S.QUEUED, not_before__gt=now).order_by("not_before").first()
    if later is not None:
        return BatchOutcome("wait", later.not_before, "retry_backoff")
    if open_rows.exists():
        return BatchOutcome("idle", reason="held_by_others")
    maybe_complete(campaign.pk)
    return BatchOutcome("done")


def _release(reservation, unused_phones: list[str]) -> None:
    if reservation.pk is None or not unused_phones:
        return
    if reservation.tracks_recipient_caps:
        reservations.release(reservation, unused_phones)
    else:
        reservations.release(reservation, len(unused_phones))


def _backoff(attempt: int) -> float:
    ceiling = min(300.0, 2.0 * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not security)


class _HeldGate:
    """A job's send gate (or none), held from the move to `sending` until the answers are in."""

    def __init__(self, lock: threading.Lock | None):
        self.lock = lock
        self.held = lock is not None and lock.acquire()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.lock.release()


def _send_and_record(
    campaign: Campaign, rows: list[dict], reservation, gate: _HeldGate
) -> tuple[dict, list[str]]:
    """Send the rows (state sending) and record every outcome; returns the counts and the phones
    whose quota was not used (failed or back in the queue)."""
    template_id = str(campaign.template.template_id)
    options, failover_for = None, {}
    if campaign.oa.provider == OfficialAccount.Provider.INFOBIP:
        # Infobip applies the campaign's options itself and fails over by itself (Zalo-direct OAs:
        # the dispatcher enforces them and campaigns.failover sends the SMS).
        options = mapping.infobip_message_options(campaign, timezone.now())
        if campaign.sms_failover_enabled and not campaign.sms_failover_ceiling_reached:
            contacts = Contact.objects.filter(phone__in=[row["phone"] for row in rows])
            failover_for = {
                contact.phone: mapping.infobip_sms_failover(campaign, contact, settings.SMS_FAILOVER_SENDER)
                for contact in contacts
            }
    requests_ = [
        MessageRequest(
            tracking_id=row["tracking_id"],
            template_id=template_id,
            template_data=row["template_data"] or {},
            phone=row["phone"],
            encrypted=campaign.encrypted,
            callback_data=campaign.callback_data,
            options=options,
            sms_failover=failover_for.get(row["phone"]),
        )
        for row in rows
    ]
    by_tracking = {row["tracking_id"]: row for row in rows}
    try:
        results = _send(campaign.oa, requests_)
    except Exception as exc:  # a bug or an unreadable setup: whether anything left is unknown
        log.exception("dispatch of campaign #%s failed mid-batch", campaign.pk)
        transition(
            [row["id"] for row in rows],
            S.SENDING,
            S.UNCONFIRMED,
            values={"error_code": errors.AMBIGUOUS_SEND.code, "provider_error_message": str(exc)[:500]},
        )
        pause_campaign(campaign.pk, _("The dispatcher failed: %(error)s") % {"error": exc}, actor=ACTOR)
        return {"unconfirmed": len(rows)}, []
    finally:
        gate.release()  # the answers are in: another lane's batch may leave while this one is recorded
    now = timezone.now()
    accepted, failed, retry, unconfirmed = {}, {}, {}, {}
    unused: list[str] = []
    errors_in_a_row, saw_accepted = 0, False
    oa_trouble: SendResult | None = None
    template_trouble: SendResult | None = None
    max_attempts = settings.DISPATCH_MAX_ATTEMPTS
    for result in results:
        row = by_tracking[result.tracking_id]
        codes = {
            "error_code": result.error.code if result.error else "",
            "provider_error_code": result.provider_code,
            "provider_error_message": result.provider_message,
        }
        if result.status == ACCEPTED:
            accepted[row["id"]] = {"provider_message_id": result.provider_message_id}
            saw_accepted, errors_in_a_row = True, 0
            continue
        if result.attempted:
            errors_in_a_row += 1
        if result.error is not None and result.error.halts_batch and oa_trouble is None and result.attempted:
            oa_trouble = result
        if result.error is not None and result.error.scope == errors.TEMPLATE and result.error.permanent:
            template_trouble = template_trouble or result
        if result.status == REJECTED:
            failed[row["id"]] = codes
            unused.append(row["phone"])
        elif not result.attempted:
            retry[row["id"]] = {**codes, "not_before": now}
            unused.append(row["phone"])
        elif result.error is errors.AMBIGUOUS_SEND:
            unconfirmed[row["id"]] = codes
        elif row["attempts"] + 1 >= max_attempts:
            failed[row["id"]] = codes
            unused.append(row["phone"])
        else:
            delay = result.retry_after or _backoff(row["attempts"] + 1)
            retry[row["id"]] = {**codes, "not_before": now + timedelta(seconds=delay)}
            unused.append(row["phone"])
    with transaction.atomic():
        moved = transition(
            [], (S.SENDING, S.UNCONFIRMED), S.ACCEPTED, now=now, per_row=accepted,
            values={"lease_until": None},
        )  # fmt: skip
        transition(
            [], (S.SENDING, S.UNCONFIRMED), S.FAILED, now=now, per_row=failed, values={"lease_until": None}
        )
        # Not processed by the provider: back in the queue, the attempt not counted when none was made.
        not_attempted = {i: v for i, v in retry.items() if v["not_before"] == now}
        attempted_retry = {i: v for i, v in retry.items() if v["not_before"] != now}
        transition([], S.SENDING, S.QUEUED, now=now, per_row=not_attempted, attempts_delta=-1,
                   values={"lease_until": None, "claimed_by": ""})  # fmt: skip
        transition([], S.SENDING, S.QUEUED, now=now, per_row=attempted_retry,
                   values={"lease_until": None, "claimed_by": ""})  # fmt: skip
        transition([], S.SENDING, S.UNCONFIRMED, now=now, per_row=unconfirmed, values={"lease_until": None})
        if moved:
            record_sent(
                campaign.oa_id, now, len(moved), campaign.pk, campaign.template_id, int(campaign.template.tag)
            )
            phones = [row["phone"] for row in rows if row["id"] in set(moved)]
            record_contact_sent(phones, now)
        _count_errors(campaign, saw_accepted, errors_in_a_row, results)
        if oa_trouble is not None:
            _react_to_oa_trouble(campaign, oa_trouble, now)
        if template_trouble is not None:
            _react_to_template_trouble(campaign, template_trouble)
    counts = {
        "accepted": len(moved),
        "failed": len(failed),
        "retry": len(retry),
        "unconfirmed": len(unconfirmed),
    }
    return counts, unused


def _count_errors(campaign: Campaign, saw_accepted: bool, trailing: int, results) -> None:
    from django.db.models import F

    dispatch = CampaignDispatch.objects.filter(campaign_id=campaign.pk)
    if saw_accepted:
        dispatch.update(consecutive_errors=trailing)
    elif trailing:
        dispatch.update(consecutive_errors=F("consecutive_errors") + trailing)
    count = dispatch.values_list("consecutive_errors", flat=True).first() or 0
    if count >= settings.DISPATCH_PAUSE_AFTER_ERRORS:
        last = next((r for r in reversed(results) if r.error is not None), None)
        pause_campaign(
            campaign.pk,
            _("%(count)s provider errors in a row (last: %(code)s %(text)s).")
            % {
                "count": count,
                "code": last.error.code if last else "",
                "text": last.error.text() if last else "",
            },
            actor=ACTOR,
        )


def _react_to_template_trouble(campaign: Campaign, result: SendResult) -> None:
    """The provider refused the template itself (disabled for low quality, not approved, not
    permitted...): every campaign of the template pauses with that reason, and a template sync reads
    its status from the provider."""
    error = result.error
    reason = f"{error.text()} ({error.code}{' ' + result.provider_code if result.provider_code else ''})"
    announce_unsendable(campaign.template, reason, actor=ACTOR)
    jobs.enqueue(SYNC_JOB, campaign.oa_id)


def _react_to_oa_trouble(campaign: Campaign, result: SendResult, now: datetime) -> None:
    """An answer about the whole OA: pause (permanent), wait (quota, night, rate) or back off."""
    error = result.error
    text = f"{error.text()} ({error.code}{' ' + result.provider_code if result.provider_code else ''})"
    if error.permanent:
        pause_campaign(campaign.pk, text, actor=ACTOR)
        return
    if error.code == "OA_MONTHLY_PROMOTION_LIMIT_REACHED":
        pause_campaign(campaign.pk, text, actor=ACTOR)
        return
    if error.code in ("OA_DAILY_LIMIT_REACHED", "TEMPLATE_DAILY_LIMIT_REACHED"):
        _set_wait(campaign.pk, "quota", vietnam_midnight(today_in_vietnam(now) + timedelta(days=1)))
        return
    if error.code == "NIGHT_TIME":
        _set_wait(campaign.pk, "window", now + timedelta(minutes=30))
        return
    seconds = result.retry_after or PROVIDER_BACKOFF_SECONDS
    if error.code == "RATE_LIMITED":
        with contextlib.suppress(redis.RedisError):
            ratelimit.penalise(provider_limit(campaign.oa).key, seconds)
    _set_wait(campaign.pk, "provider_backoff", now + timedelta(seconds=seconds))


# --- staged release ----------------------------------------------------------------------------------


def _close_first_slice(campaign: Campaign, now: datetime) -> BatchOutcome:
    moved = CampaignDispatch.objects.filter(
        campaign_id=campaign.pk, stage=CampaignDispatch.Stage.FIRST_SLICE
    ).update(stage=CampaignDispatch.Stage.WAITING, stage_slice_sent_at=now, wait_reason="stage_gate")
    until = now + timedelta(minutes=campaign.stage_wait_minutes or 0)
    CampaignDispatch.objects.filter(campaign_id=campaign.pk).update(wait_until=until)
    if moved:
        jobs.enqueue_at(until, GATE_JOB, campaign.pk)
    return BatchOutcome("stop", until, "stage_gate")


def evaluate_stage_gate(campaign_id: int, *, now: datetime | None = None) -> str:
    """After the first slice and the wait: continue when its bad-report rate is within the
    threshold and the OA's guardrail has not tripped, else pause with the figures. Returns the
    decision ("released", "failed", "not_yet", "nothing")."""
    now = now or timezone.now()
    with transaction.atomic():
        dispatch = (
            CampaignDispatch.objects.select_for_update()
            .select_related("campaign")
            .filter(campaign_id=campaign_id)
            .first()
        )
        if dispatch is None or dispatch.stage != CampaignDispatch.Stage.WAITING:
            return "nothing"
        campaign = dispatch.campaign
        due = dispatch.stage_slice_sent_at + timedelta(minutes=campaign.stage_wait_minutes or 0)
        if now < due:
            jobs.enqueue_at(due, GATE_JOB, campaign_id)
            return "not_yet"
        sent = CampaignMessage.objects.filter(
            campaign_id=campaign_id, in_first_slice=True, state__in=(S.ACCEPTED, S.DELIVERED)
        ).count()
        bad = CampaignDailyStats.objects.filter(campaign_id=campaign_id).aggregate(
            n=Sum("bad_reports", default=0)
        )["n"]
        rate = (100.0 * bad / sent) if sent else 0.0
        threshold = campaign.stage_bad_report_threshold
        guardrail = QualityAlert.objects.filter(
            oa_id=campaign.oa_id, day=today_in_vietnam(now), kind=QualityAlert.Kind.GUARDRAIL
        ).exists()
        ok = (threshold is None or rate <= float(threshold)) and not guardrail
        figures = {"sent": sent, "bad": bad, "rate": f"{rate:.2f} %", "threshold": f"{threshold or '-'} %"}
        dispatch.stage = CampaignDispatch.Stage.RELEASED if ok else CampaignDispatch.Stage.FAILED
        dispatch.stage_decision = {**figures, "guardrail": guardrail, "decided_at": now.isoformat()}
        dispatch.wait_reason, dispatch.wait_until = "", None
        dispatch.save(update_fields=["stage", "stage_decision", "wait_reason", "wait_until", "updated_at"])
        decision = "released" if ok else "failed"
        _audit(actions.CAMPAIGN_STAGE_RELEASE, campaign_id, ACTOR, decision=decision, **figures)
        if ok:
            kick(campaign_id)
        else:
            reason = _(
                "Staged release failed: %(bad)s bad report(s) on the first %(sent)s message(s) "
                "(%(rate)s, threshold %(threshold)s)%(guardrail)s."
            ) % {**figures, "guardrail": _("; the quality guardrail tripped") if guardrail else ""}
            pause_campaign(campaign_id, reason, actor=ACTOR)
    return decision


# --- finishing, recovery ------------------------------------------------------------------------------


def message_counts(campaign_id: int) -> dict[str, int]:
    rows = (
        CampaignMessage.objects.filter(campaign_id=campaign_id)
        .values("state")
        .order_by()
        .annotate(n=Count("pk"))
    )
    counts = {state: 0 for state in S.values}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def maybe_complete(campaign_id: int, *, actor=ACTOR) -> bool:
    """Running -> completed once no message is queued, claimed or sending (audited once)."""
    with transaction.atomic():
        if CampaignMessage.objects.filter(campaign_id=campaign_id, state__in=OPEN).exists():
            return False
        dispatch = CampaignDispatch.objects.filter(campaign_id=campaign_id).first()
        if dispatch is None or dispatch.stage == CampaignDispatch.Stage.WAITING:
            return False
        now = timezone.now()
        done = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.RUNNING).update(
            status=Campaign.Status.COMPLETED, updated_at=now
        )
        if not done:
            return False
        CampaignDispatch.objects.filter(campaign_id=campaign_id).update(
            finished_at=now, wait_reason="", wait_until=None
        )
        counts = message_counts(campaign_id)
        _audit(
            actions.CAMPAIGN_COMPLETE,
            campaign_id,
            actor,
            accepted=counts[S.ACCEPTED] + counts[S.DELIVERED],
            failed=counts[S.FAILED] + counts[S.FAILED_OVER],
            expired=counts[S.EXPIRED],
            unconfirmed=counts[S.UNCONFIRMED],
        )
        hooks.emit(
            hooks.CAMPAIGN_FINISHED,
            campaign_id=campaign_id,
            status=Campaign.Status.COMPLETED.value,
            counts=counts,
        )
    return True


def recover_expired_leases(now: datetime | None = None) -> dict[str, int]:
    """A claimed row past its lease was never sent: queued again. A sending row past its lease may
    have reached the provider: unconfirmed, never re-sent."""
    now = now or timezone.now()
    held = CampaignMessage.objects.filter(state__in=HELD, lease_until__lt=now)
    claimed = list(held.filter(state=S.CLAIMED).values_list("pk", flat=True)[:20000])
    sending = list(held.filter(state=S.SENDING).values_list("pk", flat=True)[:20000])
    requeued = transition(
        claimed, S.CLAIMED, S.QUEUED, now=now, values={"claimed_by": "", "lease_until": None},
        detail="lease expired before sending", actor="system:dispatch_recovery",
    )  # fmt: skip
    unconfirmed = transition(
        sending, S.SENDING, S.UNCONFIRMED, now=now,
        values={"lease_until": None, "error_code": errors.AMBIGUOUS_SEND.code},
        detail="lease expired while sending", actor="system:dispatch_recovery",
    )  # fmt: skip
    return {"requeued": len(requeued), "unconfirmed": len(unconfirmed)}


START_GUARD_SECONDS = 600


def _claim_start(campaign_id: int) -> bool:
    """True for the first caller in START_GUARD_SECONDS (Redis SET NX); True without Redis."""
    try:
        return bool(
            ratelimit.client().set(
                f"campaigns:dispatch:start:{campaign_id}", "1", nx=True, ex=START_GUARD_SECONDS
            )
        )
    except redis.RedisError:
        return True


def recover_and_kick(now: datetime | None = None) -> dict[str, int]:
    """The periodic backstop: recover expired leases, start due scheduled campaigns, finish the done
    ones, re-kick running campaigns with due work and no live worker chain."""
    now = now or timezone.now()
    figures = recover_expired_leases(now)
    started = 0
    due = Campaign.objects.filter(
        status=Campaign.Status.SCHEDULED, approvals__isnull=False, approvals__voided_at__isnull=True
    ).filter(Q(send_at__isnull=True) | Q(send_at__lte=now))
    for campaign_id in due.values_list("pk", flat=True).distinct():
        # One start job per campaign per START_GUARD_SECONDS, not one a minute: a start that takes
        # long (a large audience) or fails is not piled up. A refused start pauses the campaign
        # (or voids its approval), so it is no longer due and is refused, and audited, once.
        if _claim_start(campaign_id):
            jobs.enqueue(START_JOB, campaign_id)
            started += 1
    kicked = completed = 0
    for dispatch in CampaignDispatch.objects.filter(campaign__status=Campaign.Status.RUNNING):
        if dispatch.stage == CampaignDispatch.Stage.WAITING:
            if dispatch.wait_until is None or dispatch.wait_until <= now:
                jobs.enqueue(GATE_JOB, dispatch.campaign_id)
            continue
        if maybe_complete(dispatch.campaign_id):
            completed += 1
            continue
        if dispatch.wait_until and dispatch.wait_until > now:
            continue
        if not is_alive(dispatch.campaign_id):
            kick(dispatch.campaign_id)
            kicked += 1
    return {**figures, "started": started, "kicked": kicked, "completed": completed}


# --- the job loop ----------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def dispatch_batches(campaign_id: int, *, seconds: float | None = None) -> BatchOutcome:
    """Batches for up to `seconds` (DISPATCH_JOB_SECONDS), then the job hands over to a fresh one
    (re-enqueued) while work remains; a long wait reschedules it at the wait's end. The job works in
    DISPATCH_JOB_LANES lanes (one on SQLite, which has one writer) that share one send gate: while
    one lane's batch is in flight, another claims or records, so the requests never wait for the
    database, and the job still sends one batch at a time."""
    deadline = time.monotonic() + (settings.DISPATCH_JOB_SECONDS if seconds is None else seconds)
    worker = f"{worker_name()}:{uuid.uuid4().hex[:6]}"
    lanes = 1 if connection.vendor == "sqlite" else settings.DISPATCH_JOB_LANES
    if lanes == 1:
        outcome = _lane(campaign_id, f"{worker}:0", deadline, None, threading.Event())
    else:
        gate, ended = threading.Lock(), threading.Event()

        def lane(number: int) -> BatchOutcome:
            try:
                return _lane(campaign_id, f"{worker}:{number}", deadline, gate, ended)
            finally:
                connection.close()  # each lane thread has its own connection

        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="dispatch-lane") as pool:
            outcomes = list(pool.map(lane, range(lanes)))
        outcome = min(outcomes, key=lambda o: LANE_PRECEDENCE[o.kind])
    if outcome.kind in ("stop", "done"):
        return outcome
    if outcome.kind == "wait" and outcome.wait_until is not None:
        delay = (outcome.wait_until - timezone.now()).total_seconds()
        _heartbeat(campaign_id, max(delay, 0) + 60)
        jobs.enqueue_at(outcome.wait_until, JOB, campaign_id)
        return outcome
    jobs.enqueue(JOB, campaign_id)
    return outcome


# Which lane's outcome the job acts on when its lanes end differently: a stop, then the campaign's
# end, then a long wait (rescheduled at its end); otherwise the job's time is up (handed over).
LANE_PRECEDENCE = {"stop": 0, "done": 1, "wait": 2, "sent": 3, "idle": 3}


def _lane(campaign_id: int, worker: str, deadline: float, gate, ended: threading.Event) -> BatchOutcome:
    """One lane of a dispatch job: batches until the campaign stops or is done, a wait too long to
    sleep through, the job's time is up, or another lane ended for one of these."""
    outcome = BatchOutcome("idle")
    while not ended.is_set():
        _heartbeat(campaign_id, settings.DISPATCH_JOB_SECONDS * 2 + 30)
        outcome = run_batch(campaign_id, worker=worker, send_gate=gate)
        if outcome.kind in ("stop", "done"):
            break
        if outcome.kind == "wait":
            delay = (outcome.wait_until - timezone.now()).total_seconds()
            if delay <= MAX_SLEEP and time.monotonic() + delay < deadline:
                time.sleep(max(0.0, delay))
                continue
            break
        if outcome.kind == "idle":
            time.sleep(0.5)
        if time.monotonic() >= deadline:
            break
    ended.set()
    return outcome


# --- control (people and automatic) ------------------------------------------------------------------


@transaction.atomic
def resume_campaign(campaign_id: int, *, actor) -> Campaign:
    """Paused -> running (or scheduled when it never started); continues where it stopped: only
    queued rows are sent, nothing already sent or unconfirmed is sent again."""
    campaign = Campaign.objects.select_for_update().select_related("oa", "template").get(pk=campaign_id)
    if campaign.status != Campaign.Status.PAUSED:
        raise DispatchRefused(_("Only a paused campaign can be resumed."))
    if campaign.oa.sending_stopped:
        raise DispatchRefused(_("Sending is stopped for this OA (kill switch): resume the OA first."))
    dispatch = CampaignDispatch.objects.filter(campaign_id=campaign_id).first()
    status = Campaign.Status.RUNNING if dispatch else Campaign.Status.SCHEDULED
    Campaign.objects.filter(pk=campaign_id).update(status=status, pause_reason="", updated_at=timezone.now())
    if dispatch:
        stage = dispatch.stage
        if stage == CampaignDispatch.Stage.FAILED:
            stage = CampaignDispatch.Stage.RELEASED  # a person looked at the figures and decided
        CampaignDispatch.objects.filter(pk=dispatch.pk).update(
            consecutive_errors=0, wait_reason="", wait_until=None, stage=stage
        )
    _audit(actions.CAMPAIGN_RESUME, campaign_id, actor)
    if dispatch:
        kick(campaign_id)
    else:
        jobs.enqueue(START_JOB, campaign_id)
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def cancel_campaign(campaign_id: int, *, actor) -> int:
    """Scheduled, running or paused -> cancelled; the messages not yet sent (queued, claimed) fail
    as cancelled. What is in flight finishes and is recorded. Returns how many will not be sent."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED):
        raise DispatchRefused(_("Only a scheduled, running or paused campaign can be cancelled."))
    Campaign.objects.filter(pk=campaign_id).update(
        status=Campaign.Status.CANCELLED, updated_at=timezone.now()
    )
    unsent = 0
    for state in (S.QUEUED, S.CLAIMED):
        ids = list(
            CampaignMessage.objects.filter(campaign_id=campaign_id, state=state).values_list("pk", flat=True)
        )
        unsent += len(
            transition(ids, state, S.FAILED, values={"error_code": CANCELLED}, actor=actor_name(actor))
        )
    _audit(actions.CAMPAIGN_CANCEL, campaign_id, actor, unsent=unsent)
    return unsent
