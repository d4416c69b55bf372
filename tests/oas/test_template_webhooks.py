"""Template status and quality webhooks: from the sandbox over real HTTP, and replayed events."""

import hashlib
import json
import time
import uuid

import pytest

from campaigns.models import Campaign
from compliance.models import AuditEvent
from oas.models import MessageTemplate
from oas.services.template_events import WEBHOOK_ACTOR
from oas.services.template_sync import sync_templates
from providers.http import interactive_client
from providers.jobs import process_webhook_event
from providers.models import WebhookEvent
from sandbox.testing import DEMO_APP_ID
from tests.oas.test_templates import make_template, zalo_oa
from tests.providers.conftest import make_oa

Status = MessageTemplate.Status


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def webhook_site(settings, live_server):
    settings.JOBS_IN_PROCESS = True
    return live_server


@pytest.mark.django_db(transaction=True)
def test_a_template_disabled_at_zalo_pauses_its_running_campaigns_through_the_signed_webhook(
    sb, webhook_site
):
    oa = zalo_oa(oa_secret_key="hook-secret")
    sb.app(DEMO_APP_ID, webhook_url=f"{webhook_site.url}/webhooks/zalo/", webhook_secret="hook-secret")
    assert sync_templates(oa.pk, http=interactive_client()).ok
    template = MessageTemplate.objects.get(oa=oa, template_id="100001")
    running = Campaign.objects.create(oa=oa, template=template, name="Orders", status=Campaign.Status.RUNNING)
    later = Campaign.objects.create(oa=oa, template=template, name="Later", status=Campaign.Status.SCHEDULED)
    draft = Campaign.objects.create(oa=oa, template=template, name="Draft", status=Campaign.Status.DRAFT)

    sb.template("100001", status="DISABLE", reason="Mẫu tin có dấu hiệu spam")
    sb.drain()
    assert wait_for(
        lambda: WebhookEvent.objects.filter(
            event_name="change_template_status", status=WebhookEvent.Status.PROCESSED
        ).exists()
    )
    template.refresh_from_db()
    assert template.status == Status.DISABLED
    assert template.status_reason == "Mẫu tin có dấu hiệu spam"
    for campaign in (running, later, draft):
        campaign.refresh_from_db()
    assert running.status == later.status == Campaign.Status.PAUSED
    assert "Mẫu tin có dấu hiệu spam" in running.pause_reason
    assert draft.status == Campaign.Status.DRAFT
    status_event = AuditEvent.objects.get(action="template.status")
    assert status_event.actor == WEBHOOK_ACTOR
    assert sorted(status_event.details["paused_campaigns"]) == sorted([running.pk, later.pk])


@pytest.mark.django_db(transaction=True)
def test_a_quality_change_at_zalo_updates_the_template(sb, webhook_site):
    oa = zalo_oa(oa_secret_key="hook-secret")
    sb.app(DEMO_APP_ID, webhook_url=f"{webhook_site.url}/webhooks/zalo/", webhook_secret="hook-secret")
    assert sync_templates(oa.pk, http=interactive_client()).ok
    sb.template("100002", quality="MEDIUM")
    sb.drain()
    assert wait_for(
        lambda: MessageTemplate.objects.filter(oa=oa, template_id="100002", quality="MEDIUM").exists()
    )
    event = AuditEvent.objects.get(action="template.quality")
    assert event.details == {"template_id": "100002", "from": "UNDEFINED", "to": "MEDIUM"}


def deliver(oa, body: dict, payload_oa_id: str | None = None) -> str:
    """Store an event bound to `oa` as the webhook view does and run the job that processes it."""
    payload = {
        "app_id": "app-1",
        "oa_id": payload_oa_id or (oa.zalo_oa_id if oa else ""),
        "timestamp": str(int(time.time() * 1000)),
        **body,
    }
    event = WebhookEvent.objects.create(
        provider=WebhookEvent.Provider.ZALO,
        oa=oa,
        event_name=payload["event_name"],
        unique_key=uuid.uuid4().hex,
        raw_body=json.dumps(payload),
    )
    return process_webhook_event(event.pk)


def status_event(template_id, prev, new, reason=""):
    return {
        "event_name": "change_template_status",
        "template_id": template_id,
        "status": {"prev_status": prev, "new_status": new},
        "reason": reason,
    }


QUALITY_LOW = {"event_name": "change_template_quality", "template_id": "100001", "quality": "LOW"}


@pytest.fixture
def oa(db):
    return make_oa("demo-oa-1")


def test_the_same_status_event_twice_changes_and_audits_once(oa):
    template = make_template(oa)
    campaign = Campaign.objects.create(oa=oa, template=template, name="c", status=Campaign.Status.RUNNING)
    assert deliver(oa, status_event("100001", "ENABLE", "REJECT", "Logo không hợp lệ")) == "processed"
    assert deliver(oa, status_event("100001", "ENABLE", "REJECT", "Logo không hợp lệ")) == "processed"
    template.refresh_from_db()
    campaign.refresh_from_db()
    assert (template.status, template.status_reason) == (Status.REJECTED, "Logo không hợp lệ")
    assert campaign.status == Campaign.Status.PAUSED
    assert AuditEvent.objects.filter(action="template.status").count() == 1
    assert AuditEvent.objects.filter(action="campaign.pause").count() == 1


