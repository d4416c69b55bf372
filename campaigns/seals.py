"""Sealing a campaign's per-message evidence (issue 15, "The story of a message").

The evidence of each message (its row and its timeline events) lives with the message rows, not in
the audit chain: one chain entry per message would serialise sending. A seal makes it tamper-evident
all the same: the messages, in id order, fall into blocks of `BLOCK_SIZE`; each block's SHA-256 is
over the canonical lines of its rows and their events; the seal's root is the SHA-256 of the block
hashes, and the root goes into the audit chain (`campaign.seal`), which is itself hash-chained and
checkpointed. Checking one message therefore re-hashes one block, not the campaign.

What is hashed is what must stay provable and never changes legitimately: each message's id,
tracking id, contact, consent event, creation time and validity, and every timeline event (states,
times, codes, detail, actor), which is append-only. The row's moving columns (state, times, provider
ids) follow from its events (`check_message` also checks the row agrees with its last event); the
phone and the rendered template data are left out, as erasure and retention remove them. So later
reports and feedback (new events, sealed by the next run) never disturb an older seal, and any block
that no longer matches was altered. Events newer than `SETTLE_SECONDS` wait for the next seal, so a
transaction still open when the seal is taken cannot slip an older event id in behind it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from campaigns.models import CampaignMessage, CampaignMessageEvent, CampaignSeal
from compliance import actions
from compliance.models import AuditEvent
from compliance.services import record_audit_event

BLOCK_SIZE = 1000
ACTOR = "system:seal"
SETTLE_SECONDS = 120
MESSAGE_FIELDS = ("id", "tracking_id", "contact_id", "consent_event_id", "created_at", "valid_until")
EVENT_FIELDS = (
    "id",
    "message_id",
    "from_state",
    "to_state",
    "at",
    "error_code",
    "provider_code",
    "detail",
    "actor",
)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n")


def _line(kind: str, values) -> bytes:
    return (kind + "|" + "|".join(_text(v) for v in values) + "\n").encode()


def block_hash(campaign_id: int, first_id: int, last_id: int, *, up_to_event: int | None = None) -> str:
    """The SHA-256 of the messages of the campaign with ids first..last and their events (those with
    ids up to `up_to_event` when given), in id order."""
    digest = hashlib.sha256()
    messages = (
        CampaignMessage.objects.filter(campaign_id=campaign_id, pk__gte=first_id, pk__lte=last_id)
        .order_by("pk")
        .values_list(*MESSAGE_FIELDS)
    )
    for row in messages.iterator(chunk_size=BLOCK_SIZE):
        digest.update(_line("m", row))
    events = CampaignMessageEvent.objects.filter(
        message__campaign_id=campaign_id, message_id__gte=first_id, message_id__lte=last_id
    )
    if up_to_event is not None:
        events = events.filter(pk__lte=up_to_event)
    for row in events.order_by("message_id", "pk").values_list(*EVENT_FIELDS).iterator(chunk_size=5000):
        digest.update(_line("e", row))
    return digest.hexdigest()


def root_of(blocks: list) -> str:
    digest = hashlib.sha256()
    for first_id, last_id, value in blocks:
        digest.update(f"{first_id}-{last_id}:{value}\n".encode())
    return digest.hexdigest()


def _block_bounds(campaign_id: int) -> list[tuple[int, int]]:
    ids = list(
        CampaignMessage.objects.filter(campaign_id=campaign_id).order_by("pk").values_list("pk", flat=True)
    )
    return [(part[0], part[-1]) for part in (ids[i : i + BLOCK_SIZE] for i in range(0, len(ids), BLOCK_SIZE))]


def seal_campaign(campaign_id: int, *, now: datetime | None = None) -> CampaignSeal | None:
    """Seal the campaign's messages and events as they are now (None when nothing happened since the
    last seal, or the campaign has no messages). Audited: the root goes into the chain."""
    now = now or timezone.now()
    settled = now - timedelta(seconds=SETTLE_SECONDS)
    last_event = (
        CampaignMessageEvent.objects.filter(message__campaign_id=campaign_id, at__lte=settled).aggregate(
            m=Max("pk")
        )["m"]
        or 0
    )
    previous = CampaignSeal.objects.filter(campaign_id=campaign_id).order_by("-sealed_at", "-pk").first()
    if not last_event or (previous is not None and previous.last_event_id >= last_event):
        return None
    bounds = _block_bounds(campaign_id)
    if not bounds:
        return None
    blocks = [
        [first, last, block_hash(campaign_id, first, last, up_to_event=last_event)] for first, last in bounds
    ]
    root = root_of(blocks)
    messages = CampaignMessage.objects.filter(campaign_id=campaign_id).count()
    events = CampaignMessageEvent.objects.filter(message__campaign_id=campaign_id, pk__lte=last_event).count()
    with transaction.atomic():
        seal = CampaignSeal.objects.create(
            campaign_id=campaign_id, sealed_at=now, messages=messages, events=events,
            last_event_id=last_event, blocks=blocks, root=root,
        )  # fmt: skip
        entry = record_audit_event(
            actor=ACTOR,
            action=actions.CAMPAIGN_SEAL,
            target_type="campaigns.campaign",
            target_id=campaign_id,
            details={
                "campaign_id": campaign_id, "seal_id": seal.pk, "messages": messages, "events": events,
                "last_event_id": last_event, "root": root,
            },
        )  # fmt: skip
        CampaignSeal.objects.filter(pk=seal.pk).update(audit_event_id=entry.pk)
        seal.audit_event_id = entry.pk
    return seal


def campaigns_to_seal() -> list[int]:
    """Started campaigns with timeline events newer than their last seal."""
    newest = dict(
        CampaignMessageEvent.objects.values("message__campaign_id")
        .annotate(m=Max("pk"))
        .values_list("message__campaign_id", "m")
    )
    sealed = dict(
        CampaignSeal.objects.values("campaign_id")
        .annotate(m=Max("last_event_id"))
        .values_list("campaign_id", "m")
    )
    return sorted(cid for cid, last in newest.items() if last > sealed.get(cid, 0))


@dataclass(frozen=True)
class SealCheck:
    """What the newest seal says about one message: `status` "intact", "tampered" (its block or the
    seal itself no longer matches) or "unsealed" (not sealed yet); `later_events`: its events after
    the seal; `row_agrees`: the row's state is the one its last event moved it to."""

    status: str
    seal: CampaignSeal | None = None
    later_events: int = 0
    row_agrees: bool = True
    reason: str = ""


def check_message(message: CampaignMessage) -> SealCheck:
    """Re-hash the message's block, compare it with the newest seal covering it, and the seal with
    its audit entry."""
    last = message.events.order_by("-pk").values_list("to_state", flat=True).first()
    agrees = message.state == (last or CampaignMessage.State.QUEUED)
    seal = CampaignSeal.objects.filter(campaign_id=message.campaign_id).order_by("-sealed_at", "-pk").first()
    block = next((b for b in seal.blocks if b[0] <= message.pk <= b[1]), None) if seal else None
    if block is None:
        return SealCheck("unsealed", seal, row_agrees=agrees)
    later = message.events.filter(pk__gt=seal.last_event_id).count()
    entry = AuditEvent.objects.filter(pk=seal.audit_event_id, action=actions.CAMPAIGN_SEAL).first()
    if entry is None or entry.details.get("root") != seal.root or root_of(seal.blocks) != seal.root:
        return SealCheck("tampered", seal, later, agrees, "the seal does not match its audit entry")
    if block_hash(message.campaign_id, block[0], block[1], up_to_event=seal.last_event_id) != block[2]:
        return SealCheck("tampered", seal, later, agrees, "the message block differs from its seal")
    return SealCheck("intact", seal, later, agrees)
