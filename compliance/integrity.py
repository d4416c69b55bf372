"""Checkpoints and verification of the audit log.

A checkpoint is a signed record "the log had N entries, the last one #id with signature H",
chained to the previous checkpoint's signature. It is stored twice: as a row, and as one file
per checkpoint under settings.AUDIT_CHECKPOINT_DIR, created with O_EXCL and never rewritten; in
production that directory is storage the database role cannot write (a WORM bucket mount). The
files are what verification trusts: whoever holds the database can delete the newest entries and
fix the chain head, or empty the table, but cannot make the log agree with a checkpoint file
again, nor sign a new one without AUDIT_SIGNING_KEY.

Full verification re-computes every entry's HMAC; the periodic job verifies incrementally from
the newest checkpoint (its anchor entry must still carry the checkpointed signature) and then
writes the next checkpoint. Every run is recorded as an AuditVerification for the auditor page.
"""

import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from compliance.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditVerification
from compliance.services import GENESIS_HASH, canonical_json, entry_signature, sign

CHECKPOINT_FIELDS = ("number", "created_at", "entry_count", "last_entry_id", "last_hash", "prev_signature")
ENTRY_COLUMNS = (
    "id",
    "seq",
    "prev_hash",
    "occurred_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "summary",
    "details",
    "hash",
)
CHUNK = 20_000


