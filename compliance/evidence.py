"""Evidence packs: everything that proves how the messages of a campaign, a phone number or a date
range were sent, in one ZIP of CSV and JSON files, with a signed manifest.

A pack holds (one file each, times in UTC, ISO 8601):

- `campaigns.json`: each campaign concerned, its approvals (approver, time, approval hash) and the
  approval check: the hash recomputed now over the campaign's inputs and the recipients it was
  started with (`campaigns.approval.approval_hash`), whether it still matches, and the hash the
  dispatcher checked at start as the audit log recorded it;
- `messages.csv`: every message with its state, every time, attempts and codes, the template
  values with their SHA-256, and the consent that allowed it (the latest ledger entry of the
  contact for the template's purpose at the time it was sent);
- `message_events.csv`: every timeline entry of those messages (transitions, delivery reports,
  user feedback, the SMS leg, retention notes);
- `consent_events.csv`: the whole consent ledger of the contacts concerned, with the evidence text
  and the evidence file's SHA-256;
- `audit_entries.csv`: the audit entries of the campaigns, contacts, consent events and data
  requests concerned, with their chain position, previous hash and hash, each re-checked against
  its signature while the pack was built;
- `audit_verification.json`: the latest recorded verification of the whole log and the newest
  checkpoint;
- `manifest.json`: what the pack covers, who asked, why, when, and each file's name, size, rows and
  SHA-256, signed with the audit key (`compliance.services.sign`, as checkpoints are).

Phones appear masked (`0912***678`) with their keyed digest (`audiences.models.phone_digest`):
enough to match a known number, not to read one. A phone pack stores its phone encrypted until the
pack is built, then only its masked form and digest.

`verify_pack` (and `manage.py verify_evidence_pack FILE`) says whether a pack is complete and
untouched: the manifest's signature, then every listed file present with its size and SHA-256, and
no file the manifest does not list.

Building is a job (`compliance.jobs.build_evidence_pack`): the ZIP is written to a temporary file
beside its final place, one member at a time, rows fetched in chunks of CHUNK, so memory stays flat
whatever the pack's size; progress (rows written of rows expected) is saved every half second.
Every step is audited: the request (who asked, for what, why), the build (ZIP SHA-256), each
download.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import os
import re
import secrets
import tempfile
import time
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import CharField, F, Q
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from audiences.models import PHONE_PATTERN, ConsentEvent, Contact, DataRequest, phone_digest
from campaigns import approval, reports
from campaigns.eligibility import PURPOSE_BY_TAG
from campaigns.models import Campaign, CampaignMessage, CampaignMessageEvent
from compliance import actions, retention
from compliance.integrity import latest_verification
from compliance.models import AuditChainHead, AuditCheckpoint, AuditEvent, EvidencePack
from compliance.services import actor_name, entry_signature, record_audit_event, sign
from zalo_admin.jobs import enqueue
from zalo_admin.lib.dates import vietnam_day, vietnam_midnight
from zalo_admin.lib.phones import mask_phone

log = logging.getLogger(__name__)

FORMAT = "zalo-oa-evidence-pack"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE_KIND = "evidence-pack"
ACTOR = "system:evidence"
JOB = "compliance.jobs.build_evidence_pack"
CHUNK = 2000
PROGRESS_EVERY_SECONDS = 0.5
REASON_MAX_LENGTH = 1000
_PHONE = re.compile(PHONE_PATTERN)


class PackRefused(ValueError):
    """The request cannot be made as asked; `str()` says why, for the person."""


# --- requesting -------------------------------------------------------------------------------------


def subject_of(pack: EvidencePack) -> str:
    """What the pack is about, language-neutral: `#12`, `0912***678`, `2026-01-01..2026-01-31`."""
    if pack.scope == EvidencePack.Scope.CAMPAIGN:
        return f"#{pack.campaign_id}"
    if pack.scope == EvidencePack.Scope.PHONE:
        return pack.phone_masked
    last_day = vietnam_day(pack.period_end - timedelta(microseconds=1))
    return f"{vietnam_day(pack.period_start).isoformat()}..{last_day.isoformat()}"


def request_pack(
    *,
    user,
    scope: str,
    reason: str,
    campaign_id: int | None = None,
    phone: str = "",
    day_from: date | None = None,
    day_to: date | None = None,
) -> EvidencePack:
    """Record a pack request (audited: who asked, for what, why) and queue its build after commit.
    `phone` is normalised (84 + 9 digits); `day_from`..`day_to` are Vietnam days, both included."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise PackRefused(_("Say why the pack is needed (e.g. the regulator's request number)."))
    if len(reason) > REASON_MAX_LENGTH:
        raise PackRefused(_("A reason is at most %(max)s characters.") % {"max": REASON_MAX_LENGTH})
    fields = {"scope": scope, "reason": reason}
    if scope == EvidencePack.Scope.CAMPAIGN:
        if campaign_id is None or not Campaign.objects.filter(pk=campaign_id).exists():
            raise PackRefused(_("There is no such campaign."))
        fields["campaign_id"] = campaign_id
    elif scope == EvidencePack.Scope.PHONE:
        if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
            raise PackRefused(_("The phone must be a Vietnamese mobile number."))
        fields.update(phone=phone, phone_masked=mask_phone(phone), phone_hash=phone_digest(phone))
    elif scope == EvidencePack.Scope.PERIOD:
        if day_from is None or day_to is None:
            raise PackRefused(_("Give the first and the last day."))
        if day_to < day_from:
            raise PackRefused(_("The last day comes before the first."))
        fields.update(
            period_start=vietnam_midnight(day_from), period_end=vietnam_midnight(day_to + timedelta(days=1))
        )
    else:
        raise PackRefused(_("Choose what the pack covers: a campaign, a phone number or a date range."))
    actor = actor_name(user)
    with transaction.atomic():
        pack = EvidencePack.objects.create(
            requested_by=user if getattr(user, "pk", None) else None, requested_by_name=actor, **fields
        )
        record_audit_event(
            actor=actor,
            action=actions.EVIDENCE_PACK_REQUEST,
            target=pack,
            details={"pack_id": pack.pk, "scope": scope, "subject": subject_of(pack), "reason": reason},
        )
        enqueue(JOB, pack.pk)
    return pack


def record_download(pack: EvidencePack, *, user) -> None:
    record_audit_event(
        actor=actor_name(user),
        action=actions.EVIDENCE_PACK_DOWNLOAD,
        target=pack,
        details={"pack_id": pack.pk, "scope": pack.scope, "subject": subject_of(pack)},
    )


def pack_path(file_name: str) -> Path:
    return Path(settings.EVIDENCE_PACK_DIR) / file_name


# --- what a pack covers --------------------------------------------------------------------------------


def _messages(pack: EvidencePack):
    rows = CampaignMessage.objects.all()
    if pack.scope == EvidencePack.Scope.CAMPAIGN:
        return rows.filter(campaign_id=pack.campaign_id)
    if pack.scope == EvidencePack.Scope.PHONE:
        # Its messages by phone, through its contact, and those retention pseudonymised (by digest).
        pseudonymised = CampaignMessageEvent.objects.filter(
            error_code=retention.PHONE_PSEUDONYMISED, detail=retention.PHONE_DETAIL + pack.phone_hash
        ).values("message_id")
        return rows.filter(Q(phone=pack.phone) | Q(contact__phone=pack.phone) | Q(pk__in=pseudonymised))
    return rows.filter(created_at__gte=pack.period_start, created_at__lt=pack.period_end)


def _campaign_ids(pack: EvidencePack, messages) -> list[int]:
    if pack.scope == EvidencePack.Scope.CAMPAIGN:
        return [pack.campaign_id]
    return sorted(messages.order_by().values_list("campaign_id", flat=True).distinct())


def _as_text(queryset, column: str):
    return queryset.order_by().annotate(as_text=Cast(column, output_field=CharField())).values("as_text")


def _audit_entries(pack: EvidencePack, campaign_ids: list[int], messages):
    contacts = messages.exclude(contact_id=None).order_by().values("contact_id")
    consent = ConsentEvent.objects.filter(contact_id__in=contacts)
    targets = (
        Q(target_type="campaigns.campaign", target_id__in=[str(pk) for pk in campaign_ids])
        | Q(
            target_type="audiences.contact",
            target_id__in=_as_text(messages.exclude(contact_id=None), "contact_id"),
        )
        | Q(target_type="audiences.consentevent", target_id__in=_as_text(consent, "id"))
    )
    if pack.scope == EvidencePack.Scope.PHONE:
        requests = DataRequest.objects.filter(phone_hash=pack.phone_hash)
        targets |= Q(target_type="audiences.datarequest", target_id__in=_as_text(requests, "id"))
        targets |= Q(
            target_type="audiences.contact",
            target_id__in=_as_text(Contact.objects.filter(phone=pack.phone), "id"),
        )
    return AuditEvent.objects.filter(targets)


# --- the files ---------------------------------------------------------------------------------------


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""


def _shown_phone(phone: str) -> tuple[str, str]:
    """(masked phone or pseudonym, keyed digest or "")."""
    if _PHONE.fullmatch(phone or ""):
        return mask_phone(phone), phone_digest(phone)
    return phone, ""


def _batches(rows: Iterable, size: int | None = None) -> Iterator[list]:
    size = size or CHUNK
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _approval_check(campaign: Campaign) -> dict:
    live = approval.live_approval(campaign)
    started = (
        AuditEvent.objects.filter(
            action=actions.CAMPAIGN_START, target_type="campaigns.campaign", target_id=str(campaign.pk)
        )
        .order_by("-seq")
        .first()
    )
    check = {
        "approval_hash": live.approval_hash if live else "",
        "started_with_hash": started.details.get("approval_hash", "") if started else "",
        "start_audit_entry": started.seq if started else None,
        "current_hash": "",
        "matches": None,
        "note": "",
    }
    if live is None:
        check["note"] = "no live approval"
        return check
    if started is not None:
        check["start_matches"] = check["started_with_hash"] == live.approval_hash
    phones = list(CampaignMessage.objects.filter(campaign=campaign).values_list("phone", flat=True))
    try:
        if not phones:
            phones = approval.eligible_phones(campaign)
        elif not all(_PHONE.fullmatch(phone) for phone in phones):
            hidden = sum(1 for phone in phones if not _PHONE.fullmatch(phone))
            check["note"] = (
                f"not recomputable: {hidden} recipient(s) pseudonymised by retention or erasure; "
                "the hash checked at start stays proven by the audit entry"
            )
            return check
        check["current_hash"] = approval.approval_hash(campaign, phones)
    except approval.ApprovalRefused as exc:  # not started and no pre-flight to ask
        check["note"] = f"not recomputable: {exc}"
        return check
    check["matches"] = hmac.compare_digest(check["current_hash"], live.approval_hash)
    if not check["matches"]:
        check["note"] = "what the campaign would send now differs from what was approved"
    return check


def _campaign_document(campaign: Campaign) -> dict:
    template = campaign.template
    dispatch = getattr(campaign, "dispatch", None)
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "oa": {"id": campaign.oa_id, "name": campaign.oa.name, "zalo_oa_id": campaign.oa.zalo_oa_id},
        "template": {
            "id": template.pk,
            "template_id": template.template_id,
            "name": template.name,
            "tag": template.tag,
            "purpose": str(PURPOSE_BY_TAG.get(int(template.tag), "")),
            "version": campaign.template_version,
        },
        "author": campaign.author.get_username() if campaign.author_id else "",
        "created_at": _iso(campaign.created_at),
        "submitted_at": _iso(campaign.submitted_at),
        "send_at": _iso(campaign.send_at),
        "dispatch": {
            "started_at": _iso(dispatch.started_at),
            "finished_at": _iso(dispatch.finished_at),
            "recipients": dispatch.recipients,
        }
        if dispatch
        else None,
        "approvals": [
            {
                "approver": record.approver_name,
                "approved_at": _iso(record.approved_at),
                "approval_hash": record.approval_hash,
                "recipients": record.recipients,
                "voided_at": _iso(record.voided_at),
                "void_reason": record.void_reason,
            }
            for record in campaign.approvals.order_by("approved_at", "id")
        ],
        "approval_check": _approval_check(campaign),
    }


