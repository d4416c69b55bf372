"""The story of a message (campaigns.story, compliance/messages/): a campaign sent through the
sandbox, its approval, the consent that allowed each message, the rules, the timeline, and the seal
that catches a changed record."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audiences import services
from audiences.models import Contact, Purpose
from campaigns import reports, seals, story
from campaigns.jobs import seal_campaigns
from campaigns.models import CampaignMessage, CampaignMessageEvent, CampaignSeal
from compliance import actions
from compliance.models import AuditEvent
from tests.campaigns.test_dispatch import drain, make_campaign, phones

WORDING = "Tôi đồng ý nhận thông báo đơn hàng qua Zalo"


@pytest.fixture
def sent_campaign(quality_admin, sb):
    from campaigns import dispatch

    campaign = make_campaign(4, quality_admin=quality_admin)
    contact = Contact.objects.get(phone=phones(4)[0])
    grant = services.grant_consent(
        actor="system:test", contact=contact, purpose=Purpose.TRANSACTIONAL, source="checkout form",
        collector="shop web", wording=WORDING, evidence_text="form #991 ticked",
    )  # fmt: skip
    assert dispatch.start_campaign(campaign.pk).started
    drain(campaign)
    message = CampaignMessage.objects.get(campaign=campaign, phone=phones(4)[0])
    reports.apply_user_feedback(
        campaign.oa_id,
        reports.Feedback(
            message.tracking_id, "", timezone.now(), bad_report=False, stop_word=False, text="cảm ơn"
        ),
    )
    return campaign, message, grant


def _seal(campaign):
    return seals.seal_campaign(campaign.pk, now=timezone.now() + timedelta(seconds=seals.SETTLE_SECONDS + 1))


@pytest.mark.django_db(transaction=True)
def test_the_story_names_the_approval_the_consent_the_rules_and_every_event(sent_campaign):
    campaign, message, grant = sent_campaign
    found = story.message_story(message.pk)
    assert found.approval.approval.approver_name == "quality"
    assert found.approval.matched_at_start is True and found.approval.matches_now is True
    assert found.approval.start_entry.action == actions.CAMPAIGN_START
    assert found.consent == grant  # the consent ledger event the message relied on, fixed at start
    other = CampaignMessage.objects.get(campaign=campaign, phone=phones(4)[1])
    assert story.message_story(other.pk).consent is None  # transactional: no opt-in needed, none given
    codes = [code for code, _title in found.rules]
    assert "consent" in codes and "do_not_contact" in codes
    states = [event.to_state for event in found.events]
    assert states[:3] == ["claimed", "sending", "accepted"]
    assert found.send_check is not None and len(found.feedback) == 1
    # (the test campaign's approval row is made directly, without its audit entry)
    assert {entry.action for entry in found.audit} >= {actions.CAMPAIGN_START, actions.CAMPAIGN_COMPLETE}


@pytest.mark.django_db(transaction=True)
def test_find_messages_by_tracking_id_provider_id_phone_and_campaign(sent_campaign):
    campaign, message, _grant = sent_campaign
    message.refresh_from_db()
    assert [m.pk for m in story.find_messages(message.tracking_id)] == [message.pk]
    assert [m.pk for m in story.find_messages(message.provider_message_id)] == [message.pk]
    national = "0" + message.phone[2:]
    assert [m.pk for m in story.find_messages(f"{national[:4]} {national[4:7]} {national[7:]}")] == [
        message.pk
    ]
    assert len(story.find_messages(f"#{campaign.pk}")) == 4
    assert story.find_messages("not-a-message") == [] and story.find_messages("  ") == []


@pytest.mark.django_db(transaction=True)
def test_the_seal_goes_into_the_audit_chain_and_catches_a_changed_event(sent_campaign):
    campaign, message, _grant = sent_campaign
    assert seals.check_message(message).status == "unsealed"
    assert seals.seal_campaign(campaign.pk) is None  # the last events have not settled yet
    seal = _seal(campaign)
    assert (
        seal.messages == 4
        and seal.events == CampaignMessageEvent.objects.filter(message__campaign=campaign).count()
    )
    entry = AuditEvent.objects.get(pk=seal.audit_event_id)
    assert entry.action == actions.CAMPAIGN_SEAL and entry.details["root"] == seal.root
    assert _seal(campaign) is None  # nothing new since
    assert seals.check_message(message).status == "intact"

    # A later legitimate event (a delivery report) does not disturb the seal.
    reports.apply_user_feedback(
        campaign.oa_id,
        reports.Feedback(message.tracking_id, "", timezone.now(), bad_report=True, stop_word=False, key="k2"),
    )
    check = seals.check_message(message)
    assert check.status == "intact" and check.later_events == 1

    # Someone with database access rewrites what a report said.
    event = message.events.filter(error_code=reports.USER_FEEDBACK).first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CampaignMessageEvent._meta.db_table} SET detail = %s WHERE id = %s",  # noqa: S608
            ["edited", event.pk],
        )
    assert seals.check_message(message).status == "tampered"
    untouched = CampaignMessage.objects.exclude(pk=message.pk).filter(campaign=campaign).first()
    assert seals.check_message(untouched).status == "tampered"  # same block of 1,000 messages


@pytest.mark.django_db(transaction=True)
def test_a_forged_seal_or_a_changed_consent_link_is_caught(sent_campaign):
    campaign, message, _grant = sent_campaign
    seal = _seal(campaign)
    CampaignMessage.objects.filter(pk=message.pk).update(consent_event_id=None)
    assert seals.check_message(message).status == "tampered"
    CampaignMessage.objects.filter(pk=message.pk).update(consent_event_id=_grant.pk)
    assert seals.check_message(message).status == "intact"
    blocks = [[first, last, "0" * 64] for first, last, _h in seal.blocks]
    CampaignSeal.objects.filter(pk=seal.pk).update(blocks=blocks, root=seals.root_of(blocks))
    assert seals.check_message(message).reason == "the seal does not match its audit entry"


@pytest.mark.django_db(transaction=True)
def test_the_periodic_job_seals_campaigns_with_new_events(sent_campaign, monkeypatch):
    campaign, _message, _grant = sent_campaign
    monkeypatch.setattr(seals, "SETTLE_SECONDS", -5)  # every event counts as settled
    assert seal_campaigns() == {"sealed": 1, "campaigns": [campaign.pk]}
    assert seal_campaigns() == {"sealed": 0, "campaigns": []}


@pytest.mark.django_db(transaction=True)
def test_the_auditor_pages_find_a_message_and_show_its_story_masked(sent_campaign, client, auditor, marketer):
    campaign, message, _grant = sent_campaign
    _seal(campaign)
    client.force_login(auditor)
    page = client.get(reverse("compliance:messages"), {"q": message.tracking_id})
    assert page.status_code == 200
    body = page.content.decode()
    assert reverse("compliance:story", args=[message.pk]) in body and message.phone not in body
    page = client.get(reverse("compliance:story", args=[message.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="seal-intact"' in body and WORDING in body and "quality" in body
    assert message.phone not in body and ("0" + message.phone[2:]) not in body
    assert client.get(reverse("compliance:story", args=[999_999])).status_code == 404
    client.force_login(marketer)
    assert client.get(reverse("compliance:story", args=[message.pk])).status_code == 403
