"""Evidence packs (compliance.evidence): their contents against a campaign sent through the sandbox,
the verifier catching every kind of tampering, the build job with its progress, the command's
exit statuses as a process."""

import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile

import django_rq
import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from rq import SimpleWorker

from audiences.models import phone_digest
from campaigns import approval
from campaigns.models import CampaignMessage
from compliance import actions, evidence
from compliance.models import AuditEvent, EvidencePack
from tests.compliance.evidence_helpers import (
    PACK_FILES,
    build,
    path_of,
    read_csv,
    read_json,
    rewrite,
    sent_campaign,
)
from zalo_admin.lib.phones import mask_phone

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def campaign_pack(quality_admin, sb):
    campaign, grant = sent_campaign(quality_admin)
    return campaign, grant, build(campaign_id=campaign.pk)


def test_a_campaign_pack_holds_the_approval_messages_events_consent_and_audit_entries(campaign_pack):
    campaign, grant, pack = campaign_pack
    with zipfile.ZipFile(path_of(pack)) as archive:
        assert set(archive.namelist()) == PACK_FILES
    manifest = read_json(pack, "manifest.json")
    assert manifest["covers"] == {
        "scope": "campaign", "subject": f"#{campaign.pk}", "campaigns": [campaign.pk], "messages": 3,
    }  # fmt: skip
    assert manifest["created_by"] == "user:auditor" and manifest["signature"] == pack.manifest_signature
    assert {entry["name"] for entry in manifest["files"]} == PACK_FILES - {"manifest.json"}

    [document] = read_json(pack, "campaigns.json")
    live = approval.live_approval(campaign)
    assert document["approvals"][0]["approver"] == "quality"
    assert document["approvals"][0]["approval_hash"] == live.approval_hash
    check = document["approval_check"]
    assert check["matches"] is True and check["current_hash"] == live.approval_hash
    assert check["started_with_hash"] == live.approval_hash and check["start_matches"] is True

    messages = {row["tracking_id"]: row for row in read_csv(pack, "messages.csv")}
    rows = list(CampaignMessage.objects.filter(campaign=campaign).order_by("phone"))
    assert set(messages) == {row.tracking_id for row in rows}
    first = messages[rows[0].tracking_id]
    assert first["phone"] == mask_phone(rows[0].phone) and rows[0].phone not in json.dumps(messages)
    assert first["phone_digest"] == phone_digest(rows[0].phone)
    assert first["state"] == "delivered" and first["delivered_at"] and first["accepted_at"]
    assert first["provider_message_id"] == rows[0].provider_message_id
    assert json.loads(first["template_data"]) == rows[0].template_data
    assert (
        first["template_data_sha256"]
        == hashlib.sha256(
            json.dumps(
                rows[0].template_data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
        ).hexdigest()
    )
    assert (first["consent_basis"], first["consent_event_id"]) == ("granted", str(grant.pk))
    assert messages[rows[1].tracking_id]["consent_basis"] == "not_required"  # transactional, no ledger

    events = read_csv(pack, "message_events.csv")
    kinds = {(row["tracking_id"], row["kind"]) for row in events}
    assert (rows[0].tracking_id, "delivery_report") in kinds
    assert (rows[1].tracking_id, "feedback") in kinds
    assert {row["to_state"] for row in events if row["kind"] == "transition"} >= {
        "claimed",
        "sending",
        "accepted",
    }

    [consent] = read_csv(pack, "consent_events.csv")
    assert consent["consent_event_id"] == str(grant.pk) and consent["evidence_text"] == "signed form #7"
    assert consent["evidence_sha256"] == hashlib.sha256(b"signed form #7").hexdigest()

    audit = read_csv(pack, "audit_entries.csv")
    by_action = {row["action"]: row for row in audit}
    assert {actions.CAMPAIGN_START, actions.CONSENT_GRANT} <= set(by_action)
    start = by_action[actions.CAMPAIGN_START]
    assert json.loads(start["details"])["approval_hash"] == live.approval_hash
    stored = AuditEvent.objects.get(pk=start["entry_id"])
    assert (start["hash"], start["prev_hash"], start["seq"]) == (
        stored.hash,
        stored.prev_hash,
        str(stored.seq),
    )
    assert all(row["signature_valid"] == "True" for row in audit)

    verification = read_json(pack, "audit_verification.json")
    assert verification["latest_verification"]["intact"] is True
    assert verification["newest_checkpoint"]["number"] == 1
    assert evidence.verify_pack(path_of(pack)).intact


def test_the_build_is_audited_with_the_zip_digest(campaign_pack):
    _campaign, _grant, pack = campaign_pack
    entry = AuditEvent.objects.get(action=actions.EVIDENCE_PACK_BUILD, target_id=str(pack.pk))
    assert entry.actor == "system:evidence"
    assert entry.details["sha256"] == hashlib.sha256(path_of(pack).read_bytes()).hexdigest() == pack.sha256


def test_a_phone_pack_and_a_date_range_pack_find_the_same_message(campaign_pack):
    campaign, _grant, _pack = campaign_pack
    message = CampaignMessage.objects.filter(campaign=campaign).order_by("phone").first()
    phone_pack = evidence.request_pack(
        user=None, scope="phone", reason="customer complaint", phone=message.phone
    )
    assert phone_pack.phone_masked == mask_phone(message.phone)
    built = evidence.build_pack(phone_pack.pk) if phone_pack.status == "queued" else phone_pack
    built.refresh_from_db()
    assert built.phone == ""  # the plain phone is kept (encrypted) only until the pack is built
    [row] = read_csv(built, "messages.csv")
    assert row["tracking_id"] == message.tracking_id
    day = message.created_at.date()
    period = evidence.request_pack(user=None, scope="period", reason="monthly", day_from=day, day_to=day)
    evidence.build_pack(period.pk)
    period.refresh_from_db()
    assert len(read_csv(period, "messages.csv")) == 3


# --- tampering -------------------------------------------------------------------------------------


def problems(path):
    return evidence.verify_pack(path).problems


def test_verification_catches_one_changed_byte(campaign_pack, tmp_path):
    _campaign, _grant, pack = campaign_pack

    def one_byte(data):
        at = data.index(b",delivered,")
        return data[:at] + b",Delivered," + data[at + 11 :]

    altered = rewrite(path_of(pack), tmp_path / "a.zip", change={"messages.csv": one_byte})
    assert problems(altered) == ["messages.csv: altered (SHA-256 differs from the manifest)"]


def test_verification_catches_a_flipped_byte_inside_the_zip(campaign_pack, tmp_path):
    _campaign, _grant, pack = campaign_pack
    data = bytearray(path_of(pack).read_bytes())
    with zipfile.ZipFile(path_of(pack)) as archive:
        info = archive.getinfo("consent_events.csv")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    at = info.header_offset + 30 + name_length + extra_length + 5  # inside its compressed data
    data[at] ^= 0x01
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(data))
    [problem] = problems(flipped)
    assert problem.startswith("consent_events.csv: altered")