MESSAGE_COLUMNS = [
    "message_id", "campaign_id", "tracking_id", "phone", "phone_digest", "contact_id", "state",
    "attempts", "provider_message_id", "error_code", "provider_error_code", "provider_error_message",
    "created_at", "claimed_at", "sending_at", "accepted_at", "delivered_at", "failed_at", "expired_at",
    "failed_over_at", "unconfirmed_at", "valid_until", "in_first_slice", "template_data",
    "template_data_sha256", "retention", "purpose", "consent_basis", "consent_event_id",
]  # fmt: skip
_MESSAGE_FIELDS = [
    "id", "campaign_id", "tracking_id", "phone", "contact_id", "state", "attempts",
    "provider_message_id", "error_code", "provider_error_code", "provider_error_message", "created_at",
    "claimed_at", "sending_at", "accepted_at", "delivered_at", "failed_at", "expired_at",
    "failed_over_at", "unconfirmed_at", "valid_until", "in_first_slice", "template_data",
]  # fmt: skip
_TIMES = ["created_at", "claimed_at", "sending_at", "accepted_at", "delivered_at", "failed_at",
          "expired_at", "failed_over_at", "unconfirmed_at", "valid_until"]  # fmt: skip


def _consent_basis(rows: list[dict], purposes: dict[int, str]) -> dict[int, tuple[str, int | None]]:
    """message id -> (basis, consent event id): the latest ledger entry of the message's contact for
    its campaign's purpose at the moment it was sent (at the same instant a withdrawal wins)."""
    contact_ids = {row["contact_id"] for row in rows if row["contact_id"]}
    ledger = defaultdict(list)
    for event_id, contact_id, purpose, kind, occurred_at in (
        ConsentEvent.objects.filter(contact_id__in=contact_ids)
        .order_by("contact_id", "purpose", "occurred_at", "id")
        .values_list("id", "contact_id", "purpose", "kind", "occurred_at")
    ):
        ledger[(contact_id, purpose)].append(
            (occurred_at, kind == ConsentEvent.Kind.WITHDRAWN, event_id, kind)
        )
    basis = {}
    for row in rows:
        purpose = purposes.get(row["campaign_id"], "")
        moment = row["sending_at"] or row["claimed_at"] or row["created_at"]
        entries = [entry for entry in ledger.get((row["contact_id"], purpose), []) if entry[0] <= moment]
        latest = max(entries, default=None)
        if latest is not None:
            basis[row["id"]] = (latest[3], latest[2])
        elif purpose == "marketing":
            basis[row["id"]] = ("missing", None)
        else:
            basis[row["id"]] = ("not_required", None)
    return basis


