"""The dispatcher's paths not covered by test_dispatch.py, against the real sandbox, Redis and
PostgreSQL: Infobip batches, the staged-release gate, cancel, the shared speed limiter across two
processes, window and validity edges, the consecutive-error pause, resume without re-send, the
start guard of the periodic recovery and the set-based per-recipient caps of a batch."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from audiences.models import Contact, ContactList, ContactListMember, ContactSource
from campaigns import approval, dispatch, mapping
from campaigns.models import Campaign, CampaignApproval, CampaignDispatch, CampaignMessage
from compliance.models import AuditEvent
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import CampaignDailyStats
from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_INFOBIP_KEY, DEMO_TOKENS
from tests.providers.conftest import make_oa

S = CampaignMessage.State
ZALO_PARAMS = [
    {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30},
    {"name": "order_code", "type": "STRING", "require": True, "maxLength": 30},
    {"name": "amount", "type": "NUMBER", "require": True, "maxLength": 12},
]
INFOBIP_PARAMS = [
    {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30},
    {"name": "amount", "type": "NUMBER", "require": True, "maxLength": 12},
]
MAPPING = {
    "customer_name": {"source": "field", "key": "name"},
    "order_code": {"source": "attribute", "key": "order"},
    "amount": {"source": "attribute", "key": "total"},
}
UNLIMITED = {"levels": [10**9], "starting_level": 10**9, "penalty_zone": 10**9, "marketing_min_level": None}


def phones(n, start=0, prefix="8491"):
    return [f"{prefix}{3000000 + start + i:07d}" for i in range(n)]


def build_campaign(n, *, quality_admin, provider="zalo", sb=None, numbers=None, **options) -> Campaign:
    """An approved, scheduled campaign of `n` contacts on the sandbox's demo-oa-1 (Zalo direct) or
    demo-oa-2 (through Infobip)."""
    if provider == "infobip":
        oa = make_oa(
            "demo-oa-2",
            provider=OfficialAccount.Provider.INFOBIP,
            infobip_base_url=sb.infobip_base,
            infobip_api_key=DEMO_INFOBIP_KEY,
            infobip_sender="demo-oa-2",
        )
        template_id, params = "200002", INFOBIP_PARAMS
    else:
        oa = make_oa(
            "demo-oa-1", app_id=DEMO_APP_ID, app_secret=DEMO_APP_SECRET,
            access_token=DEMO_TOKENS["demo-oa-1"], refresh_token="demo-oa-1-refresh-token",
        )  # fmt: skip
        template_id, params = "100001", ZALO_PARAMS
    template = MessageTemplate.objects.create(
        oa=oa, template_id=template_id, name="Statement", tag=MessageTemplate.Tag.TRANSACTION,
        params=params, status=MessageTemplate.Status.ENABLED,
    )  # fmt: skip
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="t", created_by="system:test")
    members = ContactList.objects.create(name="Customers", created_by="system:test")
    numbers = numbers or phones(n, prefix="8498" if provider == "infobip" else "8491")
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                phone=p, name=f"Khách {i}", attributes={"order": f"DH{i}", "total": 1000 + i}, source=source
            )
            for i, p in enumerate(numbers)
        ]
    )
    ContactListMember.objects.bulk_create(
        [ContactListMember(contact_list=members, contact=c, added_by="system:test") for c in contacts]
    )
    chosen = {k: v for k, v in MAPPING.items() if k in {p["name"] for p in params}}
    campaign = Campaign.objects.create(
        oa=oa, template=template, name="Statements", status=Campaign.Status.SCHEDULED, mapping=chosen,
        template_version=mapping.template_version(template), **options,
    )  # fmt: skip
    campaign.audience_lists.add(members)
    campaign.refresh_from_db()  # options as stored (decimals), as the dispatcher will read them
    eligible = approval.eligible_phones(campaign)
    CampaignApproval.objects.create(
        campaign=campaign, approver=quality_admin, approver_name="quality", approved_at=timezone.now(),
        approval_hash=approval.approval_hash(campaign, eligible), recipients=len(eligible),
    )  # fmt: skip
    return campaign


@pytest.fixture(autouse=True)
def everyone_reachable(sb):
    """Exact counts: no simulated recipient of the sandbox is off Zalo or opted out, and none
    reports a message as bad (bad reports disable the template at the sandbox: -146)."""
    sb.configure(rates={"not_on_zalo": 0, "opted_out": 0, "bad_report": 0})
    return sb


def states(campaign) -> dict:
    return {s: n for s, n in dispatch.message_counts(campaign.pk).items() if n}


def drain(campaign, rounds=100):
    outcome = None
    for _ in range(rounds):
        outcome = dispatch.run_batch(campaign.pk)
        if outcome.kind in ("done", "stop", "wait"):
            return outcome
    return outcome


def ours(sb, campaign) -> list[dict]:
    prefix = f"c{campaign.pk}-"
    return [r for r in sb.ledger(limit=100000) if (r.get("tracking_id") or "").startswith(prefix)]


def tracking_ids(campaign, **filters) -> set[str]:
    rows = CampaignMessage.objects.filter(campaign=campaign, **filters)
    return set(rows.values_list("tracking_id", flat=True))


# --- Infobip -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_infobip_sends_100_messages_per_request_and_each_tracking_id_once(quality_admin, sb, settings):
    settings.DISPATCH_BATCH_SIZE = 250
    sb.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    campaign = build_campaign(250, quality_admin=quality_admin, provider="infobip", sb=sb)
    assert dispatch.start_campaign(campaign.pk).started
    assert dispatch.run_batch(campaign.pk).kind == "sent"
    assert drain(campaign).kind == "done"
    counts = states(campaign)
    assert counts.get(S.ACCEPTED, 0) + counts.get(S.FAILED, 0) == 250 and counts[S.ACCEPTED] >= 200
    ledger = ours(sb, campaign)
    sent = [r["tracking_id"] for r in ledger]
    assert len(sent) == len(set(sent)) == counts[S.ACCEPTED]
    assert set(sent) == tracking_ids(campaign, state=S.ACCEPTED)
    # 250 messages in one claimed batch: three requests (100, 100, 50), told apart by bulk id.
    per_request = {}
    for row in sb.ledger(limit=100000, accepted="all"):
        if (row.get("tracking_id") or "").startswith(f"c{campaign.pk}-"):
            per_request[row["bulk_id"]] = per_request.get(row["bulk_id"], 0) + 1
    assert sorted(per_request.values(), reverse=True) == [100, 100, 50]


@pytest.mark.django_db(transaction=True)
def test_a_jobs_lanes_claim_and_record_side_by_side_but_send_one_batch_at_a_time(
    quality_admin, sb, settings, monkeypatch
):
    settings.DISPATCH_BATCH_SIZE = 100
    settings.DISPATCH_JOB_LANES = 3
    sb.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    campaign = build_campaign(600, quality_admin=quality_admin, provider="infobip", sb=sb)
    assert dispatch.start_campaign(campaign.pk).started
    in_flight, most, lock = [0], [0], threading.Lock()
    send = dispatch._send

    def observed_send(oa, messages):  # the real send, with the number of batches in flight counted
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(0.05)  # time for the other lanes to claim and reach the gate
            return send(oa, messages)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(dispatch, "_send", observed_send)
    assert dispatch.dispatch_batches(campaign.pk, seconds=120).kind == "done"
    assert most[0] == 1
    lanes = set(CampaignMessage.objects.filter(campaign=campaign).values_list("claimed_by", flat=True))
    assert len(lanes) >= 2, lanes  # several lanes claimed batches
    counts = states(campaign)
    assert counts.get(S.ACCEPTED, 0) + counts.get(S.FAILED, 0) == 600
    sent = [r["tracking_id"] for r in ours(sb, campaign)]
    assert len(sent) == len(set(sent)) == counts[S.ACCEPTED]


@pytest.mark.django_db(transaction=True)
def test_a_batch_waiting_at_the_send_gate_stays_claimed_until_the_gate_is_its(quality_admin, sb, settings):
    """Rows become `sending` only once their lane holds the gate: a worker killed while a lane waits
    leaves them claimed (queued again after the lease), never unconfirmed."""
    settings.DISPATCH_BATCH_SIZE = 50
    sb.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    campaign = build_campaign(50, quality_admin=quality_admin, provider="infobip", sb=sb)
    assert dispatch.start_campaign(campaign.pk).started
    gate = threading.Lock()
    gate.acquire()  # another lane's batch is in flight
    outcome = []
    lane = threading.Thread(target=lambda: outcome.append(dispatch.run_batch(campaign.pk, send_gate=gate)))
    lane.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and states(campaign).get(S.CLAIMED, 0) < 50:
            time.sleep(0.05)
        time.sleep(0.3)  # the lane has claimed, reserved and checked; it now waits at the gate
        waiting = states(campaign)
    finally:
        gate.release()
        lane.join(timeout=30)
    assert waiting.get(S.CLAIMED, 0) == 50 and waiting.get(S.SENDING, 0) == 0, waiting
    assert outcome and outcome[0].kind == "sent"
    assert states(campaign).get(S.ACCEPTED, 0) + states(campaign).get(S.FAILED, 0) == 50
    assert not gate.locked()  # given back once the answers were in


@pytest.mark.django_db(transaction=True)
def test_infobip_answering_duplicate_message_id_is_recorded_as_accepted(quality_admin, sb, settings):
    sb.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    campaign = build_campaign(3, quality_admin=quality_admin, provider="infobip", sb=sb)
    dispatch.start_campaign(campaign.pk)
    first = CampaignMessage.objects.filter(campaign=campaign).order_by("pk").first()
    # An earlier attempt got through (its answer was lost): the sandbox already holds this messageId.
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": [{"to": first.phone, "messageId": first.tracking_id}],
                "content": {"templateName": 200002, "templateData": first.template_data, "type": "TEMPLATE"},
            }
        ]
    }
    answer = requests.post(
        f"{sb.infobip_base}/zalo/2/messages",
        json=body,
        headers={"Authorization": f"App {DEMO_INFOBIP_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    outcome = drain(campaign)
    assert outcome.kind == "done", (
        outcome,
        list(
            CampaignMessage.objects.filter(campaign=campaign).values(
                "state", "error_code", "provider_error_code", "provider_error_message", "attempts"
            )
        ),
    )
    first.refresh_from_db()
    assert first.state == S.ACCEPTED and not first.error_code
    assert states(campaign) == {S.ACCEPTED: 3}
    assert [r["tracking_id"] for r in ours(sb, campaign)].count(first.tracking_id) == 1
    assert not sb.ledger_summary()["duplicate_message_ids"]


# --- staged release --------------------------------------------------------------------------------


STAGED = {
    "staged_release": True, "stage_percent": 10, "stage_min_recipients": 5, "stage_wait_minutes": 30,
    "stage_bad_report_threshold": 2,
}  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_staged_release_sends_the_first_slice_waits_and_releases_the_rest(quality_admin, sb, settings):
    settings.JOBS_IN_PROCESS = False
    campaign = build_campaign(30, quality_admin=quality_admin, **STAGED)
    assert dispatch.start_campaign(campaign.pk).started
    assert CampaignMessage.objects.filter(campaign=campaign, in_first_slice=True).count() == 5  # max(10 %, 5)
    outcome = drain(campaign)
    assert outcome.kind == "stop" and outcome.reason == "stage_gate", outcome
    assert len(ours(sb, campaign)) == 5 and states(campaign)[S.QUEUED] == 25
    waiting = dispatch.run_batch(campaign.pk)  # nothing more leaves while the gate waits
    assert waiting.kind in ("stop", "wait") and waiting.reason == "stage_gate"
    assert len(ours(sb, campaign)) == 5
    assert dispatch.evaluate_stage_gate(campaign.pk) == "not_yet"
    later = timezone.now() + timedelta(minutes=31)
    assert dispatch.evaluate_stage_gate(campaign.pk, now=later) == "released"
    decision = CampaignDispatch.objects.get(campaign=campaign).stage_decision
    assert decision["sent"] == 5 and decision["bad"] == 0 and decision["guardrail"] is False
    assert drain(campaign).kind == "done"
    sent = [r["tracking_id"] for r in ours(sb, campaign)]
    assert len(sent) == len(set(sent)) == 30
    assert AuditEvent.objects.filter(action="campaign.stage_release").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_staged_release_pauses_with_its_figures_and_sends_nothing_more(quality_admin, sb, settings):
    settings.JOBS_IN_PROCESS = False
    campaign = build_campaign(30, quality_admin=quality_admin, **STAGED)
    dispatch.start_campaign(campaign.pk)
    drain(campaign)
    # One bad report on 5 messages: 20 %, over the 2 % threshold.
    assert CampaignDailyStats.objects.filter(campaign_id=campaign.pk).update(bad_reports=1) == 1
    later = timezone.now() + timedelta(minutes=31)
    assert dispatch.evaluate_stage_gate(campaign.pk, now=later) == "failed"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "1 bad report(s) on the first 5 message(s)" in campaign.pause_reason
    assert "20.00 %" in campaign.pause_reason and "threshold 2" in campaign.pause_reason
    assert dispatch.run_batch(campaign.pk).kind == "stop"
    assert len(ours(sb, campaign)) == 5
    # A person who read the figures resumes: the rest goes, the first slice is not sent again.
    dispatch.resume_campaign(campaign.pk, actor=quality_admin)
    assert drain(campaign).kind == "done"
    sent = [r["tracking_id"] for r in ours(sb, campaign)]
    assert len(sent) == len(set(sent)) == 30


# --- cancel --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cancel_mid_run_sends_nothing_more_and_loses_nothing(quality_admin, sb, settings):
    settings.DISPATCH_BATCH_SIZE = 4
    campaign = build_campaign(12, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    assert dispatch.run_batch(campaign.pk).kind == "sent"
    # A second worker has claimed the next batch and is about to send it when the cancel lands.
    held = dispatch._claim(campaign.pk, 4, "other-worker", timezone.now(), False)
    assert len(held) == 4
    unsent = dispatch.cancel_campaign(campaign.pk, actor=quality_admin)
    assert unsent == 8
    # Its claimed -> sending UPDATE requires a running campaign: nothing moves (and they are failed).
    assert dispatch.transition([r["id"] for r in held], S.CLAIMED, S.SENDING, require_running=True) == []
    assert dispatch.run_batch(campaign.pk).kind == "stop"
    counts = states(campaign)
    assert counts == {S.ACCEPTED: 4, S.FAILED: 8}  # every recipient has a final state
    assert set(CampaignMessage.objects.filter(campaign=campaign, state=S.FAILED).values_list(
        "error_code", flat=True)) == {dispatch.CANCELLED}  # fmt: skip
    assert {r["tracking_id"] for r in ours(sb, campaign)} == tracking_ids(campaign, state=S.ACCEPTED)
    with pytest.raises(dispatch.DispatchRefused):
        dispatch.cancel_campaign(campaign.pk, actor=quality_admin)


# --- the speed limiter shared by two processes ----------------------------------------------------

TIMED_WORKER = """
import os, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalo_admin.settings")
django.setup()
from django.utils import timezone
from campaigns import dispatch
campaign_id, budget = int(sys.argv[1]), float(sys.argv[2])
deadline = time.monotonic() + budget
while time.monotonic() < deadline:
    outcome = dispatch.run_batch(campaign_id)
    if outcome.kind in ("done", "stop"):
        break
    if outcome.kind == "wait":
        delay = (outcome.wait_until - timezone.now()).total_seconds()
        time.sleep(max(0.05, min(delay, deadline - time.monotonic())))
    elif outcome.kind == "idle":
        time.sleep(0.05)
