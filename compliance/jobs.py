"""RQ entry points of the audit log: thin, idempotent, safe to run twice."""

import logging

from compliance import evidence, integrity, retention

log = logging.getLogger(__name__)


def checkpoint_audit_log() -> str:
    """Periodic (every 15 min): verify since the newest checkpoint, then write the next one."""
    outcome = integrity.create_checkpoint()
    if not outcome.verification.intact:
        log.error("audit log NOT intact, no checkpoint written: %s", outcome.verification.reason)
        return f"not intact: {outcome.verification.reason}"
    if outcome.checkpoint is None:
        return "nothing new to checkpoint"
    return f"checkpoint #{outcome.checkpoint.number} ({outcome.checkpoint.entry_count} entries)"


def verify_audit_log_full() -> str:
    """Periodic (daily) and on an auditor's request: re-compute every entry's signature."""
    result = integrity.verify_audit_log()
    if not result.intact:
        log.error("audit log NOT intact: %s", result.reason)
        return f"not intact: {result.reason}"
    return f"intact: {result.checked} entries"


def build_evidence_pack(pack_id: int) -> str:
    """On an auditor's request: write the evidence pack's ZIP (nothing when it is not queued)."""
    pack = evidence.build_pack(pack_id)
    if pack is None:
        return f"evidence pack #{pack_id} is not queued: nothing to do"
    return f"evidence pack #{pack_id}: {pack.status}"


def apply_retention() -> str:
    """Periodic (daily): clear, pseudonymise and trim what the retention settings say (audited)."""
    report = retention.run_retention()
    return "; ".join(report.lines())