def _retention_notes(ids: list[int]) -> dict[int, dict[str, str]]:
    notes = defaultdict(dict)
    for message_id, code, detail, at in CampaignMessageEvent.objects.filter(
        message_id__in=ids, error_code__in=[retention.CONTENT_CLEARED, retention.PHONE_PSEUDONYMISED]
    ).values_list("message_id", "error_code", "detail", "at"):
        notes[message_id][code] = (detail.split("=", 1)[-1], at)
    return notes


def _message_rows(messages, purposes: dict[int, str]) -> Iterator[list]:
    rows = messages.order_by("id").values(*_MESSAGE_FIELDS).iterator(chunk_size=CHUNK)
    for batch in _batches(rows):
        basis = _consent_basis(batch, purposes)
        notes = _retention_notes([row["id"] for row in batch])
        for row in batch:
            phone, digest = _shown_phone(row["phone"])
            note = notes.get(row["id"], {})
            content_hash = retention.content_digest(row["template_data"]) if row["template_data"] else ""
            done = []
            if retention.CONTENT_CLEARED in note:
                content_hash = content_hash or note[retention.CONTENT_CLEARED][0]
                done.append(f"template data cleared {_iso(note[retention.CONTENT_CLEARED][1])}")
            if retention.PHONE_PSEUDONYMISED in note:
                digest = digest or note[retention.PHONE_PSEUDONYMISED][0]
                done.append(f"phone pseudonymised {_iso(note[retention.PHONE_PSEUDONYMISED][1])}")
            consent_basis, consent_event = basis[row["id"]]
            data = row["template_data"]
            values = json.dumps(data, ensure_ascii=False, sort_keys=True) if data else ""
            yield [
                row["id"], row["campaign_id"], row["tracking_id"], phone, digest, row["contact_id"] or "",
                row["state"], row["attempts"], row["provider_message_id"], row["error_code"],
                row["provider_error_code"], row["provider_error_message"],
                *(_iso(row[name]) for name in _TIMES), row["in_first_slice"],
                values, content_hash, "; ".join(done), purposes.get(row["campaign_id"], ""), consent_basis,
                consent_event or "",
            ]  # fmt: skip


