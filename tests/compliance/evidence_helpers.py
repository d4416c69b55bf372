"""Shared by the evidence-pack and retention tests: a campaign sent through the sandbox with a
consent grant, a delivery report and a feedback, and readers of a pack's files."""

import csv
import io
import json
import zipfile
from datetime import timedelta

from django.utils import timezone

from audiences.models import Contact, Purpose
from audiences.services import grant_consent
from campaigns import dispatch, reports
from campaigns.models import CampaignMessage
from compliance import evidence
from compliance.integrity import create_checkpoint, verify_audit_log
from compliance.models import EvidencePack
from tests.campaigns.test_dispatch import drain, make_campaign

PACK_FILES = {
    "manifest.json",
    "campaigns.json",
    "messages.csv",
    "message_events.csv",
    "consent_events.csv",
    "audit_entries.csv",
    "audit_verification.json",
}


def sent_campaign(quality_admin, n=3):
    """A campaign started and drained through the sandbox: the first contact granted consent with
    text evidence before the start, the first message delivered by a report, the second got a
    user's feedback; the audit log checkpointed and fully verified."""
    campaign = make_campaign(n, quality_admin=quality_admin)
    first = Contact.objects.order_by("phone").first()
    grant = grant_consent(
        actor="system:test", contact=first, purpose=Purpose.TRANSACTIONAL, source="shop counter",
        collector="Lan", wording="Nhận tin xác nhận đơn hàng", evidence_text="signed form #7",
        occurred_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip
    assert dispatch.start_campaign(campaign.pk).started
    drain(campaign)
    rows = list(CampaignMessage.objects.filter(campaign=campaign).order_by("phone"))
    reports.apply_delivery_report(
        campaign.oa_id,
        reports.DeliveryReport(outcome=reports.DELIVERED, at=timezone.now(), tracking_id=rows[0].tracking_id),
    )
    reports.apply_user_feedback(
        campaign.oa_id,
        reports.Feedback(
            tracking_id=rows[1].tracking_id, provider_message_id="", at=timezone.now(),
            bad_report=False, stop_word=False, text="Cảm ơn", key="k1",
        ),
    )  # fmt: skip
    create_checkpoint()
    verify_audit_log()
    return campaign, grant


def build(scope="campaign", **fields) -> EvidencePack:
    pack = EvidencePack.objects.create(requested_by_name="user:auditor", reason="test", scope=scope, **fields)
    built = evidence.build_pack(pack.pk)
    assert built.status == EvidencePack.Status.DONE, built.error
    return built


def path_of(pack):
    return evidence.pack_path(pack.file_name)


def read_csv(pack_or_path, name) -> list[dict]:
    path = pack_or_path if not isinstance(pack_or_path, EvidencePack) else path_of(pack_or_path)
    with zipfile.ZipFile(path) as archive:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def read_json(pack_or_path, name):
    path = pack_or_path if not isinstance(pack_or_path, EvidencePack) else path_of(pack_or_path)
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(name))


def rewrite(source, target, *, change=None, drop=(), add=None):
    """A copy of the ZIP at `source`: `change` maps a member name to a function of its bytes,
    `drop` leaves members out, `add` maps new member names to bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            data = old.read(info.filename)
            if change and info.filename in change:
                data = change[info.filename](data)
            new.writestr(info.filename, data)
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return target
