"""campaigns.services: the one writer of campaign status, reached from oas and quotas by hooks."""

from datetime import date

import pytest

from campaigns.models import Campaign
from campaigns.services import pause_campaigns
from compliance.models import AuditEvent
from oas.models import MessageTemplate
from tests.providers.conftest import make_oa
from zalo_admin import hooks

Status = Campaign.Status
Tag = MessageTemplate.Tag


@pytest.fixture
def oa(db):
    return make_oa()


def make_campaign(oa, status, tag=Tag.TRANSACTION, template_id="t-1") -> Campaign:
    template, _ = MessageTemplate.objects.get_or_create(
        oa=oa, template_id=template_id, defaults={"name": template_id, "tag": tag}
    )
    return Campaign.objects.create(oa=oa, template=template, name=f"{status} {template_id}", status=status)


def test_pause_campaigns_pauses_only_what_would_send_and_returns_those_ids(oa):
    running, scheduled = make_campaign(oa, Status.RUNNING), make_campaign(oa, Status.SCHEDULED)
    draft, done = make_campaign(oa, Status.DRAFT), make_campaign(oa, Status.COMPLETED)
    assert pause_campaigns(Campaign.objects.filter(oa=oa), "because", "system:test") == [
        running.pk,
        scheduled.pk,
    ]
    assert {c.pk: c.status for c in Campaign.objects.all()} == {
        running.pk: Status.PAUSED,
        scheduled.pk: Status.PAUSED,
        draft.pk: Status.DRAFT,
        done.pk: Status.COMPLETED,
    }
    audited = AuditEvent.objects.filter(action="campaign.pause").order_by("pk")
    assert [(e.target_id, e.actor) for e in audited] == [
        (str(running.pk), "system:test"),
        (str(scheduled.pk), "system:test"),
    ]
    assert pause_campaigns(Campaign.objects.filter(oa=oa), "again", "system:test") == []


def test_an_oa_that_stopped_sending_has_its_campaigns_paused_through_the_hook(oa):
    other = make_oa("999")
    mine, theirs = make_campaign(oa, Status.RUNNING), make_campaign(other, Status.RUNNING, template_id="t-2")
    assert hooks.emit(hooks.OA_SENDS_STOPPED, oa_id=oa.pk, reason="kill switch", actor="system:ops") == [
        [mine.pk]
    ]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.pause_reason, theirs.status) == (Status.PAUSED, "kill switch", Status.RUNNING)


def test_an_unsendable_template_has_its_campaigns_paused_through_the_hook(oa):
    a, b = (
        make_campaign(oa, Status.SCHEDULED, template_id="a"),
        make_campaign(oa, Status.RUNNING, template_id="b"),
    )
    results = hooks.emit(
        hooks.TEMPLATE_UNSENDABLE, template_id=a.template_id, reason="disabled", actor="system:x"
    )
    assert [paused for paused in results if paused] == [[a.pk]]  # (the alerts receiver returns [])
    assert Campaign.objects.get(pk=b.pk).status == Status.RUNNING


def test_a_guardrail_trip_pauses_only_the_oas_running_marketing_campaigns(oa):
    marketing = make_campaign(oa, Status.RUNNING, Tag.MARKETING, "m")
    scheduled_marketing = make_campaign(oa, Status.SCHEDULED, Tag.MARKETING, "m")
    transactional = make_campaign(oa, Status.RUNNING, Tag.TRANSACTION, "t")
    paused = hooks.emit(
        hooks.GUARDRAIL_TRIPPED,
        oa_id=oa.pk,
        day=date(2026, 5, 1),
        reason="guardrail",
        actor="system:guardrail",
    )
    assert paused == [[marketing.pk]]
    statuses = dict(Campaign.objects.values_list("pk", "status"))
    assert (
        statuses[scheduled_marketing.pk] == Status.SCHEDULED and statuses[transactional.pk] == Status.RUNNING
    )