EVENT_COLUMNS = ["event_id", "message_id", "tracking_id", "at", "kind", "from_state", "to_state",
                 "error_code", "provider_code", "detail", "actor"]  # fmt: skip
REPORT_ACTORS = {reports.ACTOR, reports.POLL_ACTOR}
NOTE_KINDS = {
    reports.LATE_REPORT: "late_report",
    reports.BAD_REPORT: "bad_report",
    reports.USER_FEEDBACK: "feedback",
    **{code: "sms_leg" for code in reports.SMS_LEG_CODES.values()},
    retention.CONTENT_CLEARED: "retention",
    retention.PHONE_PSEUDONYMISED: "retention",
}


def event_kind(from_state: str, to_state: str, error_code: str, actor: str) -> str:
    if error_code in NOTE_KINDS:
        return NOTE_KINDS[error_code]
    if from_state == to_state:
        return "note"
    return "delivery_report" if actor in REPORT_ACTORS else "transition"


def _event_rows(messages) -> Iterator[list]:
    rows = (
        CampaignMessageEvent.objects.filter(message_id__in=messages.order_by().values("id"))
        .order_by("message_id", "at", "id")
        .values_list(
            "id",
            "message_id",
            "message__tracking_id",
            "at",
            "from_state",
            "to_state",
            "error_code",
            "provider_code",
            "detail",
            "actor",
        )  # fmt: skip
        .iterator(chunk_size=CHUNK)
    )
    for event_id, message_id, tracking, at, old, new, code, provider_code, detail, actor in rows:
        kind = event_kind(old, new, code, actor)
        yield [event_id, message_id, tracking, _iso(at), kind, old, new, code, provider_code, detail, actor]


