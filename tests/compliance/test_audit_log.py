"""The audit log resists whoever holds the database role but not AUDIT_SIGNING_KEY.

Tamper tests play that attacker: they go past the append-only triggers (ALTER TABLE … DISABLE
TRIGGER, as the table owner could) and recompute whatever a keyless attacker can recompute.
"""

import hashlib
import json
import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from compliance import actions
from compliance.integrity import create_checkpoint, latest_verification, verify_audit_log
from compliance.models import AuditChainHead, AuditCheckpoint, AuditEvent
from compliance.services import GENESIS_HASH, canonical_json, record_audit_event
from oas.models import OfficialAccount


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


def _log(count: int) -> list[AuditEvent]:
    return [_entry(n) for n in range(count)]


def _entry(n: int = 0, actor: str = "system:test") -> AuditEvent:
    return record_audit_event(
        actor=actor, action=actions.QUALITY_ALERT_RESOLVE, details={"alert_id": n, "n": n}
    )


def _stop(oa) -> AuditEvent:
    return record_audit_event(
        actor="user:quality",
        action=actions.OA_KILL_SWITCH,
        target=oa,
        details={"name": oa.name, "reason": "stop"},
    )


def _resume(oa) -> AuditEvent:
    return record_audit_event(
        actor="user:quality",
        action=actions.OA_RESUME,
        target=oa,
        details={"name": oa.name, "reason": "resume"},
    )


