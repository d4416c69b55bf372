"""A started campaign moved through the dispatcher's own transitions and the reports' feedback path,
with hand-known figures (tests/campaigns/test_analytics*.py and tests/quotas/test_portfolio*.py).

Audience (7 recipients; p7 is in nothing):
- list A (lowest id): p0, p1, p2 from the import file "khach_tet.csv", p3 added by hand;
- list B: p3 (counted under A, the lower list id) and p4;
- segment "VIP" (vip = yes): p0 (already under list A), p5, p6.
At `t1` (start + 1 min) all seven are claimed and sent: p0 p1 p2 p3 p5 accepted, p4 rejected,
p6 unconfirmed. Delivered: p0 after 3 s, p1 after 40 s, p2 after 2 h, p5 after 10 min, p6 (its
report resolves the unconfirmed row) after 30 min; p3 is never reported. Bad reports: p1 (twice:
counted once) and p5.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from audiences.models import Contact, ContactImport, ContactList, ContactListMember, ContactSource, Segment
from campaigns import approval, dispatch, mapping, reports
from campaigns.models import Campaign, CampaignApproval, CampaignMessage
from oas.models import MessageTemplate, OfficialAccount
from quotas.services.rollups import record_sent

S = CampaignMessage.State
PHONES = [f"8491300000{i}" for i in range(8)]


@dataclass
class Scenario:
    oa: OfficialAccount
    template: MessageTemplate
    campaign: Campaign
    list_a: ContactList
    list_b: ContactList
    segment: Segment
    contact_import: ContactImport
    start: datetime
    t1: datetime
    ids: dict  # phone index -> message id


def build(quality_admin, *, oa=None, start: datetime | None = None, name="Tết orders") -> Scenario:
    start = start or timezone.now() - timedelta(hours=3)
    if oa is None:
        oa = OfficialAccount.objects.create(name="Analytics OA", zalo_oa_id="analytics-oa-1")
    template = MessageTemplate.objects.create(
        oa=oa, template_id=f"77{oa.pk:04d}{Campaign.objects.count()}", name="Order update",
        tag=MessageTemplate.Tag.TRANSACTION, params=[], status=MessageTemplate.Status.ENABLED,
    )  # fmt: skip
    manual = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="by hand", created_by="t")
    file_source = ContactSource.objects.create(
        kind=ContactSource.Kind.IMPORT, label="khach_tet.csv", created_by="t"
    )
    contact_import = ContactImport.objects.create(
        source=file_source, file_path="x", file_sha256="0" * 64, original_name="khach_tet.csv",
        encoding="utf-8", delimiter=",", created_by="t",
    )  # fmt: skip
    contacts = []
    for i, phone in enumerate(PHONES):
        contact, _created = Contact.objects.get_or_create(
            phone=phone,
            defaults={
                "name": f"Khách {i}",
                "source": file_source if i < 3 else manual,
                "attributes": {"vip": "yes"} if i in (0, 5, 6) else {},
            },
        )
        contacts.append(contact)
    suffix = Campaign.objects.count()
    list_a = ContactList.objects.create(name=f"Tết customers {suffix}", created_by="t")
    list_b = ContactList.objects.create(name=f"Walk-ins {suffix}", created_by="t")
    for i in (0, 1, 2):
        ContactListMember.objects.create(
            contact_list=list_a, contact=contacts[i], added_by="t", source_import=contact_import
        )
    ContactListMember.objects.create(contact_list=list_a, contact=contacts[3], added_by="t")
    ContactListMember.objects.create(contact_list=list_b, contact=contacts[3], added_by="t")
    ContactListMember.objects.create(contact_list=list_b, contact=contacts[4], added_by="t")
    segment = Segment.objects.create(
        name=f"VIP {suffix}",
        definition={
            "match": "all",
            "rules": [{"field": "attribute", "op": "equals", "key": "vip", "value": "yes"}],
        },
        created_by="t",
    )
    campaign = Campaign.objects.create(
        oa=oa, template=template, name=name, status=Campaign.Status.SCHEDULED,
        template_version=mapping.template_version(template),
    )  # fmt: skip
    campaign.audience_lists.add(list_a, list_b)
    campaign.audience_segments.add(segment)
    eligible = approval.eligible_phones(campaign)
    CampaignApproval.objects.create(
        campaign=campaign, approver=quality_admin, approver_name="quality", approved_at=start,
        approval_hash=approval.approval_hash(campaign, eligible), recipients=len(eligible),
    )  # fmt: skip
    outcome = dispatch.start_campaign(campaign.pk, now=start)
    assert outcome.started, outcome.reason
    ids = {
        PHONES.index(phone): pk
        for pk, phone in CampaignMessage.objects.filter(campaign=campaign).values_list("pk", "phone")
    }
    t1 = start + timedelta(minutes=1)
    scenario = Scenario(oa, template, campaign, list_a, list_b, segment, contact_import, start, t1, ids)
    _send(scenario)
    return scenario


def _send(sc: Scenario) -> None:
    ids, t1 = sc.ids, sc.t1
    every = sorted(ids.values())
    dispatch.transition(every, S.QUEUED, S.CLAIMED, now=t1)
    dispatch.transition(every, S.CLAIMED, S.SENDING, now=t1, attempts_delta=1)
    after = t1 + timedelta(seconds=1)
    ok = {ids[i]: {"provider_message_id": f"z-{ids[i]}"} for i in (0, 1, 2, 3, 5)}
    dispatch.transition([], S.SENDING, S.ACCEPTED, now=after, per_row=ok)
    # what the dispatcher's batch records with it (campaigns.dispatch._send_and_record)
    record_sent(sc.oa.pk, after, len(ok), sc.campaign.pk, sc.template.pk, int(sc.template.tag))
    dispatch.transition(
        [ids[4]], S.SENDING, S.FAILED, now=after, values={"error_code": "RECIPIENT_NOT_ON_ZALO"}
    )
    dispatch.transition(
        [ids[6]], S.SENDING, S.UNCONFIRMED, now=after, values={"error_code": "SEND_OUTCOME_UNKNOWN"}
    )
    for i, latency in ((0, timedelta(seconds=3)), (1, timedelta(seconds=40)), (2, timedelta(hours=2)),
                       (5, timedelta(minutes=10)), (6, timedelta(minutes=30))):  # fmt: skip
        tracking = CampaignMessage.objects.get(pk=ids[i]).tracking_id
        report = reports.DeliveryReport(outcome=reports.DELIVERED, at=t1 + latency, tracking_id=tracking)
        assert reports.apply_delivery_report(sc.oa.pk, report) == "delivered"
    for i in (1, 1, 5):
        tracking = CampaignMessage.objects.get(pk=ids[i]).tracking_id
        feedback = reports.Feedback(
            tracking_id=tracking, provider_message_id="", at=t1 + timedelta(hours=2, minutes=30),
            bad_report=True, stop_word=False,
        )  # fmt: skip
        reports.apply_user_feedback(sc.oa.pk, feedback)