CONSENT_COLUMNS = ["consent_event_id", "contact_id", "purpose", "kind", "occurred_at", "recorded_at",
                   "recorded_by", "source", "collector", "wording", "evidence_text",
                   "evidence_file_name", "evidence_sha256", "channel"]  # fmt: skip


def _consent_rows(messages) -> Iterator[list]:
    contacts = messages.exclude(contact_id=None).order_by().values("contact_id")
    rows = (
        ConsentEvent.objects.filter(contact_id__in=contacts)
        .order_by("contact_id", "occurred_at", "id")
        .values_list(
            "id",
            "contact_id",
            "purpose",
            "kind",
            "occurred_at",
            "recorded_at",
            "recorded_by",
            "source",
            "collector",
            "wording",
            "evidence_text",
            "evidence_file_name",
            "evidence_sha256",
            "channel",
        )  # fmt: skip
        .iterator(chunk_size=CHUNK)
    )
    for row in rows:
        yield [*row[:4], _iso(row[4]), _iso(row[5]), *row[6:]]


AUDIT_COLUMNS = ["seq", "entry_id", "occurred_at", "actor", "action", "target_type", "target_id",
                 "summary", "details", "prev_hash", "hash", "signature_valid"]  # fmt: skip


def _audit_rows(entries) -> Iterator[list]:
    rows = entries.order_by("seq").values_list(
        "seq", "id", "occurred_at", "actor", "action", "target_type", "target_id", "summary", "details",
        "prev_hash", "hash",
    ).iterator(chunk_size=CHUNK)  # fmt: skip
    for seq, entry_id, at, actor, action, target_type, target_id, summary, details, prev, digest in rows:
        expected = entry_signature(seq, prev, at, actor, action, target_type, target_id, summary, details)
        yield [
            seq, entry_id, _iso(at), actor, action, target_type, target_id, summary,
            json.dumps(details, ensure_ascii=False, sort_keys=True), prev, digest,
            hmac.compare_digest(expected, digest),
        ]  # fmt: skip


