"""The audience ledgers are asked again when a batch is about to leave: a withdrawal, a
suppression or an erasure committed after the campaign started stops that recipient's message."""

import pytest
from django.utils import timezone

from audiences import services
from audiences.data_requests import ERASED, erase_person
from audiences.models import ConsentEvent, Contact, ContactSource, Purpose, Suppression
from campaigns import dispatch
from campaigns.models import CampaignMessage, CampaignMessageEvent
from quotas.models import DailyQuotaUsage
from tests.campaigns.test_dispatch import drain, make_campaign, phones, states

S = CampaignMessage.State


def _ledger_phones(sb, campaign) -> list[str]:
    ours = dict(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", "phone"))
    return [ours[row["tracking_id"]] for row in sb.ledger() if row["tracking_id"] in ours]


@pytest.mark.django_db(transaction=True)
def test_withdrawal_suppression_and_erasure_after_the_start_stop_those_messages(quality_admin, sb, settings):
    settings.DISPATCH_BATCH_SIZE = 2
    campaign = make_campaign(8, quality_admin=quality_admin)
    assert dispatch.start_campaign(campaign.pk).started
    assert dispatch.run_batch(campaign.pk).kind == "sent"  # the first two leave
    withdrawn, suppressed, erased = phones(8)[3], phones(8)[4], phones(8)[5]
    services.withdraw_consent(
        actor="system:test",
        contact=Contact.objects.get(phone=withdrawn),
        purpose=Purpose.TRANSACTIONAL,
        channel=ConsentEvent.Channel.OPT_OUT_REPLY,
    )
    services.suppress_phone(
        actor="system:test", phone=suppressed, reason="asked by phone", source=Suppression.Source.MANUAL
    )
    erase_person(erased, "system:test")

    drain(campaign)

    assert states(campaign) == {S.ACCEPTED: 5, S.FAILED: 3}
    sent = _ledger_phones(sb, campaign)
    assert sorted(sent) == sorted(p for p in phones(8) if p not in (withdrawn, suppressed, erased))
    refused = dict(
        CampaignMessage.objects.filter(campaign=campaign, state=S.FAILED).values_list("phone", "error_code")
    )
    assert refused[withdrawn] == refused[suppressed] == dispatch.REFUSED_AT_SEND
    assert list(refused.values()).count(ERASED) == 1  # the erased row now carries a pseudonym
    details = set(
        CampaignMessageEvent.objects.filter(
            message__campaign=campaign, to_state=S.FAILED, message__phone__in=[withdrawn, suppressed]
        ).values_list("detail", flat=True)
    )
    assert {d.split(":")[0] for d in details} == {services.REFUSED_WITHDRAWN, services.REFUSED_SUPPRESSED}
    # The quota of the stopped messages is released: only what left stays reserved.
    assert sum(DailyQuotaUsage.objects.filter(oa=campaign.oa).values_list("reserved", flat=True)) == 5


@pytest.mark.django_db(transaction=True)
def test_an_erasure_between_claim_and_send_wins_over_the_claim(quality_admin, sb):
    campaign = make_campaign(3, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    claimed = dispatch._claim(campaign.pk, 10, "worker-a", timezone.now(), first_slice=False)
    assert len(claimed) == 3
    erase_person(phones(3)[1], "system:test")
    # The worker's conditional move to `sending` (its point of no return) leaves the erased row out.
    moved = dispatch.transition([row["id"] for row in claimed], S.CLAIMED, S.SENDING, require_running=True)
    assert len(moved) == 2
    erased_row = CampaignMessage.objects.get(campaign=campaign, error_code=ERASED)
    assert erased_row.state == S.FAILED and erased_row.pk not in moved and not erased_row.claimed_by


@pytest.mark.django_db
def test_refusals_now_answers_like_may_send_for_each_phone(quality_admin):
    from oas.models import OfficialAccount

    oa = OfficialAccount.objects.create(name="OA", zalo_oa_id="oa-refusals")
    source = ContactSource.objects.create(kind="manual", label="t", created_by="system:test")
    granted, withdrawn, unknown, suppressed = phones(4, start=500)
    for phone in (granted, withdrawn):
        contact = services.create_contact(actor="system:test", phone=phone, source=source)
        services.grant_consent(
            actor="system:test",
            contact=contact,
            purpose=Purpose.MARKETING,
            source="form",
            collector="shop",
            wording="Đồng ý nhận tin khuyến mãi",
            evidence_text="signed form",
        )
    services.withdraw_consent(
        actor="system:test",
        contact=Contact.objects.get(phone=withdrawn),
        purpose=Purpose.MARKETING,
        channel=ConsentEvent.Channel.MANUAL,
    )
    services.suppress_phone(
        actor="system:test", phone=suppressed, reason="r", source=Suppression.Source.MANUAL
    )
    batch = [granted, withdrawn, unknown, suppressed, "0912345678"]
    for purpose in (Purpose.MARKETING, Purpose.TRANSACTIONAL):
        refusals = services.refusals_now(batch, purpose, oa)
        for phone in batch:
            single = services.may_send(phone, purpose, oa)
            assert (phone not in refusals) == single.allowed, (phone, purpose)
            if phone in refusals:
                assert refusals[phone].reason_code == single.reason_code
