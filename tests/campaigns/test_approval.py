"""Maker-checker: who may approve, the SHA-256 approval hash and what voids it."""

import pytest

from campaigns import approval, composer
from campaigns.models import Campaign, CampaignApproval
from compliance import actions
from compliance.models import AuditEvent
from oas.models import MessageTemplate
from tests.campaigns.conftest import GOOD_MAPPING

pytestmark = pytest.mark.django_db
PHONES = ["84912345678", "84987654321", "84901234567"]


@pytest.fixture
def submitted(marketer, form_data):
    campaign = composer.create_draft(actor=marketer, data=form_data).campaign
    result = composer.submit_for_approval(campaign.pk, actor=marketer)
    assert result.ok, result.errors
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.AWAITING_APPROVAL
    return campaign


@pytest.fixture
def approved(submitted, quality_admin):
    approval.approve_campaign(submitted.pk, user=quality_admin, phones=PHONES)
    submitted.refresh_from_db()
    return submitted


def test_a_quality_admin_who_is_not_the_author_approves_and_it_is_scheduled(submitted, quality_admin):
    record = approval.approve_campaign(submitted.pk, user=quality_admin, phones=reversed(PHONES))
    submitted.refresh_from_db()
    assert submitted.status == Campaign.Status.SCHEDULED
    assert record.approver == quality_admin and record.recipients == 3
    assert record.approval_hash == approval.approval_hash(submitted, PHONES)  # order does not matter
    event = AuditEvent.objects.get(action=actions.CAMPAIGN_APPROVE)
    assert event.actor == "user:quality" and event.details["approval_hash"] == record.approval_hash
    assert approval.verify_approval(submitted, PHONES).ok


def test_the_author_cannot_approve_even_as_a_quality_admin(form_data, quality_admin):
    campaign = composer.create_draft(actor=quality_admin, data=form_data).campaign
    composer.submit_for_approval(campaign.pk, actor=quality_admin)
    with pytest.raises(approval.ApprovalRefused, match="author"):
        approval.approve_campaign(campaign.pk, user=quality_admin, phones=PHONES)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.AWAITING_APPROVAL
    assert not CampaignApproval.objects.exists()


def test_a_marketer_lacks_the_approval_capability(submitted, django_user_model):
    from django.contrib.auth.models import Group

    from zalo_admin.roles import MARKETER

    other = django_user_model.objects.create_user(username="marketer2", password="x")
    other.groups.add(Group.objects.get(name=MARKETER))
    with pytest.raises(approval.ApprovalRefused, match="quality admin"):
        approval.approve_campaign(submitted.pk, user=other, phones=PHONES)
    with pytest.raises(approval.ApprovalRefused):
        approval.reject_campaign(submitted.pk, user=other, reason="no")


def test_only_a_campaign_awaiting_approval_is_approved(marketer, form_data, quality_admin):
    draft = composer.create_draft(actor=marketer, data=form_data).campaign
    with pytest.raises(approval.ApprovalRefused):
        approval.approve_campaign(draft.pk, user=quality_admin, phones=PHONES)


def test_nobody_eligible_is_nothing_to_approve(submitted, quality_admin):
    with pytest.raises(approval.ApprovalRefused, match="eligible"):
        approval.approve_campaign(submitted.pk, user=quality_admin, phones=[])


def test_reject_needs_a_reason_and_the_author_edits_it_back_to_draft(
    submitted, quality_admin, marketer, form_data
):
    with pytest.raises(approval.ApprovalRefused):
        approval.reject_campaign(submitted.pk, user=quality_admin, reason="  ")
    approval.reject_campaign(submitted.pk, user=quality_admin, reason="Wrong audience")
    submitted.refresh_from_db()
    assert submitted.status == Campaign.Status.REJECTED and submitted.rejection_reason == "Wrong audience"
    assert AuditEvent.objects.get(action=actions.CAMPAIGN_REJECT).details["reason"] == "Wrong audience"
    composer.update_draft(submitted.pk, actor=marketer, data={**form_data, "name": "Fixed"})
    submitted.refresh_from_db()
    assert submitted.status == Campaign.Status.DRAFT
    assert composer.submit_for_approval(submitted.pk, actor=marketer).ok


def _assert_voided(campaign):
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert approval.live_approval(campaign) is None
    assert CampaignApproval.objects.get(campaign=campaign).voided_at is not None
    assert AuditEvent.objects.filter(
        action=actions.CAMPAIGN_APPROVAL_VOID, target_id=str(campaign.pk)
    ).exists()


def test_a_changed_mapping_voids_the_approval(approved, marketer, form_data):
    result = composer.update_draft(
        approved.pk,
        actor=marketer,
        data={**form_data, "map-customer_name-source": "constant", "map-customer_name-value": "Quý khách"},
    )
    assert result.ok and result.voided
    _assert_voided(approved)


def test_a_changed_option_voids_the_approval(approved, marketer, form_data):
    assert composer.update_draft(
        approved.pk, actor=marketer, data={**form_data, "validity_period_amount": "31"}
    ).voided
    _assert_voided(approved)


def test_a_changed_audience_choice_voids_the_approval(approved, marketer, form_data, contacts):
    from audiences.models import ContactList, ContactListMember

    other = ContactList.objects.create(name="VIP", created_by="system:test")
    ContactListMember.objects.create(contact_list=other, contact=contacts[0], added_by="system:test")
    data = {**form_data, "audience_lists": [form_data["audience_lists"][0], str(other.pk)]}
    assert composer.update_draft(approved.pk, actor=marketer, data=data).voided
    _assert_voided(approved)


def test_a_changed_eligible_set_fails_verification_and_the_recheck_voids(approved):
    check = approval.verify_approval(approved, PHONES[:2])
    assert not check.ok and check.approved_hash != check.current_hash
    assert approval.recheck_approval(approved.pk, phones=PHONES[:2]).ok is False
    _assert_voided(approved)


def test_a_new_template_version_fails_verification(approved):
    template = approved.template
    template.params = [*template.params, {"name": "extra", "type": "STRING", "require": False}]
    template.save()
    approved.refresh_from_db()
    assert not approval.verify_approval(approved, PHONES).ok
    approval.recheck_approval(approved.pk, phones=PHONES)
    _assert_voided(approved)


def test_a_renamed_campaign_keeps_its_approval(approved, marketer, form_data):
    result = composer.update_draft(approved.pk, actor=marketer, data={**form_data, "name": "Only the name"})
    assert result.ok and not result.voided
    approved.refresh_from_db()
    assert approved.status == Campaign.Status.SCHEDULED
    assert approval.verify_approval(approved, PHONES).ok


def test_an_unsendable_template_cannot_be_approved(submitted, quality_admin):
    MessageTemplate.objects.filter(pk=submitted.template_id).update(status=MessageTemplate.Status.DISABLED)
    with pytest.raises(approval.ApprovalRefused, match="sendable"):
        approval.approve_campaign(submitted.pk, user=quality_admin, phones=PHONES)


def test_the_hash_covers_every_kind_of_input(approved):
    base = approval.approval_hash(approved, PHONES)
    approved.mapping = {
        **approved.mapping,
        "order_code": {"source": "constant", "value": "X", "format": "none"},
    }
    assert approval.approval_hash(approved, PHONES) != base
    approved.refresh_from_db()
    approved.callback_data = "changed"
    assert approval.approval_hash(approved, PHONES) != base
    approved.refresh_from_db()
    assert approval.approval_hash(approved, PHONES + ["84900000000"]) != base
    assert approval.approval_hash(approved, PHONES) == base
    assert GOOD_MAPPING  # the fixture mapping is what was approved