"""


def worker_env(sb, **extra):
    from django.conf import settings

    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "1",  # local mode: the sandbox's plain-http loopback URLs are accepted
        "JOBS_IN_PROCESS": "0",
        **sb.settings_env(),
    }
    env.pop("TEST_DATABASE_NAME", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_share_the_sending_speed_limit(quality_admin, sb):
    rate_per_minute = 240  # 4 a second, a burst of 10
    campaign = build_campaign(
        200, quality_admin=quality_admin, sending_speed_limit_amount=rate_per_minute,
        sending_speed_limit_time_unit="MINUTE",
    )  # fmt: skip
    dispatch.start_campaign(campaign.pk)
    budget = 15.0
    env = worker_env(sb, DISPATCH_BATCH_SIZE=50)
    procs = [
        subprocess.Popen([sys.executable, "-c", TIMED_WORKER, str(campaign.pk), str(budget)], env=env)
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.wait(timeout=90) == 0
    rows = list(
        CampaignMessage.objects.filter(campaign=campaign, sending_at__isnull=False)
        .order_by("sending_at")
        .values_list("sending_at", "claimed_by")
    )
    burst = 10
    span = (rows[-1][0] - rows[0][0]).total_seconds()
    assert span > budget * 0.45
    measured = (len(rows) - burst) / span  # past the first burst
    expected = rate_per_minute / 60
    assert expected * 0.8 <= measured <= expected * 1.15, (len(rows), span, measured)
    # Never over the limit in any window starting at the first send (GCRA: burst + rate x time).
    start = rows[0][0]
    for n, (at, _worker) in enumerate(rows, start=1):
        assert n <= burst + expected * (at - start).total_seconds() + 1
    pids = {worker.split(":")[1] for _at, worker in rows}
    assert len(pids) == 2  # both processes sent
    sent = [r["tracking_id"] for r in ours(sb, campaign)]
    accepted = set(
        CampaignMessage.objects.filter(campaign=campaign, state=S.ACCEPTED).values_list(
            "tracking_id", flat=True
        )
    )
    assert len(sent) == len(set(sent)) and set(sent) == accepted  # each accepted one sent once, no other
    # A row taken to `sending` but refused or not attempted (the workers' budget ended) waits in the
    # queue for its retry; one whose answer was lost is unconfirmed. Neither is in the sandbox's ledger.
    others = CampaignMessage.objects.filter(campaign=campaign, sending_at__isnull=False).exclude(
        state=S.ACCEPTED
    )
    assert {m.state for m in others} <= {S.QUEUED, S.UNCONFIRMED}, [(m.state, m.error_code) for m in others]
    assert len(accepted) >= len(rows) - 2


# --- window and validity edges ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_delivery_window_opens_on_its_minute_and_closes_on_its_end(quality_admin, sb):
    local = timezone.now().astimezone(dispatch.eligibility.VIETNAM)
    opens = (local + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    closes = opens + timedelta(hours=1)
    campaign = build_campaign(
        4, quality_admin=quality_admin, delivery_from_hour=opens.hour, delivery_from_minute=0,
        delivery_to_hour=closes.hour, delivery_to_minute=0,
    )  # fmt: skip
    dispatch.start_campaign(campaign.pk)
    just_before = opens - timedelta(microseconds=1)
    outcome = dispatch.run_batch(campaign.pk, now=just_before)
    assert outcome.kind == "wait" and outcome.reason == "window" and outcome.wait_until == opens
    assert states(campaign) == {S.QUEUED: 4}
    assert dispatch.next_opening(campaign, opens) is None
    assert dispatch.next_opening(campaign, closes - timedelta(seconds=1)) is None
    after = dispatch.next_opening(campaign, closes)
    assert after is not None and after > closes  # the end is excluded: the next opening
    assert dispatch.run_batch(campaign.pk, now=opens).kind == "sent"
    assert states(campaign) == {S.ACCEPTED: 4}


@pytest.mark.django_db(transaction=True)
def test_a_message_is_sent_up_to_its_validity_and_expired_just_after(quality_admin, sb, settings):
    settings.DISPATCH_BATCH_SIZE = 2
    campaign = build_campaign(
        4, quality_admin=quality_admin, validity_period_amount=1, validity_period_time_unit="HOURS"
    )
    dispatch.start_campaign(campaign.pk)
    valid_until = CampaignMessage.objects.filter(campaign=campaign).first().valid_until
    assert dispatch.run_batch(campaign.pk, now=valid_until).kind == "sent"  # at the last instant
    assert states(campaign) == {S.ACCEPTED: 2, S.QUEUED: 2}
    dispatch.run_batch(campaign.pk, now=valid_until + timedelta(microseconds=1))
    assert states(campaign) == {S.ACCEPTED: 2, S.EXPIRED: 2}
    assert len(ours(sb, campaign)) == 2
    expired = CampaignMessage.objects.filter(campaign=campaign, state=S.EXPIRED)
    assert set(expired.values_list("error_code", flat=True)) == {dispatch.VALIDITY_PASSED}
    assert not tracking_ids(campaign, state=S.EXPIRED) & {r["tracking_id"] for r in ours(sb, campaign)}


# --- consecutive errors, resume --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_consecutive_provider_errors_pause_the_campaign_and_resume_sends_only_the_rest(
    quality_admin, sb, settings
):
    settings.DISPATCH_BATCH_SIZE = 3
    settings.DISPATCH_PAUSE_AFTER_ERRORS = 5
    settings.DISPATCH_ZALO_CONCURRENCY = 1
    campaign = build_campaign(12, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    assert dispatch.run_batch(campaign.pk).kind == "sent"  # 3 accepted
    # Then every send answers HTTP 500: ambiguous (unconfirmed, never re-sent), an error about the
    # whole OA: the rest of the batch goes back to the queue and every worker backs off 5 s.
    sb.faults(scope=["zalo"], error_rate=1, error_status=500)
    outcomes = []
    for i in range(1, 10):
        outcome = dispatch.run_batch(campaign.pk, now=timezone.now() + timedelta(seconds=6 * i))
        outcomes.append(outcome.kind)
        campaign.refresh_from_db()
        if campaign.status != Campaign.Status.RUNNING:
            break
    assert outcomes == ["sent"] * 5, outcomes  # the fifth error in a row pauses
    assert campaign.status == Campaign.Status.PAUSED
    assert "5 provider errors in a row" in campaign.pause_reason, campaign.pause_reason
    counts = states(campaign)
    assert counts == {S.ACCEPTED: 3, S.UNCONFIRMED: 5, S.QUEUED: 4}
    assert dispatch.run_batch(campaign.pk).kind == "stop"
    sb.faults(scope=[], error_rate=0)
    unconfirmed = tracking_ids(campaign, state=S.UNCONFIRMED)
    dispatch.resume_campaign(campaign.pk, actor=quality_admin)
    assert CampaignDispatch.objects.get(campaign=campaign).consecutive_errors == 0
    assert drain(campaign).kind == "done"
    assert states(campaign) == {S.ACCEPTED: 7, S.UNCONFIRMED: 5}  # unconfirmed never re-sent
    sent = [r["tracking_id"] for r in ours(sb, campaign)]
    assert len(sent) == len(set(sent)) == 7 and not set(sent) & unconfirmed


# --- the periodic recovery's start guard -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_refused_start_is_audited_once_however_often_the_recovery_runs(quality_admin, sb, settings):
    settings.JOBS_IN_PROCESS = True
    campaign = build_campaign(3, quality_admin=quality_admin)
    Contact.objects.filter(phone=phones(1)[0]).delete()  # the eligible set changed: the hash differs
    for _ in range(3):
        dispatch.recover_and_kick()
    campaign.refresh_from_db()
    assert campaign.status != Campaign.Status.SCHEDULED and campaign.pause_reason
    assert AuditEvent.objects.filter(action="campaign.start_refused").count() == 1
    assert not CampaignMessage.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db(transaction=True)
def test_the_recovery_enqueues_one_start_per_guard_period(quality_admin, sb, settings, clean_redis):
    settings.JOBS_IN_PROCESS = False
    campaign = build_campaign(3, quality_admin=quality_admin)
    assert dispatch.recover_and_kick()["started"] == 1
    assert dispatch.recover_and_kick()["started"] == 0  # a start job is already on its way
    clean_redis.delete(f"campaigns:dispatch:start:{campaign.pk}")  # the guard period is over
    assert dispatch.recover_and_kick()["started"] == 1


# --- erasure ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_erasing_a_person_redacts_their_campaign_messages_and_stops_a_queued_one(quality_admin, sb, settings):
    from audiences.data_requests import erase_person

    settings.DISPATCH_BATCH_SIZE = 2
    campaign = build_campaign(4, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    dispatch.run_batch(campaign.pk)
    rows = list(CampaignMessage.objects.filter(campaign=campaign).order_by("pk"))
    sent, queued = rows[0], rows[3]
    originals = (sent.phone, queued.phone)
    erase_person(sent.phone, "system:test")
    erase_person(queued.phone, "system:test")
    sent.refresh_from_db()
    queued.refresh_from_db()
    for row, phone in zip((sent, queued), originals, strict=True):
        assert row.phone != phone and row.phone.startswith("x") and row.template_data == {}
        assert not CampaignMessage.objects.filter(phone=phone).exists()
    assert sent.state == S.ACCEPTED and sent.tracking_id == rows[0].tracking_id  # figures kept
    assert queued.state == S.FAILED and queued.error_code == "RECIPIENT_ERASED"
    assert queued.events.filter(to_state=S.FAILED).exists()
    drain(campaign)
    assert queued.tracking_id not in {r["tracking_id"] for r in ours(sb, campaign)}
    assert states(campaign) == {S.ACCEPTED: 3, S.FAILED: 1}


# --- the limiter itself ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_limiter_accepts_rates_above_one_send_a_millisecond():
    from campaigns import ratelimit

    # 5,000 a second: 0.2 ms per send, so an odd count gives a fractional TAT (the key's expiry
    # must still be a whole number of milliseconds).
    limit = ratelimit.Limit("campaigns:rl:test:fast", rate=5000, period=1.0)
    assert ratelimit.acquire(limit, 3, max_wait=5) == ratelimit.Decision(True, 0.0)
    assert ratelimit.acquire(limit, 4999, max_wait=5).allowed
    late = ratelimit.acquire(limit, 5000, max_wait=0.5)
    assert not late.allowed and 0.5 < late.wait <= 1.0


# --- per-recipient caps: one statement per batch ---------------------------------------------------


@pytest.mark.django_db
def test_a_marketing_batch_reserves_and_releases_its_recipient_caps_in_one_statement_each():
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    from quotas.models import RecipientMarketingUsage
    from quotas.services import reservations
    from tests.quotas.conftest import make_oa as quota_oa

    oa = quota_oa(limit=100000)  # ZBS 2026: one marketing message a recipient a day
    batch = phones(500)
    with CaptureQueriesContext(conn) as queries:
        reservation = reservations.reserve(oa, 500, 3, batch)
    table = RecipientMarketingUsage._meta.db_table
    writes = [q["sql"] for q in queries if table in q["sql"] and not q["sql"].lstrip().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].lstrip().startswith("INSERT")
    assert (
        reservation.granted == 500 and RecipientMarketingUsage.objects.filter(oa=oa, count=1).count() == 500
    )
    # The same recipients again (and 10 new ones, one of them twice): only the new ones, once each.
    again = reservations.reserve(oa, 12, 3, [*batch[:2], *phones(9, start=900), phones(1, start=900)[0]])
    assert again.recipients == phones(9, start=900) and again.limited_by == "recipient_cap"
    with CaptureQueriesContext(conn) as queries:
        reservations.release(reservation, batch[:300])
    writes = [q["sql"] for q in queries if table in q["sql"] and not q["sql"].lstrip().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].lstrip().startswith("UPDATE")
    assert RecipientMarketingUsage.objects.filter(oa=oa, recipient__in=batch, count=0).count() == 300
    assert reservations.reserve(oa, 300, 3, batch[:300]).granted == 300