def _verification_document() -> dict:
    verification = latest_verification()
    checkpoint = AuditCheckpoint.objects.order_by("-number").first()
    head = AuditChainHead.objects.filter(pk=1).first()
    return {
        "latest_verification": {
            "started_at": _iso(verification.started_at),
            "finished_at": _iso(verification.finished_at),
            "scope": verification.scope,
            "intact": verification.intact,
            "entries_checked": verification.entries_checked,
            "entry_count": verification.entry_count,
            "first_broken_id": verification.first_broken_id,
            "reason": verification.reason,
            "checkpoint_number": verification.checkpoint_number,
        }
        if verification
        else None,
        "newest_checkpoint": {
            "number": checkpoint.number,
            "created_at": _iso(checkpoint.created_at),
            "entry_count": checkpoint.entry_count,
            "last_entry_id": checkpoint.last_entry_id,
            "last_hash": checkpoint.last_hash,
            "signature": checkpoint.signature,
        }
        if checkpoint
        else None,
        "chain_head_at_build": {"entries": head.last_seq, "last_hash": head.last_hash} if head else None,
    }


# --- writing -----------------------------------------------------------------------------------------


ABOUT = {
    "campaigns.json": "each campaign concerned, its approvals and the approval check",
    "messages.csv": "every message: state, times, codes, template values, the consent that allowed it",
    "message_events.csv": "every timeline entry: transitions, delivery reports, feedback, SMS leg, retention",
    "consent_events.csv": "the consent ledger of the contacts concerned, with evidence and its SHA-256",
    "audit_entries.csv": "the audit entries of the objects concerned, with their chain hashes",
    "audit_verification.json": "the latest verification of the whole audit log, the newest checkpoint",
}


class _PackWriter:
    """Writes members into the open ZIP one at a time, hashing what it writes, and saves progress."""

    def __init__(self, archive: zipfile.ZipFile, pack: EvidencePack):
        self.archive = archive
        self.pack = pack
        self.files: list[dict] = []
        self.written = 0
        self._saved_at = 0.0

    def _progress(self, rows: int, stage: str, force: bool = False) -> None:
        self.written += rows
        now = time.monotonic()
        if force or now - self._saved_at >= PROGRESS_EVERY_SECONDS:
            self._saved_at = now
            EvidencePack.objects.filter(pk=self.pack.pk).update(rows_written=self.written, stage=stage)

    def csv(self, name: str, header: list[str], rows: Iterable[list]) -> int:
        digest, size, count = hashlib.sha256(), 0, 0
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        out.writerow(header)
        with self.archive.open(name, "w", force_zip64=True) as member:

            def flush():
                nonlocal size
                data = buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
                member.write(data)
                digest.update(data)
                size += len(data)

            for row in rows:
                out.writerow(row)
                count += 1
                if count % CHUNK == 0:
                    flush()
                    self._progress(CHUNK, name)
            flush()
        self._progress(count % CHUNK, name, force=True)
        self.files.append(
            {
                "name": name,
                "size": size,
                "sha256": digest.hexdigest(),
                "rows": count,
                "about": ABOUT[name],
            }
        )
        return count

    def json(self, name: str, value) -> None:
        data = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True).encode()
        data += b"\n"
        self.archive.writestr(name, data)
        self.files.append(
            {
                "name": name,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "about": ABOUT[name],
            }
        )