def test_a_template_approved_after_review_is_enabled_and_pauses_nothing(oa):
    template = make_template(oa, status=Status.PENDING_REVIEW)
    deliver(oa, status_event("100001", "PENDING_REVIEW", "ENABLE"))
    template.refresh_from_db()
    assert template.status == Status.ENABLED
    assert AuditEvent.objects.get(action="template.status").details["paused_campaigns"] == []


def test_a_deleted_template_counts_as_disabled(oa):
    template = make_template(oa)
    campaign = Campaign.objects.create(oa=oa, template=template, name="c", status=Campaign.Status.RUNNING)
    deliver(oa, status_event("100001", "ENABLE", "DELETE"))
    template.refresh_from_db()
    campaign.refresh_from_db()
    assert template.status == Status.DISABLED and campaign.status == Campaign.Status.PAUSED


def test_an_event_bound_to_no_oa_changes_nothing(oa):
    """E.g. its OA was deleted after the event was stored (WebhookEvent.oa is SET_NULL)."""
    template = make_template(oa)
    assert (
        deliver(None, status_event("100001", "ENABLE", "DISABLE"), payload_oa_id=oa.zalo_oa_id) == "processed"
    )
    template.refresh_from_db()
    assert template.status == Status.ENABLED


@pytest.mark.parametrize("body", [status_event("100001", "ENABLE", "DISABLE", "spam"), QUALITY_LOW])
def test_handlers_act_on_the_oa_the_event_is_bound_to_never_on_one_the_payload_names(oa, body):
    mine = make_template(oa, quality="HIGH")
    other = make_oa("other-oa")
    theirs = make_template(other, quality="HIGH")
    theirs_campaign = Campaign.objects.create(
        oa=other, template=theirs, name="c", status=Campaign.Status.RUNNING
    )
    assert deliver(oa, body, payload_oa_id="other-oa") == "processed"
    mine.refresh_from_db()
    theirs.refresh_from_db()
    theirs_campaign.refresh_from_db()
    assert (mine.status, mine.quality) != (Status.ENABLED, "HIGH")
    assert (theirs.status, theirs.quality) == (Status.ENABLED, "HIGH")
    assert theirs_campaign.status == Campaign.Status.RUNNING


# Through the signed view: two OAs on one Zalo app, each with its own webhook key.


def signed_post(client, payload: dict, secret: str):
    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hashlib.sha256(
        payload["app_id"].encode() + body + payload["timestamp"].encode() + secret.encode()
    )
    return client.post(
        "/webhooks/zalo/",
        data=body,
        content_type="application/json",
        headers={"X-ZEvent-Signature": f"mac={digest.hexdigest()}"},
    )


def test_an_event_signed_with_one_oas_key_cannot_disable_another_oas_template_or_pause_its_campaigns(
    db, client, settings, django_capture_on_commit_callbacks
):
    settings.JOBS_IN_PROCESS = True
    oa_a, oa_b = make_oa("oa-a", oa_secret_key="key-of-a"), make_oa("oa-b", oa_secret_key="key-of-b")
    template_a, template_b = make_template(oa_a), make_template(oa_b)
    campaign_a = Campaign.objects.create(
        oa=oa_a, template=template_a, name="a", status=Campaign.Status.RUNNING
    )
    campaign_b = Campaign.objects.create(
        oa=oa_b, template=template_b, name="b", status=Campaign.Status.RUNNING
    )
    event = {
        **status_event("100001", "ENABLE", "DISABLE", "Mẫu tin có dấu hiệu spam"),
        "app_id": "app-1",
        "timestamp": str(int(time.time() * 1000)),
    }

    with django_capture_on_commit_callbacks(execute=True):
        refused = signed_post(client, {**event, "oa_id": "oa-b"}, secret="key-of-a")
    assert refused.status_code == 403
    assert not WebhookEvent.objects.exists()
    template_b.refresh_from_db()
    campaign_b.refresh_from_db()
    assert template_b.status == Status.ENABLED and campaign_b.status == Campaign.Status.RUNNING

    with django_capture_on_commit_callbacks(execute=True):
        accepted = signed_post(client, {**event, "oa_id": "oa-a"}, secret="key-of-a")
    assert accepted.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    for row in (template_a, template_b, campaign_a, campaign_b):
        row.refresh_from_db()
    assert (template_a.status, campaign_a.status) == (Status.DISABLED, Campaign.Status.PAUSED)
    assert (template_b.status, campaign_b.status) == (Status.ENABLED, Campaign.Status.RUNNING)


def test_a_status_event_about_a_template_we_do_not_have_queues_a_sync(
    oa, settings, django_capture_on_commit_callbacks
):
    settings.JOBS_IN_PROCESS = False
    with django_capture_on_commit_callbacks() as callbacks:
        deliver(oa, status_event("555555", "PENDING_REVIEW", "ENABLE"))
    assert len(callbacks) == 1
    assert not MessageTemplate.objects.filter(template_id="555555").exists()


def test_quality_events_are_idempotent_and_ignore_unknown_words(oa):
    template = make_template(oa, quality="HIGH")
    body = QUALITY_LOW
    deliver(oa, body)
    deliver(oa, body)
    deliver(oa, {**body, "quality": "PURPLE"})
    template.refresh_from_db()
    assert template.quality == "LOW"
    assert AuditEvent.objects.filter(action="template.quality").count() == 1
