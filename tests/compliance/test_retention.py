"""Retention (compliance.retention): a dry run counts and changes nothing, a real run clears,
pseudonymises and trims what is old enough and keeps hashes in their place, audited; the audit
chain and an evidence pack made before it still verify, and a pack made after it shows what
retention did."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from audiences import data_requests
from audiences.models import phone_digest
from campaigns.models import CampaignMessage, CampaignMessageEvent
from compliance import actions, evidence, retention
from compliance.integrity import create_checkpoint, verify_audit_log
from compliance.models import AuditEvent, EvidencePack
from providers.models import WebhookEvent
from tests.compliance.evidence_helpers import build, path_of, read_csv, read_json, sent_campaign

pytestmark = pytest.mark.django_db(transaction=True)
S = CampaignMessage.State


def age(queryset, days):
    """Make rows `days` old (created_at is auto_now_add: set it afterwards)."""
    queryset.update(created_at=timezone.now() - timedelta(days=days))


def old_webhook(
    status, days=40, body='{"event_name":"user_received_message","recipient":{"id":"84912000000"}}'
):
    event = WebhookEvent.objects.create(
        provider="zalo", event_name="user_received_message", unique_key=f"k-{status}-{days}",
        raw_body=body, status=status,
    )  # fmt: skip
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(days=days))
    return event


def test_months_before_keeps_the_day_or_the_months_last_day():
    assert retention.months_before(datetime(2026, 3, 31, 5, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 5, tzinfo=UTC
    )
    assert retention.months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(
        2024, 12, 15, tzinfo=UTC
    )
    assert retention.pseudonym(1234) == "x00000004d2"


def test_a_dry_run_counts_what_a_real_run_removes_and_changes_nothing(quality_admin, sb, capsys):
    campaign, _grant = sent_campaign(quality_admin, n=4)
    rows = list(CampaignMessage.objects.filter(campaign=campaign).order_by("pk"))
    age(CampaignMessage.objects.filter(pk__in=[r.pk for r in rows[:3]]), 400)  # > 12 months and > 90 days
    CampaignMessage.objects.filter(pk=rows[2].pk).update(state=S.QUEUED)  # old but never sent: kept
    before = {r.pk: (r.phone, r.template_data) for r in CampaignMessage.objects.all()}
    processed, waiting = old_webhook("processed"), old_webhook("received")
    old_pack = build(campaign_id=campaign.pk)
    EvidencePack.objects.filter(pk=old_pack.pk).update(finished_at=timezone.now() - timedelta(days=31))
    audit_before = AuditEvent.objects.count()

    call_command("run_retention", "--dry-run")
    out = capsys.readouterr().out
    assert "message_template_data: would remove 2" in out and "message_phones: would remove 2" in out
    assert "report_payloads: would remove 1" in out and "evidence_pack_files: would remove 1" in out
    assert "dry run: nothing changed (6 would be removed)" in out
    assert {r.pk: (r.phone, r.template_data) for r in CampaignMessage.objects.all()} == before
    assert AuditEvent.objects.count() == audit_before and path_of(old_pack).is_file()

    report = retention.run_retention()
    assert report.counts == {
        "message_template_data": 2, "message_phones": 2, "report_payloads": 1, "evidence_pack_files": 1,
    }  # fmt: skip
    for row in rows[:2]:
        row.refresh_from_db()
        phone, data = before[row.pk]
        assert row.template_data == {} and row.phone == retention.pseudonym(row.pk)
        notes = dict(
            CampaignMessageEvent.objects.filter(message=row, actor="system:retention").values_list(
                "error_code", "detail"
            )
        )
        assert notes == {
            retention.CONTENT_CLEARED: "template_data_sha256=" + retention.content_digest(data),
            retention.PHONE_PSEUDONYMISED: "phone_digest=" + phone_digest(phone),
        }
    untouched = CampaignMessage.objects.filter(pk__in=[rows[2].pk, rows[3].pk])
    assert {r.pk: (r.phone, r.template_data) for r in untouched} == {
        pk: before[pk] for pk in (rows[2].pk, rows[3].pk)
    }
    processed.refresh_from_db()
    waiting.refresh_from_db()
    assert (
        processed.raw_body
        == retention.trimmed_body('{"event_name":"user_received_message","recipient":{"id":"84912000000"}}')
        and "84912000000" not in processed.raw_body
    )
    assert waiting.raw_body.startswith('{"event_name"')  # not processed yet: kept
    assert not path_of(old_pack).exists()
    entry = AuditEvent.objects.get(action=actions.RETENTION_RUN)
    assert entry.actor == "system:retention" and entry.details["message_phones"] == 2

    again = retention.run_retention()
    assert again.total == 0  # nothing left to remove: each kind is done once


def test_the_chain_and_a_pack_made_before_retention_still_verify_and_a_pack_after_shows_what_it_did(
    quality_admin, sb
):
    campaign, grant = sent_campaign(quality_admin)
    before = build(campaign_id=campaign.pk)
    first = CampaignMessage.objects.filter(campaign=campaign).order_by("phone").first()
    phone = first.phone
    age(CampaignMessage.objects.filter(campaign=campaign), 400)

    assert retention.run_retention().counts["message_phones"] == 3
    create_checkpoint()
    assert verify_audit_log().intact  # the log was never edited: it names phones masked only
    assert evidence.verify_pack(path_of(before)).intact  # the pack is a file: what it proved stays proven

    after = build(campaign_id=campaign.pk)
    old_rows = {row["message_id"]: row for row in read_csv(before, "messages.csv")}
    new_rows = {row["message_id"]: row for row in read_csv(after, "messages.csv")}
    for message_id, row in new_rows.items():
        assert row["phone"] == retention.pseudonym(int(message_id)) and row["template_data"] == ""
        # What must stay provable stays, as hashes equal to what the earlier pack held.
        assert row["template_data_sha256"] == old_rows[message_id]["template_data_sha256"] != ""
        assert row["phone_digest"] == old_rows[message_id]["phone_digest"] != ""
        assert "template data cleared" in row["retention"] and "phone pseudonymised" in row["retention"]
        assert row["consent_basis"] == old_rows[message_id]["consent_basis"]
    check = read_json(after, "campaigns.json")[0]["approval_check"]
    assert check["matches"] is None and "pseudonymised" in check["note"]
    assert check["started_with_hash"] == check["approval_hash"] and check["start_matches"] is True
    assert {row["kind"] for row in read_csv(after, "message_events.csv")} >= {"retention", "delivery_report"}

    # A phone pack still finds the person's pseudonymised message, through the digest kept.
    by_phone = build(scope="phone", phone=phone, phone_masked="0912***000", phone_hash=phone_digest(phone))
    assert [row["tracking_id"] for row in read_csv(by_phone, "messages.csv")] == [first.tracking_id]
    assert [row["consent_event_id"] for row in read_csv(by_phone, "consent_events.csv")] == [str(grant.pk)]


def test_an_erasure_leaves_the_chain_verifiable_too(quality_admin, sb):
    campaign, _grant = sent_campaign(quality_admin)
    before = build(campaign_id=campaign.pk)
    message = CampaignMessage.objects.filter(campaign=campaign).order_by("phone").first()
    data_requests.erase_person(message.phone, "system:test")
    create_checkpoint()
    assert verify_audit_log().intact
    assert evidence.verify_pack(path_of(before)).intact
    after = build(campaign_id=campaign.pk)
    [row] = [r for r in read_csv(after, "messages.csv") if r["message_id"] == str(message.pk)]
    assert row["phone"].startswith("x") and row["phone_digest"] == "" and row["template_data"] == ""
