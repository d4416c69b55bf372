"""Benchmark: `verify_audit_log` on 1,000,000 audit entries (target under 30 s), full and incremental.

Uses its own database (bench_audit). The entries are signed exactly as `record_audit_event` signs
them, then loaded with COPY (appending them one by one would take the benchmark itself an hour).
Prints figures; not a test. BENCH_AUDIT_ENTRIES changes the size.
"""

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

from _benchdb import setup_django

ENTRIES = int(os.environ.get("BENCH_AUDIT_ENTRIES", "1000000"))
TARGET_SECONDS = 30.0


def seed(count: int) -> None:
    """`count` signed entries and their chain head, unless the table already holds exactly them."""
    from django.db import connection

    from compliance.models import AuditEvent
    from compliance.services import GENESIS_HASH, canonical_json, entry_signature

    if AuditEvent.objects.count() == count:
        return
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # past the TRUNCATE guard
        cursor.execute(
            "TRUNCATE compliance_auditevent, compliance_auditchainhead, compliance_auditcheckpoint"
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    first = datetime(2026, 1, 1, tzinfo=UTC)
    prev = GENESIS_HASH
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY compliance_auditevent (id, seq, occurred_at, actor, action, target_type, target_id, "
            "summary, details, prev_hash, hash) FROM STDIN"
        ) as copy,
    ):
        for seq in range(1, count + 1):
            occurred_at = first + timedelta(seconds=seq * 7, microseconds=seq % 1000)
            actor, action = f"user:marketer{seq % 17}", "campaign.edited" if seq % 3 else "oa.updated"
            target_type, target_id = "campaigns.campaign", str(seq % 5000)
            summary = f"Campaign {seq % 5000} changed: send at, speed limit"
            details = {"fields": ["send_at", "speed_limit"], "campaign": seq % 5000, "n": seq}
            digest = entry_signature(
                seq, prev, occurred_at, actor, action, target_type, target_id, summary, details
            )
            copy.write_row(
                (
                    seq,
                    seq,
                    occurred_at,
                    actor,
                    action,
                    target_type,
                    target_id,
                    summary,
                    canonical_json(details).decode(),
                    prev,
                    digest,
                )
            )
            prev = digest
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO compliance_auditchainhead (id, last_hash, last_seq) VALUES (1, %s, %s)",
            [prev, count],
        )
        cursor.execute("SELECT setval(pg_get_serial_sequence('compliance_auditevent', 'id'), %s)", [count])
        cursor.execute("ANALYZE compliance_auditevent")
    print(f"seeded {count:,} signed entries in {time.monotonic() - started:.1f} s")


def main() -> None:
    setup_django("bench_audit")
    from django.conf import settings

    from compliance import actions
    from compliance.integrity import create_checkpoint, verify_audit_log
    from compliance.services import record_audit_event

    settings.AUDIT_CHECKPOINT_DIR = tempfile.mkdtemp(prefix="bench-audit-checkpoints-")
    seed(ENTRIES)

    started = time.monotonic()
    result = verify_audit_log()
    full = time.monotonic() - started
    assert result.intact, result.reason
    print(
        f"verify_audit_log (full) on {result.checked:,} entries: {full:.1f} s "
        f"({result.checked / full:,.0f} entries/s; target < {TARGET_SECONDS:.0f} s)"
    )

    started = time.monotonic()
    outcome = create_checkpoint()
    seconds = time.monotonic() - started
    print(f"first audit_checkpoint (verifies everything, no earlier checkpoint): {seconds:.1f} s")
    for number in range(1000):  # a busy 15 minutes
        record_audit_event(
            actor="user:bench",
            action=actions.OA_UPDATE,
            details={"name": f"Bench OA {number}", "zalo_oa_id": f"bench-{number}", "changed": ["name"]},
        )
    started = time.monotonic()
    outcome = create_checkpoint()
    incremental = time.monotonic() - started
    assert outcome.checkpoint is not None, outcome.verification.reason
    print(
        f"periodic checkpoint (incremental verify of {outcome.verification.checked:,} new entries + "
        f"signed file): {incremental * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
