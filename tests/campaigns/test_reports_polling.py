"""Polling for missing reports against the sandbox: Zalo's message status API and Infobip's logs
endpoint (within its rate), after a real dispatch whose webhooks never reached us."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audiences.models import Contact, ContactList, ContactListMember, ContactSource
from campaigns import approval, dispatch, mapping, reports
from campaigns.models import Campaign, CampaignApproval, CampaignMessage
from oas.models import MessageTemplate, OfficialAccount
from sandbox.testing import DEMO_INFOBIP_KEY
from tests.campaigns.test_dispatch import drain, make_campaign
from tests.providers.conftest import make_oa

S = CampaignMessage.State
UNLIMITED = {"levels": [10**9], "starting_level": 10**9, "penalty_zone": 10**9, "marketing_min_level": None}


@pytest.fixture
def soon(settings):
    settings.REPORT_POLL_AFTER_SECONDS = 1
    return timezone.now() + timedelta(minutes=2)


def delivered_at_sandbox(sb, campaign) -> set[str]:
    prefix = f"c{campaign.pk}-"
    return {
        r["tracking_id"]
        for r in sb.ledger(limit=100000)
        if (r.get("tracking_id") or "").startswith(prefix) and r.get("state") in ("delivered", "read")
    }


@pytest.mark.django_db(transaction=True)
def test_zalo_message_status_fills_in_the_missing_delivery_reports(quality_admin, sb, soon):
    campaign = make_campaign(4, quality_admin=quality_admin)
    assert dispatch.start_campaign(campaign.pk).started
    drain(campaign)
    assert CampaignMessage.objects.filter(campaign=campaign, state=S.ACCEPTED).count() == 4
    sb.set_clock(advance_seconds=3600)
    sb.drain()
    delivered = delivered_at_sandbox(sb, campaign)
    assert delivered  # the sandbox delivered them; its webhooks went to the demo URL, not here
    figures = reports.poll_zalo_status(soon)
    assert figures["asked"] == 4 and figures["delivered"] == len(delivered)
    ours = set(
        CampaignMessage.objects.filter(campaign=campaign, state=S.DELIVERED).values_list(
            "tracking_id", flat=True
        )
    )
    assert ours == delivered
    # Asked once per period: a second run right after asks nothing.
    assert reports.poll_zalo_status(soon)["asked"] == 0


def infobip_campaign(quality_admin, sb, n) -> Campaign:
    oa = make_oa(
        "demo-oa-2", provider=OfficialAccount.Provider.INFOBIP, infobip_base_url=sb.infobip_base,
        infobip_api_key=DEMO_INFOBIP_KEY, infobip_sender="demo-oa-2",
    )  # fmt: skip
    params = [
        {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30},
        {"name": "amount", "type": "NUMBER", "require": True, "maxLength": 12},
    ]
    template = MessageTemplate.objects.create(
        oa=oa, template_id="200002", name="Statement", tag=MessageTemplate.Tag.TRANSACTION,
        params=params, status=MessageTemplate.Status.ENABLED,
    )  # fmt: skip
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="t", created_by="system:test")
    members = ContactList.objects.create(name="Customers", created_by="system:test")
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                phone=f"8498{4000000 + i:07d}",
                name=f"Khách {i}",
                attributes={"total": 1000 + i},
                source=source,
            )
            for i in range(n)
        ]
    )
    ContactListMember.objects.bulk_create(
        [ContactListMember(contact_list=members, contact=c, added_by="system:test") for c in contacts]
    )
    campaign = Campaign.objects.create(
        oa=oa, template=template, name="Statements", status=Campaign.Status.SCHEDULED,
        mapping={"customer_name": {"source": "field", "key": "name"},
                 "amount": {"source": "attribute", "key": "total"}},
        template_version=mapping.template_version(template),
    )  # fmt: skip
    campaign.audience_lists.add(members)
    eligible = approval.eligible_phones(campaign)
    CampaignApproval.objects.create(
        campaign=campaign, approver=quality_admin, approver_name="quality", approved_at=timezone.now(),
        approval_hash=approval.approval_hash(campaign, eligible), recipients=len(eligible),
    )  # fmt: skip
    return campaign


@pytest.mark.django_db(transaction=True)
def test_infobip_logs_fill_in_the_missing_reports_within_the_endpoints_rate(
    quality_admin, sb, soon, settings, monkeypatch
):
    sb.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    campaign = infobip_campaign(quality_admin, sb, 3)
    assert dispatch.start_campaign(campaign.pk).started
    drain(campaign)
    accepted = CampaignMessage.objects.filter(campaign=campaign, state=S.ACCEPTED)
    assert accepted.count() == 3
    # One of them is unconfirmed (its answer was lost): the log entry resolves it.
    lost = accepted.order_by("pk").first()
    CampaignMessage.objects.filter(pk=lost.pk).update(state=S.UNCONFIRMED, unconfirmed_at=lost.accepted_at)
    sb.set_clock(advance_seconds=3600)
    sb.drain()
    # One request a minute, two ids a request: the first run makes one request and stops.
    settings.INFOBIP_LOGS_PER_MINUTE = 1
    monkeypatch.setattr(reports, "INFOBIP_LOG_IDS_PER_REQUEST", 2)
    first = reports.poll_infobip_logs(soon)
    assert (first["requests"], first["rate_limited"]) == (1, 1)
    assert first["applied"] >= 1
    # The ids left out are asked about when the rate allows again (here: a fresh bucket).
    monkeypatch.setattr(reports, "INFOBIP_LOG_IDS_PER_REQUEST", 100)
    settings.INFOBIP_LOGS_PER_MINUTE = 100
    from campaigns import ratelimit

    ratelimit.client().delete(reports.infobip_logs_limit(campaign.oa).key)
    second = reports.poll_infobip_logs(soon)
    assert second["requests"] == 1
    states = dict(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", "state"))
    assert set(states.values()) <= {S.DELIVERED, S.FAILED}, states
    assert states[lost.tracking_id] in (S.DELIVERED, S.FAILED)


@pytest.mark.django_db(transaction=True)
def test_infobip_fails_over_by_itself_and_both_legs_are_recorded_from_its_logs(quality_admin, sb, soon):
    from oas.services.clients import client_for
    from providers.base import MessageRequest

    sb.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    campaign = infobip_campaign(quality_admin, sb, 1)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.RUNNING, sms_failover_enabled=True, sms_failover_sender="ZaloAdmin",
        sms_failover_text="Chào {{name}}", sms_failover_mapping={"name": {"source": "field", "key": "name"}},
    )  # fmt: skip
    campaign.refresh_from_db()
    contact = Contact.objects.get()
    sb.pin_recipient(contact.phone, not_on_zalo=True)
    option = mapping.infobip_sms_failover(campaign, contact, default_sender="unused")
    assert option == {"sender": "ZaloAdmin", "text": "Chào Khách 0"}
    tid = dispatch.tracking_id(campaign.pk, contact.phone)
    now = timezone.now()
    message = CampaignMessage.objects.create(
        campaign=campaign, contact=contact, phone=contact.phone, tracking_id=tid, state=S.ACCEPTED,
        accepted_at=now, sending_at=now, valid_until=now + timedelta(hours=1),
    )  # fmt: skip
    data = {"customer_name": "Khách 0", "amount": "1000"}
    request = MessageRequest(tid, "200002", data, phone=contact.phone, sms_failover=option)
    [result] = client_for(campaign.oa).send_batch([request])
    assert result.status == "accepted", result
    sb.set_clock(advance_seconds=600)
    sb.drain()
    figures = reports.poll_infobip_logs(soon)
    assert figures["applied"] >= 1
    message.refresh_from_db()
    if message.state == S.FAILED:  # the Zalo leg came first in the logs: the SMS leg on the next poll
        from campaigns import ratelimit

        ratelimit.client().flushdb()
        reports.poll_infobip_logs(soon + timedelta(minutes=10))
        message.refresh_from_db()
    assert message.state == S.FAILED_OVER
    codes = [e.error_code for e in message.events.order_by("pk")]
    assert reports.SMS_DELIVERED in codes
    campaign.refresh_from_db()
    assert campaign.sms_failover_sent == 1
