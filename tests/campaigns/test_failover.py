"""SMS failover for Zalo-direct OAs (campaigns.failover) through the sandbox's Infobip SMS API: no
report within the validity period -> one SMS with the campaign's mapped text; a late report first ->
no SMS; a report after it -> a timeline note; the cost ceiling, also under concurrent workers."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import failover, reports
from campaigns.models import Campaign, CampaignMessage, CampaignMessageEvent
from compliance.models import AuditEvent
from sandbox.testing import DEMO_INFOBIP_KEY
from tests.campaigns.test_reports import events, make_campaign, make_message
from tests.providers.conftest import make_oa

S = CampaignMessage.State
PHONES = [f"8491{3000000 + i:07d}" for i in range(40)]


@pytest.fixture
def sms_account(sb, settings):
    settings.SMS_FAILOVER_BASE_URL = sb.infobip_base
    settings.SMS_FAILOVER_API_KEY = DEMO_INFOBIP_KEY
    settings.SMS_FAILOVER_SENDER = "ZaloAdmin"
    settings.SMS_FAILOVER_GRACE_SECONDS = 0
    return sb


def failover_campaign(oa=None, **options) -> Campaign:
    options = {
        "sms_failover_enabled": True,
        "sms_failover_sender": "ZaloAdmin",
        "sms_failover_text": "Chào {{name}}, đơn {{order}} đã sẵn sàng",
        "sms_failover_mapping": {
            "name": {"source": "field", "key": "name"},
            "order": {"source": "constant", "value": "DH42"},
        },
        **options,
    }
    return make_campaign(oa or make_oa(), **options)


def overdue(campaign, n, **fields):
    past = timezone.now() - timedelta(minutes=5)
    return [make_message(campaign, phone=PHONES[i], valid_until=past, **fields) for i in range(n)]


def sms_ledger(sb):
    return sb.ledger(provider="infobip_sms", accepted="all")


def test_no_report_within_validity_sends_one_sms_with_the_mapped_text_and_never_again(sms_account, db):
    campaign = failover_campaign()
    [message] = overdue(campaign, 1)
    still_valid = make_message(campaign, phone=PHONES[20])  # its validity has not passed
    figures = failover.fail_over_campaign(campaign.pk)
    assert figures["sent"] == 1
    message.refresh_from_db()
    assert message.state == S.FAILED_OVER
    assert [(e.from_state, e.to_state, e.error_code) for e in events(message)] == [
        (S.ACCEPTED, S.FAILED_OVER, ""),
        (S.FAILED_OVER, S.FAILED_OVER, failover.SMS_ACCEPTED),
    ]
    [sms] = sms_ledger(sms_account)
    assert sms["message_id"] == f"{message.tracking_id}-sms"
    assert sms["recipient"] == message.phone
    assert "Chào Bình, đơn DH42 đã sẵn sàng" in str(sms)
    campaign.refresh_from_db()
    assert campaign.sms_failover_sent == 1
    # Running again (the periodic job, another worker) sends nothing more.
    assert failover.run_failover()["sent"] == 0
    assert len(sms_ledger(sms_account)) == 1
    still_valid.refresh_from_db()
    assert still_valid.state == S.ACCEPTED


def test_a_late_delivery_report_that_arrives_first_means_no_sms(sms_account, db):
    campaign = failover_campaign()
    [message] = overdue(campaign, 1)
    report = reports.DeliveryReport(reports.DELIVERED, timezone.now(), tracking_id=message.tracking_id)
    assert reports.apply_delivery_report(campaign.oa_id, report) == "delivered"
    assert failover.fail_over_campaign(campaign.pk)["sent"] == 0
    message.refresh_from_db()
    assert message.state == S.DELIVERED
    assert sms_ledger(sms_account) == []


def test_a_delivery_report_after_the_sms_is_a_late_report_on_the_timeline(sms_account, db):
    campaign = failover_campaign()
    [message] = overdue(campaign, 1)
    failover.fail_over_campaign(campaign.pk)
    report = reports.DeliveryReport(reports.DELIVERED, timezone.now(), tracking_id=message.tracking_id)
    assert reports.apply_delivery_report(campaign.oa_id, report) == "late"
    assert reports.apply_delivery_report(campaign.oa_id, report) == "duplicate"
    message.refresh_from_db()
    assert message.state == S.FAILED_OVER
    assert [e.error_code for e in events(message)][-1] == reports.LATE_REPORT
    assert len(sms_ledger(sms_account)) == 1


def test_beyond_the_ceiling_failover_stops_and_the_campaign_records_it_once(sms_account, db):
    campaign = failover_campaign(sms_failover_max=2)
    overdue(campaign, 5)
    figures = failover.fail_over_campaign(campaign.pk)
    assert (figures["sent"], figures["ceiling"]) == (2, 3)
    assert failover.fail_over_campaign(campaign.pk) == {
        "sent": 0,
        "rejected": 0,
        "unconfirmed": 0,
        "ceiling": 0,
    }
    campaign.refresh_from_db()
    assert campaign.sms_failover_sent == 2 and campaign.sms_failover_ceiling_reached
    counts = dict.fromkeys((S.ACCEPTED, S.FAILED_OVER), 0)
    for state in CampaignMessage.objects.filter(campaign=campaign).values_list("state", flat=True):
        counts[state] += 1
    assert counts == {S.ACCEPTED: 3, S.FAILED_OVER: 2}
    notes = CampaignMessageEvent.objects.filter(
        message__campaign=campaign, error_code=failover.FAILOVER_CEILING
    )
    assert notes.count() == 3
    assert AuditEvent.objects.filter(action="campaign.failover_ceiling").count() == 1
    assert len(sms_ledger(sms_account)) == 2


def test_an_infobip_oa_is_never_failed_over_by_us(sms_account, db):
    from oas.models import OfficialAccount

    oa = make_oa("ib-1", provider=OfficialAccount.Provider.INFOBIP, app_id="")
    campaign = failover_campaign(oa)
    overdue(campaign, 1)
    assert failover.fail_over_campaign(campaign.pk)["sent"] == 0
    assert failover.campaigns_due() == []
    assert sms_ledger(sms_account) == []


def test_an_sms_whose_outcome_is_unknown_is_unconfirmed_and_never_sent_again(sms_account, db, settings):
    campaign = failover_campaign()
    [message] = overdue(campaign, 1)
    settings.SMS_FAILOVER_BASE_URL = "http://127.0.0.1:9/infobip"  # nothing listens: refused connection
    figures = failover.fail_over_campaign(campaign.pk)
    message.refresh_from_db()
    assert message.state == S.FAILED_OVER
    assert figures["sent"] == 0 and figures["rejected"] + figures["unconfirmed"] == 1
    settings.SMS_FAILOVER_BASE_URL = sms_account.infobip_base
    assert failover.fail_over_campaign(campaign.pk)["sent"] == 0
    assert sms_ledger(sms_account) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_exceed_the_ceiling(sms_account):
    campaign = failover_campaign(sms_failover_max=7)
    overdue(campaign, 30)
    barrier = threading.Barrier(4)
    results, problems = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            for _ in range(3):
                results.append(failover.fail_over_campaign(campaign.pk, limit=4))
        except Exception as exc:  # reported below
            problems.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert problems == []
    campaign.refresh_from_db()
    assert campaign.sms_failover_sent == 7
    assert CampaignMessage.objects.filter(campaign=campaign, state=S.FAILED_OVER).count() == 7
    assert sum(r["sent"] for r in results) == 7
    sms_ids = [row["message_id"] for row in sms_ledger(sms_account)]
    assert len(sms_ids) == len(set(sms_ids)) == 7