def test_verification_catches_a_missing_file_and_an_added_file(campaign_pack, tmp_path):
    _campaign, _grant, pack = campaign_pack
    missing = rewrite(path_of(pack), tmp_path / "m.zip", drop={"message_events.csv"})
    assert problems(missing) == ["message_events.csv: missing"]
    added = rewrite(path_of(pack), tmp_path / "x.zip", add={"notes.csv": b"who,what\n"})
    assert problems(added) == ["notes.csv: added (not in the manifest)"]
    no_manifest = rewrite(path_of(pack), tmp_path / "n.zip", drop={"manifest.json"})
    assert problems(no_manifest) == ["manifest.json: missing (incomplete pack, or not an evidence pack)"]


def test_verification_catches_a_forged_manifest_signature(campaign_pack, tmp_path):
    _campaign, _grant, pack = campaign_pack

    def retarget(data):
        manifest = json.loads(data)
        manifest["created_by"] = "user:someone-else"
        return json.dumps(manifest).encode()

    edited = rewrite(path_of(pack), tmp_path / "e.zip", change={"manifest.json": retarget})
    assert problems(edited) == ["manifest.json: its signature does not match (forged or altered)"]

    def resign_with_another_key(data):
        manifest = json.loads(data)
        manifest["files"] = [entry for entry in manifest["files"] if entry["name"] != "audit_entries.csv"]
        with override_settings(AUDIT_SIGNING_KEY="a key the forger chose"):
            manifest["signature"] = evidence.manifest_signature(manifest)
        return json.dumps(manifest).encode()

    forged = rewrite(
        path_of(pack),
        tmp_path / "f.zip",
        change={"manifest.json": resign_with_another_key},
        drop={"audit_entries.csv"},
    )
    assert problems(forged) == ["manifest.json: its signature does not match (forged or altered)"]