class IntegrityFailure(Exception):
    """The log or its checkpoints do not verify; the message says where and how."""

    def __init__(self, reason: str, first_broken_id: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.first_broken_id = first_broken_id


@dataclass(frozen=True)
class Checkpoint:
    number: int
    created_at: str
    entry_count: int
    last_entry_id: int | None
    last_hash: str
    prev_signature: str
    signature: str

    def signed_content(self) -> dict:
        return {name: getattr(self, name) for name in CHECKPOINT_FIELDS}

    def is_authentic(self) -> bool:
        return hmac.compare_digest(sign("checkpoint", self.signed_content()), self.signature)

    def describe(self) -> str:
        return f"checkpoint #{self.number} of {self.created_at}"


@dataclass(frozen=True)
class Position:
    """The end of a verified chain: entries so far, the last one's signature and id."""

    entry_count: int
    last_hash: str
    last_id: int


@dataclass(frozen=True)
class ChainVerification:
    intact: bool
    checked: int
    entry_count: int
    first_broken_id: int | None = None
    reason: str = ""
    checkpoint: Checkpoint | None = None
    end: Position | None = None


def checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def checkpoint_path(number: int) -> Path:
    return checkpoint_dir() / f"checkpoint-{number:08d}.json"


def _read_checkpoint_file(path: Path) -> Checkpoint:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        checkpoint = Checkpoint(**{name: data[name] for name in (*CHECKPOINT_FIELDS, "signature")})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityFailure(f"checkpoint file {path.name} is unreadable ({type(exc).__name__})") from None
    if path.name != checkpoint_path(checkpoint.number).name:
        raise IntegrityFailure(f"checkpoint file {path.name} claims to be checkpoint #{checkpoint.number}")
    return checkpoint


def trusted_checkpoints() -> list[Checkpoint]:
    """Every checkpoint file, authenticated and chained, and in agreement with the table."""
    directory = checkpoint_dir()
    paths = sorted(directory.glob("checkpoint-*.json")) if directory.is_dir() else []
    files = [_read_checkpoint_file(path) for path in paths]
    previous_signature = ""
    for expected_number, checkpoint in enumerate(files, start=1):
        if checkpoint.number != expected_number:
            raise IntegrityFailure(f"checkpoint #{expected_number} is missing from {directory}")
        if not checkpoint.is_authentic():
            raise IntegrityFailure(
                f"{checkpoint.describe()} is forged or altered: its signature does not match"
            )
        if checkpoint.prev_signature != previous_signature:
            raise IntegrityFailure(
                f"{checkpoint.describe()} does not follow checkpoint #{expected_number - 1} "
                "(previous signature differs)"
            )
        previous_signature = checkpoint.signature
    by_number = {checkpoint.number: checkpoint for checkpoint in files}
    for number, signature in AuditCheckpoint.objects.order_by("number").values_list("number", "signature"):
        on_file = by_number.get(number)
        if on_file is None:
            raise IntegrityFailure(
                f"checkpoint #{number} is recorded in the database but its file is missing from {directory}"
            )
        if on_file.signature != signature:
            raise IntegrityFailure(f"checkpoint #{number} in the database differs from its file")
    recorded = set(AuditCheckpoint.objects.values_list("number", flat=True))
    for checkpoint in files:
        if checkpoint.number not in recorded:
            raise IntegrityFailure(
                f"{checkpoint.describe()} has a file but no database record (checkpoint table altered)"
            )
    return files


def _check_against_checkpoint(checkpoint: Checkpoint, entry_id: int, digest: str) -> None:
    if entry_id != checkpoint.last_entry_id or digest != checkpoint.last_hash:
        raise IntegrityFailure(
            f"entry #{entry_id} at position {checkpoint.entry_count} differs from {checkpoint.describe()} "
            f"(which recorded entry #{checkpoint.last_entry_id}): the log was rewritten",
            entry_id,
        )


def _verify_entries(
    after_seq: int, prev_hash: str, anchors: dict[int, Checkpoint], prev_id: int = 0
) -> "Position":
    """Verify the entries after position `after_seq`, streamed; where the verified chain ends."""
    expected_seq = after_seq + 1
    rows = (
        AuditEvent.objects.filter(seq__gt=after_seq).order_by("seq").values_list(*ENTRY_COLUMNS)
    ).iterator(chunk_size=CHUNK)
    for entry_id, seq, stored_prev, *content, digest in rows:
        if seq != expected_seq:
            raise IntegrityFailure(
                f"entry #{entry_id} is at position {seq}, expected {expected_seq}: "
                f"{seq - expected_seq} entr{'y' if seq - expected_seq == 1 else 'ies'} before it removed",
                entry_id,
            )
        if entry_id <= prev_id:
            raise IntegrityFailure(f"entry #{entry_id} is out of order (after entry #{prev_id})", entry_id)
        if stored_prev != prev_hash:
            raise IntegrityFailure(
                f"entry #{entry_id} does not follow the entry before it (entries removed or reordered)",
                entry_id,
            )
        expected = entry_signature(seq, stored_prev, *content)
        if not hmac.compare_digest(expected, digest):
            raise IntegrityFailure(
                f"entry #{entry_id} was altered: its content does not match its signature", entry_id
            )
        anchor = anchors.get(seq)
        if anchor is not None:
            _check_against_checkpoint(anchor, entry_id, digest)
        prev_hash, prev_id = digest, entry_id
        expected_seq += 1
    return Position(expected_seq - 1, prev_hash, prev_id)


def _check_length_and_head(count: int, last_hash: str, newest: Checkpoint | None) -> None:
    if newest is not None and count < newest.entry_count:
        if count == 0:
            raise IntegrityFailure(
                f"the log is empty but {newest.describe()} recorded {newest.entry_count} entries"
            )
        raise IntegrityFailure(
            f"the log has {count} entries but {newest.describe()} recorded {newest.entry_count}: "
            "the newest entries were removed"
        )
    head = AuditChainHead.objects.filter(pk=1).values_list("last_seq", "last_hash").first()
    if head is None:
        if count:
            raise IntegrityFailure("the chain head is missing although the log has entries")
        return
    head_seq, head_hash = head
    if head_seq > count:
        raise IntegrityFailure(
            f"the log ends at position {count} but the chain head records {head_seq}: "
            "the newest entries were removed"
        )
    if (head_seq, head_hash) != (count, last_hash):
        raise IntegrityFailure(f"the chain head does not match the last entry (position {count})")


def _check_anchors(checkpoints: list[Checkpoint]) -> tuple[int, str, int]:
    """Every checkpoint's entry still carries its signature; (position, signature, id) of the newest."""
    anchors = {c.entry_count: c for c in checkpoints if c.entry_count}
    found = {
        seq: (entry_id, digest)
        for seq, entry_id, digest in AuditEvent.objects.filter(seq__in=list(anchors)).values_list(
            "seq", "id", "hash"
        )
    }
    for seq, checkpoint in sorted(anchors.items()):
        if seq not in found:
            count = AuditEvent.objects.count()
            if count == 0:
                raise IntegrityFailure(
                    f"the log is empty but {checkpoint.describe()} recorded {checkpoint.entry_count} entries"
                )
            raise IntegrityFailure(
                f"the entry at position {seq} recorded by {checkpoint.describe()} is missing "
                f"(the log has {count} entries): entries were removed"
            )
        _check_against_checkpoint(checkpoint, *found[seq])
    newest = checkpoints[-1]
    if newest.entry_count == 0:
        return 0, GENESIS_HASH, 0
    entry_id, digest = found[newest.entry_count]
    return newest.entry_count, digest, entry_id


def _verify(incremental: bool) -> ChainVerification:
    checkpoints = trusted_checkpoints()
    newest = checkpoints[-1] if checkpoints else None
    if incremental and newest is not None:
        start_seq, start_hash, start_id = _check_anchors(checkpoints)
        end = _verify_entries(start_seq, start_hash, {}, start_id)
    else:
        start_seq = 0
        end = _verify_entries(0, GENESIS_HASH, {c.entry_count: c for c in checkpoints})
    _check_length_and_head(end.entry_count, end.last_hash, newest)
    return ChainVerification(True, end.entry_count - start_seq, end.entry_count, checkpoint=newest, end=end)


def verify_audit_log(*, incremental: bool = False, record: bool = True) -> ChainVerification:
    """Verify the log (whole, or since the newest checkpoint) and record the outcome."""
    started = timezone.now()
    try:
        result = _verify(incremental)
    except IntegrityFailure as failure:
        result = ChainVerification(
            False,
            0,
            AuditChainHead.objects.filter(pk=1).values_list("last_seq", flat=True).first() or 0,
            failure.first_broken_id,
            failure.reason,
        )
    if record:
        AuditVerification.objects.create(
            started_at=started,
            finished_at=timezone.now(),
            scope=AuditVerification.Scope.INCREMENTAL if incremental else AuditVerification.Scope.FULL,
            intact=result.intact,
            entries_checked=result.checked,
            entry_count=result.entry_count,
            first_broken_id=result.first_broken_id,
            reason=result.reason,
            checkpoint_number=result.checkpoint.number if result.checkpoint else None,
        )
    return result


def _write_checkpoint_file(checkpoint: Checkpoint) -> Path:
    path = checkpoint_path(checkpoint.number)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = canonical_json({**checkpoint.signed_content(), "signature": checkpoint.signature}) + b"\n"
    # O_EXCL: a checkpoint file is written once and never replaced.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    return path


@dataclass(frozen=True)
class CheckpointOutcome:
    checkpoint: Checkpoint | None
    verification: ChainVerification
    path: Path | None = None


def create_checkpoint() -> CheckpointOutcome:
    """Verify since the newest checkpoint, then sign and store the next one (nothing when the log
    has not grown). The long part runs without locks; writers wait on the chain head only while
    the entries appended meanwhile are checked and the checkpoint is written."""
    verification = verify_audit_log(incremental=True)
    if not verification.intact:
        return CheckpointOutcome(None, verification)
    newest = verification.checkpoint
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None or head.last_seq == 0 or (newest and newest.entry_count == head.last_seq):
            return CheckpointOutcome(None, verification)
        verified = verification.end
        try:
            end = _verify_entries(verified.entry_count, verified.last_hash, {}, verified.last_id)
            _check_length_and_head(end.entry_count, end.last_hash, newest)
        except IntegrityFailure:
            return CheckpointOutcome(None, verify_audit_log(incremental=True))
        content = {
            "number": (newest.number if newest else 0) + 1,
            "created_at": timezone.now().isoformat(),
            "entry_count": end.entry_count,
            "last_entry_id": end.last_id,
            "last_hash": end.last_hash,
            "prev_signature": newest.signature if newest else "",
        }
        checkpoint = Checkpoint(**content, signature=sign("checkpoint", content))
        AuditCheckpoint.objects.create(
            **{**content, "created_at": parse_datetime(content["created_at"])}, signature=checkpoint.signature
        )
        path = _write_checkpoint_file(checkpoint)
    return CheckpointOutcome(checkpoint, verification, path)


def latest_verification() -> AuditVerification | None:
    return AuditVerification.objects.order_by("-finished_at", "-id").first()