def _as_table_owner(*statements):
    """Run SQL with the append-only triggers lifted, as an attacker owning the table would."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_auditevent DISABLE TRIGGER USER")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE compliance_auditevent ENABLE TRIGGER USER")


def _fails(match: str):
    result = verify_audit_log()
    assert not result.intact
    assert match in result.reason, result.reason
    return result


def test_events_form_an_intact_keyed_chain(oa):
    first = _stop(oa)
    second = _resume(oa)
    assert second.prev_hash == first.hash
    assert (first.seq, second.seq) == (1, 2)
    assert (first.target_type, first.target_id) == ("oas.officialaccount", str(oa.pk))
    result = verify_audit_log()
    assert (result.intact, result.checked, result.entry_count) == (True, 2, 2)


def test_the_signature_depends_on_the_key(oa, settings):
    event = _resume(oa)
    assert verify_audit_log().intact
    settings.AUDIT_SIGNING_KEY = "another-key"
    result = verify_audit_log()
    assert (result.intact, result.first_broken_id) == (False, event.pk)


def test_the_database_refuses_to_edit_delete_or_truncate_the_log(oa):
    event = _stop(oa)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary="nothing happened")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE compliance_auditevent")
    with pytest.raises(PermissionError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).details["reason"] == "stop"


def test_checkpoints_refuse_edits_and_truncation_too(oa):
    _log(2)
    create_checkpoint()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditCheckpoint.objects.update(entry_count=1)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE compliance_auditcheckpoint")


def test_an_edited_entry_is_named(oa):
    _, victim, _ = _log(3)
    _as_table_owner(
        ("UPDATE compliance_auditevent SET details = %s WHERE id = %s", ['{"n": 500}', victim.pk])
    )
    result = _fails("was altered")
    assert result.first_broken_id == victim.pk
    with pytest.raises(CommandError, match=f"NOT intact at entry #{victim.pk}"):
        call_command("verify_audit_log")


def test_a_rewrite_with_every_later_hash_recomputed_is_detected(oa):
    """The attack that passed before: edit one entry, recompute its hash and every later one."""
    events = _log(4)
    rows = list(AuditEvent.objects.order_by("seq"))
    prev = rows[0].hash
    statements = []
    for index, row in enumerate(rows[1:], start=1):
        summary = "rewritten" if index == 1 else row.summary
        content = [row.seq, prev, row.occurred_at.isoformat(), row.actor, row.action, row.target_type]
        content += [row.target_id, summary, row.details]
        digest = hashlib.sha256(canonical_json(["entry", content])).hexdigest()  # no key: plain SHA-256
        statements.append(
            (
                "UPDATE compliance_auditevent SET summary = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [summary, prev, digest, row.pk],
            )
        )
        prev = digest
    statements.append(("UPDATE compliance_auditchainhead SET last_hash = %s", [prev]))
    _as_table_owner(*statements)
    assert _fails("was altered").first_broken_id == events[1].pk


def test_a_removed_entry_is_detected(oa):
    events = _log(3)
    _as_table_owner(("DELETE FROM compliance_auditevent WHERE id = %s", [events[1].pk]))
    result = _fails("before it removed")
    assert result.first_broken_id == events[2].pk


def test_reordered_entries_are_detected(oa):
    first, second, _ = _log(3)
    # Swap the two entries' positions (and ids' order) while keeping every stored signature.
    _as_table_owner(
        ("UPDATE compliance_auditevent SET seq = -1 WHERE id = %s", [first.pk]),
        ("UPDATE compliance_auditevent SET seq = 1 WHERE id = %s", [second.pk]),
        ("UPDATE compliance_auditevent SET seq = 2 WHERE id = %s", [first.pk]),
    )
    assert not verify_audit_log().intact


def test_removing_the_newest_entries_and_fixing_the_head_is_detected_by_the_checkpoint(oa):
    events = _log(5)
    create_checkpoint()
    # Delete the two newest entries and make the chain head agree with what is left.
    _as_table_owner(
        ("DELETE FROM compliance_auditevent WHERE seq > 3", []),
        ("UPDATE compliance_auditchainhead SET last_seq = 3, last_hash = %s", [events[2].hash]),
    )
    _fails("the log has 3 entries but checkpoint #1")
    assert not verify_audit_log(incremental=True).intact


def test_an_emptied_log_is_detected(oa):
    _log(3)
    create_checkpoint()
    with connection.cursor() as cursor:  # a superuser going around the TRUNCATE trigger
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("TRUNCATE compliance_auditevent, compliance_auditchainhead")
        cursor.execute("SET session_replication_role = DEFAULT")
    _fails("the log is empty but checkpoint #1")
    incremental = verify_audit_log(incremental=True)
    assert "the log is empty" in incremental.reason


def test_a_log_rewritten_behind_a_checkpoint_is_detected(oa):
    """Even a rewrite signed with the right key cannot change what a checkpoint file recorded."""
    events = _log(3)
    create_checkpoint()
    _as_table_owner(("DELETE FROM compliance_auditevent", []), ("DELETE FROM compliance_auditchainhead", []))
    replacement = _log(3)
    assert replacement[-1].pk != events[-1].pk
    _fails("differs from checkpoint #1")


def test_a_missing_checkpoint_file_is_reported(oa, audit_checkpoint_dir):
    _log(2)
    create_checkpoint()
    _entry(99)
    create_checkpoint()
    (audit_checkpoint_dir / "checkpoint-00000002.json").chmod(0o644)
    os.remove(audit_checkpoint_dir / "checkpoint-00000002.json")
    _fails("checkpoint #2 is recorded in the database but its file is missing")
    os.remove(audit_checkpoint_dir / "checkpoint-00000001.json")
    _fails("checkpoint #1 is recorded in the database but its file is missing")


def test_a_gap_in_the_checkpoint_files_is_reported(oa, audit_checkpoint_dir):
    for _round in range(3):
        _log(1)
        create_checkpoint()
    os.remove(audit_checkpoint_dir / "checkpoint-00000002.json")
    _fails("checkpoint #2 is missing from")


def test_a_forged_checkpoint_file_is_reported(oa, audit_checkpoint_dir):
    _log(4)
    create_checkpoint()
    path = audit_checkpoint_dir / "checkpoint-00000001.json"
    data = json.loads(path.read_text())
    data["entry_count"] = 2  # an attacker shortening the anchor to match a shortened log
    path.chmod(0o644)
    path.write_text(json.dumps(data))
    _fails("checkpoint #1 of")
    _fails("is forged or altered")


def test_an_unreadable_checkpoint_file_is_reported(oa, audit_checkpoint_dir):
    _log(1)
    create_checkpoint()
    path = audit_checkpoint_dir / "checkpoint-00000001.json"
    path.chmod(0o644)
    path.write_text("{not json")
    _fails("checkpoint file checkpoint-00000001.json is unreadable")


def test_a_deleted_checkpoint_row_is_reported(oa):
    _log(1)
    create_checkpoint()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_auditcheckpoint DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM compliance_auditcheckpoint")
        cursor.execute("ALTER TABLE compliance_auditcheckpoint ENABLE TRIGGER USER")
    _fails("has a file but no database record")


def test_checkpoint_files_are_written_once_and_chained(oa, audit_checkpoint_dir):
    _log(2)
    first = create_checkpoint()
    assert first.checkpoint.number == 1 and first.checkpoint.entry_count == 2
    assert create_checkpoint().checkpoint is None  # nothing new: no new file
    _entry(99)
    second = create_checkpoint().checkpoint
    assert (second.number, second.entry_count, second.prev_signature) == (2, 3, first.checkpoint.signature)
    files = sorted(path.name for path in audit_checkpoint_dir.iterdir())
    assert files == ["checkpoint-00000001.json", "checkpoint-00000002.json"]
    on_disk = json.loads((audit_checkpoint_dir / files[1]).read_text())
    assert on_disk["signature"] == second.signature
    assert on_disk["last_entry_id"] == AuditEvent.objects.get(seq=3).pk
    assert oct((audit_checkpoint_dir / files[1]).stat().st_mode & 0o777) == "0o444"
    assert AuditCheckpoint.objects.count() == 2


def test_no_checkpoint_is_written_over_a_broken_log(oa, audit_checkpoint_dir):
    _log(2)
    create_checkpoint()
    victim = _entry(99)
    _as_table_owner(("UPDATE compliance_auditevent SET summary = 'less' WHERE id = %s", [victim.pk]))
    outcome = create_checkpoint()
    assert outcome.checkpoint is None and not outcome.verification.intact
    assert AuditCheckpoint.objects.count() == 1
    with pytest.raises(CommandError, match="no checkpoint written"):
        call_command("audit_checkpoint")


def test_incremental_verification_starts_at_the_newest_checkpoint(oa):
    _log(5)
    create_checkpoint()
    _log(2)
    result = verify_audit_log(incremental=True)
    assert (result.intact, result.checked, result.entry_count) == (True, 2, 7)
    assert result.checkpoint.number == 1


def test_the_commands_say_intact_with_exit_status_0(oa, capsys):
    _log(3)
    call_command("audit_checkpoint")
    assert "checkpoint #1: 3 entries" in capsys.readouterr().out
    call_command("verify_audit_log")
    out = capsys.readouterr().out
    assert "audit log intact: 3 entries verified in all" in out
    assert "checkpoint #1" in out


@pytest.mark.django_db(transaction=True)
def test_verify_audit_log_exits_1_on_tampering_as_a_process(audit_checkpoint_dir):
    events = _log(2)
    create_checkpoint()
    env = {**os.environ, "AUDIT_CHECKPOINT_DIR": str(audit_checkpoint_dir)}
    db = settings.DATABASES["default"]
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"

    def run():
        return subprocess.run(
            [sys.executable, "manage.py", "verify_audit_log"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    intact = run()
    assert intact.returncode == 0, intact.stderr
    _as_table_owner(("UPDATE compliance_auditevent SET actor = 'someone else' WHERE id = %s", [events[0].pk]))
    broken = run()
    assert broken.returncode == 1
    assert f"NOT intact at entry #{events[0].pk}" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_the_auditor_page_shows_the_last_verification_without_rehashing(client, auditor, oa):
    client.force_login(auditor)
    html = client.get(reverse("compliance:index")).content.decode()
    assert 'data-testid="chain-unverified"' in html
    victim = _log(2)[0]
    verify_audit_log()
    _as_table_owner(("UPDATE compliance_auditevent SET summary = 'x' WHERE id = %s", [victim.pk]))
    html = client.get(reverse("compliance:index")).content.decode()
    assert 'data-testid="chain-intact"' in html  # the recorded result, until the next run
    verify_audit_log()
    html = client.get(reverse("compliance:index")).content.decode()
    assert 'data-testid="chain-broken"' in html and f"entry #{victim.pk} was altered" in html
    assert latest_verification().first_broken_id == victim.pk


def test_an_auditor_can_queue_a_full_verification(client, auditor, django_capture_on_commit_callbacks):
    import django_rq

    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("compliance:verify"))
    assert response.status_code == 302
    jobs = django_rq.get_queue("default").jobs
    assert [job.func_name for job in jobs] == ["compliance.jobs.verify_audit_log_full"]
    assert client.get(reverse("compliance:verify")).status_code == 405


def test_the_periodic_jobs_checkpoint_and_verify(oa):
    from compliance import jobs
    from zalo_admin.periodic import PERIODIC_JOBS

    assert {"compliance.jobs.checkpoint_audit_log", "compliance.jobs.verify_audit_log_full"} <= {
        job.func for job in PERIODIC_JOBS
    }
    _log(2)
    assert jobs.checkpoint_audit_log() == "checkpoint #1 (2 entries)"
    assert jobs.checkpoint_audit_log() == "nothing new to checkpoint"
    assert jobs.verify_audit_log_full() == "intact: 2 entries"


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    errors = []

    def write(worker):
        try:
            for number in range(10):
                _entry(number, actor=f"system:worker-{worker}")
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify_audit_log()
    assert (result.intact, result.checked) == (True, 40)
    assert AuditChainHead.objects.get().last_seq == 40
    assert AuditEvent.objects.get(seq=1).prev_hash == GENESIS_HASH