def manifest_signature(manifest: dict) -> str:
    return sign(SIGNATURE_KIND, {key: value for key, value in manifest.items() if key != "signature"})


def _covers(pack: EvidencePack, campaign_ids: list[int], messages: int) -> dict:
    covers = {
        "scope": pack.scope,
        "subject": subject_of(pack),
        "campaigns": campaign_ids,
        "messages": messages,
    }
    if pack.scope == EvidencePack.Scope.PHONE:
        covers["phone_digest"] = pack.phone_hash
    if pack.scope == EvidencePack.Scope.PERIOD:
        covers.update(created_from=_iso(pack.period_start), created_before=_iso(pack.period_end))
    return covers


def _write_pack(pack: EvidencePack, target: Path) -> dict:
    messages = _messages(pack)
    campaign_ids = _campaign_ids(pack, messages)
    entries = _audit_entries(pack, campaign_ids, messages)
    consent = ConsentEvent.objects.filter(
        contact_id__in=messages.exclude(contact_id=None).order_by().values("contact_id")
    )
    message_count = messages.count()
    expected = (
        message_count
        + CampaignMessageEvent.objects.filter(message_id__in=messages.order_by().values("id")).count()
        + consent.count()
        + entries.count()
    )
    EvidencePack.objects.filter(pk=pack.pk).update(rows_expected=expected, stage="campaigns.json")
    campaigns = Campaign.objects.filter(pk__in=campaign_ids).select_related(
        "oa", "template", "author", "dispatch"
    )
    purposes = {c.pk: str(PURPOSE_BY_TAG.get(int(c.template.tag), "")) for c in campaigns}
    created_at = timezone.now()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        writer = _PackWriter(archive, pack)
        campaign_documents = [_campaign_document(campaign) for campaign in campaigns.order_by("pk")]
        writer.json("campaigns.json", campaign_documents)
        writer.csv("messages.csv", MESSAGE_COLUMNS, _message_rows(messages, purposes))
        writer.csv("message_events.csv", EVENT_COLUMNS, _event_rows(messages))
        writer.csv("consent_events.csv", CONSENT_COLUMNS, _consent_rows(messages))
        writer.csv("audit_entries.csv", AUDIT_COLUMNS, _audit_rows(entries))
        writer.json("audit_verification.json", _verification_document())
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "pack_id": pack.pk,
            "created_at": _iso(created_at),
            "created_by": pack.requested_by_name,
            "reason": pack.reason,
            "covers": _covers(pack, campaign_ids, message_count),
            "times": "UTC, ISO 8601",
            "phones": "masked, with the keyed digest of audiences.models.phone_digest",
            "files": writer.files,
        }
        manifest["signature"] = manifest_signature(manifest)
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return manifest


