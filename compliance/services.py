"""The audit log: the one way to record a state change, and the check that the record is intact."""

import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from compliance.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def actor_name(user) -> str:
    """A user's name for the log; strings (e.g. "system:template-sync") name jobs and services."""
    if isinstance(user, str):
        return user
    return user.get_username() if user is not None and user.is_authenticated else "anonymous"


def _event_hash(prev_hash: str, occurred_at, actor, action, target_type, target_id, summary, details) -> str:
    content = json.dumps(
        [prev_hash, occurred_at.isoformat(), actor, action, target_type, target_id, summary, details],
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode()).hexdigest()


def record_audit_event(
    *, actor: str, action: str, summary: str, target=None, target_type: str = "", target_id="", details=None
) -> AuditEvent:
    """Append one event; call it inside the transaction of the change it records."""
    if target is not None:
        target_type, target_id = target._meta.label_lower, target.pk
    details = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            pk=1, defaults={"last_hash": GENESIS_HASH}
        )
        occurred_at = timezone.now()
        target_id = str(target_id)
        digest = _event_hash(
            head.last_hash, occurred_at, actor, action, target_type, target_id, summary, details
        )
        event = AuditEvent.objects.create(
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            summary=summary,
            details=details,
            prev_hash=head.last_hash,
            hash=digest,
        )
        AuditChainHead.objects.filter(pk=1).update(last_hash=digest)
    return event


@dataclass(frozen=True)
class ChainVerification:
    intact: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def verify_audit_chain(batch_size: int = 5000) -> ChainVerification:
    """Recompute every hash in order; report the first entry that does not match."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != expected_prev:
            return ChainVerification(
                False, checked, event.pk, "previous-hash link broken (entry removed or reordered)"
            )
        digest = _event_hash(
            event.prev_hash,
            event.occurred_at,
            event.actor,
            event.action,
            event.target_type,
            event.target_id,
            event.summary,
            event.details,
        )
        if digest != event.hash:
            return ChainVerification(
                False, checked, event.pk, "content does not match its hash (entry edited)"
            )
        expected_prev = event.hash
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
    if head is not None and head != expected_prev:
        return ChainVerification(False, checked, None, "the newest entries are missing (chain truncated)")
    return ChainVerification(True, checked)
