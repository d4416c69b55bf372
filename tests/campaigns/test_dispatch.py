"""The dispatcher (campaigns.dispatch): transitions, start, batches through the sandbox, recovery."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audiences.models import Contact, ContactList, ContactListMember, ContactSource
from campaigns import approval, dispatch
from campaigns.models import (
    MESSAGE_STATES,
    Campaign,
    CampaignApproval,
    CampaignDispatch,
    CampaignMessage,
    CampaignMessageEvent,
)
from oas.models import MessageTemplate
from quotas.models import DailyQuotaUsage
from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_TOKENS
from tests.providers.conftest import make_oa

S = CampaignMessage.State
PARAMS = [
    {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30},
    {"name": "order_code", "type": "STRING", "require": True, "maxLength": 30},
    {"name": "amount", "type": "NUMBER", "require": True, "maxLength": 12},
]
MAPPING = {
    "customer_name": {"source": "field", "key": "name"},
    "order_code": {"source": "attribute", "key": "order"},
    "amount": {"source": "attribute", "key": "total"},
}


def phones(n, start=0):
    return [f"8491{2000000 + start + i:07d}" for i in range(n)]


def make_campaign(n=5, *, quality_admin, **options) -> Campaign:
    oa = make_oa(
        "demo-oa-1",
        app_id=DEMO_APP_ID,
        app_secret=DEMO_APP_SECRET,
        access_token=DEMO_TOKENS["demo-oa-1"],
        refresh_token="demo-oa-1-refresh-token",
    )
    template = MessageTemplate.objects.create(
        oa=oa, template_id="100001", name="Order confirmation", tag=MessageTemplate.Tag.TRANSACTION,
        params=PARAMS, status=MessageTemplate.Status.ENABLED,
    )  # fmt: skip
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="t", created_by="system:test")
    members = ContactList.objects.create(name="Customers", created_by="system:test")
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                phone=p, name=f"Khách {i}", attributes={"order": f"DH{i}", "total": 1000 + i}, source=source
            )
            for i, p in enumerate(phones(n))
        ]
    )
    ContactListMember.objects.bulk_create(
        [ContactListMember(contact_list=members, contact=c, added_by="system:test") for c in contacts]
    )
    from campaigns import mapping

    campaign = Campaign.objects.create(
        oa=oa, template=template, name="Orders", status=Campaign.Status.SCHEDULED, mapping=MAPPING,
        template_version=mapping.template_version(template), **options,
    )  # fmt: skip
    campaign.audience_lists.add(members)
    eligible = approval.eligible_phones(campaign)
    CampaignApproval.objects.create(
        campaign=campaign, approver=quality_admin, approver_name="quality", approved_at=timezone.now(),
        approval_hash=approval.approval_hash(campaign, eligible), recipients=len(eligible),
    )  # fmt: skip
    return campaign


def states(campaign) -> dict:
    return {s: n for s, n in dispatch.message_counts(campaign.pk).items() if n}


def drain(campaign, rounds=50):
    for _ in range(rounds):
        outcome = dispatch.run_batch(campaign.pk)
        if outcome.kind in ("done", "stop"):
            return outcome
        if outcome.kind == "wait":
            return outcome
    return outcome


# --- transitions -----------------------------------------------------------------------------------


def test_the_state_list_of_the_check_constraint_is_the_model_states():
    assert set(MESSAGE_STATES) == set(S.values) == set(dispatch.TRANSITIONS)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.ACCEPTED, S.QUEUED),
        (S.SENDING, S.CLAIMED),
        (S.UNCONFIRMED, S.QUEUED),
        (S.UNCONFIRMED, S.SENDING),
        (S.DELIVERED, S.ACCEPTED),
        (S.EXPIRED, S.QUEUED),
        (S.FAILED, S.QUEUED),
        (S.QUEUED, S.SENDING),
        (S.QUEUED, S.ACCEPTED),
    ],
)
def test_forbidden_transitions_are_refused_before_any_sql(old, new):
    with pytest.raises(dispatch.ForbiddenTransition):
        dispatch.transition([1], old, new)


def test_tracking_ids_are_stable_short_and_hide_the_phone():
    first = dispatch.tracking_id(12, "84912345678")
    assert first == dispatch.tracking_id(12, "84912345678") != dispatch.tracking_id(13, "84912345678")
    assert len(first) <= 48 and "912345678" not in first


@pytest.mark.django_db(transaction=True)
def test_a_transition_moves_only_rows_in_the_expected_state_and_writes_the_timeline(quality_admin, sb):
    campaign = make_campaign(3, quality_admin=quality_admin)
    assert dispatch.start_campaign(campaign.pk).started
    rows = list(CampaignMessage.objects.filter(campaign=campaign).order_by("pk"))
    ids = [r.pk for r in rows]
    assert dispatch.transition(ids[:2], S.QUEUED, S.CLAIMED) == ids[:2]
    # A second worker trying the same claim gets nothing: the rows are no longer queued.
    assert dispatch.transition(ids, S.QUEUED, S.CLAIMED) == ids[2:]
    assert dispatch.transition(ids, S.QUEUED, S.CLAIMED) == []
    moved = dispatch.transition(ids[:1], S.CLAIMED, S.SENDING, attempts_delta=1)
    assert moved == ids[:1]
    assert dispatch.transition(ids[:1], S.CLAIMED, S.QUEUED) == []  # it is sending: never back
    timeline = list(
        CampaignMessageEvent.objects.filter(message_id=ids[0]).values_list("from_state", "to_state")
    )
    assert timeline == [("", S.QUEUED), (S.QUEUED, S.CLAIMED), (S.CLAIMED, S.SENDING)] or timeline == [
        (S.QUEUED, S.CLAIMED),
        (S.CLAIMED, S.SENDING),
    ]
    assert CampaignMessage.objects.get(pk=ids[0]).attempts == 1


# --- start and send ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_start_creates_one_row_per_recipient_and_the_batch_sends_each_once(quality_admin, sb, settings):
    settings.JOBS_IN_PROCESS = False
    campaign = make_campaign(12, quality_admin=quality_admin)
    outcome = dispatch.start_campaign(campaign.pk)
    assert outcome.started and outcome.recipients == 12
    assert dispatch.start_campaign(campaign.pk).reason == "already running"  # safe twice
    assert CampaignMessage.objects.filter(campaign=campaign).count() == 12
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    drain(campaign)
    assert states(campaign) == {S.ACCEPTED: 12}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    ledger = [row["tracking_id"] for row in sb.ledger()]
    ours = set(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", flat=True))
    assert sorted(t for t in ledger if t in ours) == sorted(ours)  # each exactly once
    row = CampaignMessage.objects.filter(campaign=campaign).first()
    assert row.template_data["order_code"].startswith("DH") and row.provider_message_id


@pytest.mark.django_db(transaction=True)
def test_a_changed_eligible_set_refuses_the_start_and_says_why(quality_admin, sb):
    campaign = make_campaign(3, quality_admin=quality_admin)
    Contact.objects.filter(phone=phones(1)[0]).delete()
    outcome = dispatch.start_campaign(campaign.pk)
    assert not outcome.started and "hash" in outcome.reason
    campaign.refresh_from_db()
    assert campaign.pause_reason and not CampaignMessage.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db(transaction=True)
def test_pause_then_resume_continues_without_re_sending(quality_admin, sb, settings):
    settings.DISPATCH_BATCH_SIZE = 4
    campaign = make_campaign(10, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    assert dispatch.run_batch(campaign.pk).kind == "sent"
    from campaigns.services import pause_campaign

    pause_campaign(campaign.pk, "operator pause", actor="system:test")
    assert dispatch.run_batch(campaign.pk).kind == "stop"
    assert states(campaign) == {S.ACCEPTED: 4, S.QUEUED: 6}
    dispatch.resume_campaign(campaign.pk, actor=quality_admin)
    drain(campaign)
    assert states(campaign) == {S.ACCEPTED: 10}
    ours = set(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", flat=True))
    ledger = [row["tracking_id"] for row in sb.ledger() if row["tracking_id"] in ours]
    assert len(ledger) == len(set(ledger)) == 10


@pytest.mark.django_db(transaction=True)
def test_outside_the_delivery_window_it_waits_for_the_next_opening(quality_admin, sb):
    now = timezone.now()
    local = now.astimezone(dispatch.eligibility.VIETNAM)
    opens = (local + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    campaign = make_campaign(
        2, quality_admin=quality_admin, delivery_from_hour=opens.hour, delivery_from_minute=0,
        delivery_to_hour=(opens.hour + 1) % 24, delivery_to_minute=0,
    )  # fmt: skip
    dispatch.start_campaign(campaign.pk)
    outcome = dispatch.run_batch(campaign.pk)
    assert outcome.kind == "wait" and outcome.reason == "window"
    assert outcome.wait_until == opens.astimezone(UTC)
    assert states(campaign) == {S.QUEUED: 2}
    # At the opening minute it sends.
    assert dispatch.next_opening(campaign, opens.astimezone(UTC)) is None
    assert dispatch.next_opening(campaign, opens.astimezone(UTC) - timedelta(seconds=1)) is not None


@pytest.mark.django_db(transaction=True)
def test_a_message_past_its_validity_is_expired_never_sent(quality_admin, sb):
    campaign = make_campaign(
        3, quality_admin=quality_admin, validity_period_amount=1, validity_period_time_unit="MINUTES"
    )
    dispatch.start_campaign(campaign.pk)
    row = CampaignMessage.objects.filter(campaign=campaign).first()
    assert row.valid_until - row.created_at < timedelta(seconds=61)
    later = timezone.now() + timedelta(seconds=61)
    dispatch.run_batch(campaign.pk, now=later)
    assert states(campaign) == {S.EXPIRED: 3}
    assert not [r for r in sb.ledger() if r["tracking_id"].startswith(f"c{campaign.pk}-")]


@pytest.mark.django_db(transaction=True)
def test_quota_is_reserved_per_batch_and_the_daily_limit_waits_for_the_next_vietnam_day(
    quality_admin, sb, settings
):
    from quotas.services.state import create_quota_state

    campaign = make_campaign(6, quality_admin=quality_admin)
    state = create_quota_state(campaign.oa_id)
    from quotas.models import OAQuotaState

    OAQuotaState.objects.filter(pk=state.pk).update(current_limit=4)
    dispatch.start_campaign(campaign.pk)
    outcome = dispatch.run_batch(campaign.pk)
    assert outcome.kind == "wait" and outcome.reason == "quota"
    assert states(campaign) == {S.ACCEPTED: 4, S.QUEUED: 2}
    usage = DailyQuotaUsage.objects.get(oa_id=campaign.oa_id)
    assert usage.reserved == 4


@pytest.mark.django_db(transaction=True)
def test_a_claimed_row_left_by_a_dead_worker_is_queued_again_and_a_sending_one_becomes_unconfirmed(
    quality_admin, sb
):
    campaign = make_campaign(4, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    ids = list(CampaignMessage.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    past = timezone.now() - timedelta(seconds=1)
    dispatch.transition(ids, S.QUEUED, S.CLAIMED, values={"lease_until": past})
    dispatch.transition(ids[:2], S.CLAIMED, S.SENDING, values={"lease_until": past})
    assert dispatch.recover_expired_leases() == {"requeued": 2, "unconfirmed": 2}
    drain(campaign)
    assert states(campaign) == {S.ACCEPTED: 2, S.UNCONFIRMED: 2}
    sent = {r["tracking_id"] for r in sb.ledger()}
    unconfirmed = CampaignMessage.objects.filter(campaign=campaign, state=S.UNCONFIRMED)
    assert not sent & set(unconfirmed.values_list("tracking_id", flat=True))


# --- several real worker processes ----------------------------------------------------------------

WORKER = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalo_admin.settings")
django.setup()
from django.conf import settings
from campaigns import dispatch
campaign_id = int(sys.argv[1])
for _ in range(400):
    outcome = dispatch.run_batch(campaign_id)
    if outcome.kind in ("done", "stop"):
        break
"""


