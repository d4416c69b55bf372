"""The audit log: the one way to record a state change.

Every entry is signed with HMAC-SHA256 under settings.AUDIT_SIGNING_KEY over its position in the
chain, its content and the previous entry's signature. Verification and checkpoints live in
`compliance.integrity`.
"""

import hashlib
import hmac
import json
from functools import cache

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from compliance import actions
from compliance.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def actor_name(user) -> str:
    """Who acted, as the log names it: `user:<username>` for a signed-in user, "system:anonymous"
    for None or an anonymous user; a string must already be such a name (e.g. "system:template-sync"
    for a job), anything else is refused (ValueError)."""
    if isinstance(user, str):
        return _checked_actor(user)
    if user is not None and user.is_authenticated:
        return f"user:{user.get_username()}"
    return actions.ANONYMOUS_ACTOR


def _checked_actor(actor) -> str:
    if not isinstance(actor, str) or not actions.ACTOR_PATTERN.fullmatch(actor):
        raise ValueError(f"audit actor {actor!r} must be 'user:<name>' or 'system:<job>'")
    return actor


def _checked_details(action: str, details) -> dict:
    if action not in actions.ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to compliance.actions")
    details = dict(details or {})
    missing = actions.required_parameters(action) - set(details)
    if missing:
        raise ValueError(f"audit action {action!r} needs the parameter(s) {', '.join(sorted(missing))}")
    return details


def canonical_json(value) -> bytes:
    """The one serialisation that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()


@cache
def _keyed_hmac(key: str):
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def sign(kind: str, value) -> str:
    """HMAC-SHA256 of `value` under the audit key; `kind` keeps entry and checkpoint MACs apart."""
    mac = _keyed_hmac(settings.AUDIT_SIGNING_KEY).copy()
    mac.update(canonical_json([kind, value]))
    return mac.hexdigest()


def entry_signature(seq: int, prev_hash: str, occurred_at, *content) -> str:
    """The MAC of one entry; `content` is actor, action, target type and id, summary, details."""
    return sign("entry", [seq, prev_hash, occurred_at.isoformat(), *content])


def record_audit_event(
    *, actor: str, action: str, target=None, target_type: str = "", target_id="", details=None
) -> AuditEvent:
    """Append one event; call it inside the transaction of the change it records.

    The entry is language-neutral: `action` is a code of compliance.actions.ACTIONS and `details`
    hold its parameters (at least `required_parameters(action)`, JSON-serialisable, never secrets);
    `AuditEvent.description` renders it in the reader's language. `actor` is `user:<name>` or
    `system:<job>` (see `actor_name`). An unknown action, a missing parameter or a malformed actor
    raises ValueError and records nothing.
    """
    actor = _checked_actor(actor)
    details = _checked_details(action, details)
    if target is not None:
        target_type, target_id = target._meta.label_lower, target.pk
    details = json.loads(canonical_json(details))
    summary = ""  # new entries store no prose; entries older than the vocabulary keep theirs
    target_id = str(target_id)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            pk=1, defaults={"last_hash": GENESIS_HASH, "last_seq": 0}
        )
        seq = head.last_seq + 1
        occurred_at = timezone.now()
        digest = entry_signature(
            seq, head.last_hash, occurred_at, actor, action, target_type, target_id, summary, details
        )
        event = AuditEvent.objects.create(
            seq=seq,
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
        AuditChainHead.objects.filter(pk=1).update(last_hash=digest, last_seq=seq)
    return event