def build_pack(pack_id: int) -> EvidencePack | None:
    """The job: write the pack's ZIP and mark it ready (audited). None when it is not queued (built,
    failed or being built by another worker): safe to run twice."""
    now = timezone.now()
    if not EvidencePack.objects.filter(pk=pack_id, status=EvidencePack.Status.QUEUED).update(
        status=EvidencePack.Status.RUNNING, started_at=now, stage="counting"
    ):
        return None
    pack = EvidencePack.objects.get(pk=pack_id)
    directory = Path(settings.EVIDENCE_PACK_DIR)
    file_name = f"evidence-pack-{pack.pk}-{secrets.token_hex(4)}.zip"
    temporary = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".building-", suffix=".zip", dir=directory)
        os.close(descriptor)
        manifest = _write_pack(pack, Path(temporary))
        digest = hashlib.sha256()
        with open(temporary, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        os.replace(temporary, directory / file_name)
        temporary = None
    except Exception as exc:
        log.exception("evidence pack #%s failed", pack_id)
        if temporary:
            Path(temporary).unlink(missing_ok=True)
        with transaction.atomic():
            EvidencePack.objects.filter(pk=pack_id).update(
                status=EvidencePack.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=timezone.now(), phone="",
            )  # fmt: skip
            record_audit_event(
                actor=ACTOR, action=actions.EVIDENCE_PACK_FAIL, target=pack,
                details={"pack_id": pack_id, "error": type(exc).__name__},
            )  # fmt: skip
        return EvidencePack.objects.get(pk=pack_id)
    size = (directory / file_name).stat().st_size
    with transaction.atomic():
        EvidencePack.objects.filter(pk=pack_id).update(
            status=EvidencePack.Status.DONE, stage="", file_name=file_name, size_bytes=size,
            sha256=digest.hexdigest(), manifest_signature=manifest["signature"],
            files=[{k: f[k] for k in ("name", "size", "sha256")} for f in manifest["files"]],
            rows_written=F("rows_expected"), finished_at=timezone.now(), phone="",
        )  # fmt: skip
        record_audit_event(
            actor=ACTOR,
            action=actions.EVIDENCE_PACK_BUILD,
            target=pack,
            details={
                "pack_id": pack_id,
                "files": len(manifest["files"]) + 1,
                "messages": manifest["covers"]["messages"],
                "sha256": digest.hexdigest(),
                "manifest_signature": manifest["signature"],
            },
        )
    return EvidencePack.objects.get(pk=pack_id)


# --- verifying ------------------------------------------------------------------------------------------


class BadPackFile(Exception):
    """Not something a pack can be checked in (no such file, not a ZIP): bad input, not tampering."""


@dataclass
class PackVerification:
    problems: list[str] = field(default_factory=list)
    manifest: dict | None = None
    files_checked: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems


def _member_digest(archive: zipfile.ZipFile, name: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as member:
        for block in iter(lambda: member.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def verify_pack(path) -> PackVerification:
    """Is the pack at `path` complete and untouched? Every problem found, one per file."""
    path = Path(path)
    if not path.is_file():
        raise BadPackFile(f"no such file: {path}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadPackFile(f"{path.name} is not a ZIP file ({exc})") from None
    result = PackVerification()
    with archive:
        names = [info.filename for info in archive.infolist()]
        if MANIFEST not in names:
            result.problems.append(f"{MANIFEST}: missing (incomplete pack, or not an evidence pack)")
            return result
        try:
            manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
            listed = {entry["name"]: entry for entry in manifest["files"]}
            signature = manifest["signature"]
        except (zipfile.BadZipFile, zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError):
            result.problems.append(f"{MANIFEST}: unreadable (altered)")
            return result
        result.manifest = manifest
        if not isinstance(signature, str) or not hmac.compare_digest(manifest_signature(manifest), signature):
            result.problems.append(f"{MANIFEST}: its signature does not match (forged or altered)")
        if names.count(MANIFEST) > 1 or len(set(names)) != len(names):
            result.problems.append("the ZIP holds two members of the same name (altered)")
        for name, entry in listed.items():
            if name not in names:
                result.problems.append(f"{name}: missing")
                continue
            try:
                size, digest = _member_digest(archive, name)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
                result.problems.append(f"{name}: altered (unreadable, its checksum fails)")
                continue
            result.files_checked += 1
            if size != entry.get("size") or digest != entry.get("sha256"):
                result.problems.append(f"{name}: altered (SHA-256 differs from the manifest)")
        for name in names:
            if name != MANIFEST and name not in listed:
                result.problems.append(f"{name}: added (not in the manifest)")
    return result