def _worker_env(sb, **extra):
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"
    from django.conf import settings

    # DEBUG=1: local mode, where the sandbox's plain-http loopback URLs are accepted.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "1",
        **sb.settings_env(),
    }
    env.pop("TEST_DATABASE_NAME", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.mark.django_db(transaction=True)
def test_four_worker_processes_send_every_tracking_id_exactly_once_within_the_quota(quality_admin, sb):
    from quotas.models import OAQuotaState
    from quotas.services.state import create_quota_state

    campaign = make_campaign(300, quality_admin=quality_admin)
    state = create_quota_state(campaign.oa_id)
    OAQuotaState.objects.filter(pk=state.pk).update(current_limit=250)
    dispatch.start_campaign(campaign.pk)
    env = _worker_env(sb, DISPATCH_BATCH_SIZE=20, DISPATCH_ZALO_CONCURRENCY=4)
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(campaign.pk)], env=env, cwd=os.getcwd())
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.wait(timeout=240) == 0
    counts = states(campaign)
    # The sandbox's simulated recipients refuse a few (not on Zalo, opted out): failed, no quota used.
    assert set(counts) <= {S.ACCEPTED, S.QUEUED, S.FAILED} and sum(counts.values()) == 300
    assert counts[S.ACCEPTED] <= 250 and counts[S.ACCEPTED] + counts.get(S.FAILED, 0) >= 250
    ours = set(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", flat=True))
    ledger = [r["tracking_id"] for r in sb.ledger() if r["tracking_id"] in ours]
    assert len(ledger) == len(set(ledger)) == counts[S.ACCEPTED]
    assert DailyQuotaUsage.objects.get(oa_id=campaign.oa_id).reserved <= 250


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_leaves_nothing_sent_twice(quality_admin, sb):
    campaign = make_campaign(200, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    sb.configure(delay_factor=1.0)  # slow answers: the kill lands while requests are in flight
    env = _worker_env(sb, DISPATCH_BATCH_SIZE=50, DISPATCH_ZALO_CONCURRENCY=4, DISPATCH_LEASE_SECONDS=2)
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(campaign.pk)], env=env, cwd=os.getcwd())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if CampaignMessage.objects.filter(campaign=campaign, state=S.SENDING).exists():
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    sb.configure(delay_factor=0.001)
    held = states(campaign)
    assert held.get(S.SENDING, 0) > 0
    time.sleep(2.1)
    dispatch.recover_expired_leases()
    after = states(campaign)
    assert S.SENDING not in after and S.CLAIMED not in after
    assert after.get(S.UNCONFIRMED, 0) == held.get(S.SENDING, 0)
    unconfirmed = set(
        CampaignMessage.objects.filter(campaign=campaign, state=S.UNCONFIRMED).values_list(
            "tracking_id", flat=True
        )
    )
    before = [r["tracking_id"] for r in sb.ledger()]
    drain(campaign, rounds=200)
    ours = set(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", flat=True))
    ledger = [r["tracking_id"] for r in sb.ledger() if r["tracking_id"] in ours]
    assert len(ledger) == len(set(ledger))  # 0 sent twice
    resent = [t for t in ledger if t in unconfirmed and t not in before]
    assert not resent  # unconfirmed rows were never sent again by us
    final = states(campaign)
    assert set(final) <= {S.ACCEPTED, S.FAILED, S.UNCONFIRMED} and sum(final.values()) == 200
    assert CampaignDispatch.objects.get(campaign=campaign).campaign.status in (
        Campaign.Status.COMPLETED,
        Campaign.Status.RUNNING,
    )
    _ = datetime  # noqa