def test_bad_input_is_refused_as_such(tmp_path):
    with pytest.raises(evidence.BadPackFile, match="no such file"):
        evidence.verify_pack(tmp_path / "nothing.zip")
    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(evidence.BadPackFile, match="not a ZIP file"):
        evidence.verify_pack(tmp_path / "text.zip")


def test_the_command_exit_statuses_as_a_process(campaign_pack, tmp_path):
    _campaign, _grant, pack = campaign_pack
    env = {**os.environ, "AUDIT_SIGNING_KEY": settings.AUDIT_SIGNING_KEY}

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", "verify_evidence_pack", *map(str, args)],
            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip

    intact = run(path_of(pack))
    assert intact.returncode == 0, intact.stderr
    assert f"evidence pack intact: pack #{pack.pk}" in intact.stdout
    missing = rewrite(path_of(pack), tmp_path / "m.zip", drop={"messages.csv"})
    broken = run(missing)
    assert broken.returncode == 1
    assert broken.stderr.strip() == "evidence pack NOT intact: messages.csv: missing"
    (tmp_path / "text.zip").write_text("not a zip")
    for args, said in (((), "give the pack's file"), ((tmp_path / "text.zip",), "is not a ZIP file"),
                       ((tmp_path / "none.zip",), "no such file")):  # fmt: skip
        bad = run(*args)
        assert bad.returncode == 2, (args, bad.stderr)
        assert said in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert "Traceback" not in bad.stderr


# --- the job ---------------------------------------------------------------------------------------


PROGRESS_LOG = """
CREATE TABLE h8_pack_progress (rows_written bigint, stage text);
CREATE FUNCTION h8_log_pack_progress() RETURNS trigger AS $$
BEGIN INSERT INTO h8_pack_progress VALUES (NEW.rows_written, NEW.stage); RETURN NEW; END; $$ LANGUAGE plpgsql;
CREATE TRIGGER h8_pack_progress AFTER UPDATE ON compliance_evidencepack
    FOR EACH ROW EXECUTE FUNCTION h8_log_pack_progress();
"""


@pytest.fixture
def progress_log():
    """Every saved state of a pack's progress, as the database saw it (a trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(PROGRESS_LOG)
    yield lambda: _read("SELECT rows_written, stage FROM h8_pack_progress")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER h8_pack_progress ON compliance_evidencepack")
        cursor.execute("DROP FUNCTION h8_log_pack_progress(); DROP TABLE h8_pack_progress")


def _read(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_the_job_builds_the_pack_and_saves_its_progress_as_it_goes(
    quality_admin, sb, settings, monkeypatch, progress_log
):
    campaign, _grant = sent_campaign(quality_admin, n=5)
    settings.JOBS_IN_PROCESS = False
    monkeypatch.setattr(evidence, "CHUNK", 3)  # small chunks, progress saved after each
    monkeypatch.setattr(evidence, "PROGRESS_EVERY_SECONDS", 0)
    queue = django_rq.get_queue("default")
    queue.empty()  # the dispatcher's own kicks
    pack = evidence.request_pack(user=None, scope="campaign", reason="regulator #12", campaign_id=campaign.pk)
    assert pack.status == EvidencePack.Status.QUEUED
    assert len(queue) == 1
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    pack.refresh_from_db()
    assert pack.status == EvidencePack.Status.DONE and pack.rows_written == pack.rows_expected > 5
    saved = progress_log()
    written = [rows for rows, _stage in saved]
    assert written == sorted(written)
    assert len({rows for rows in written if 0 < rows < pack.rows_expected}) >= 3
    assert {stage for _rows, stage in saved} >= {"messages.csv", "message_events.csv", "audit_entries.csv"}
    assert evidence.build_pack(pack.pk) is None  # run twice: nothing more
