"""Retention: personal data and message content are kept only as long as the settings say.

Each kind has its own age limit (settings `RETENTION_*`, 0 = keep forever) and keeps, in place of
what it removes, what must stay provable, as a hash:

- `message_template_data`: a sent message's rendered template values (names, order codes...) are
  cleared after RETENTION_MESSAGE_CONTENT_DAYS (90). The message's timeline gets an entry
  `RETENTION_CONTENT` whose detail is `template_data_sha256=<hex>`: the SHA-256 of the canonical
  JSON of the values (`content_digest`), so whoever holds the original values (an evidence pack
  made earlier, a customer's copy) can still prove what was sent.
- `message_phones`: after RETENTION_MESSAGE_PHONE_MONTHS (12) a message's phone becomes a
  pseudonym of the contact pseudonym rule (`x` + 10 hex digits, audiences.models
  ERASED_PHONE_PATTERN), here the row's own id in hex: unique per campaign by construction and
  telling nothing about the phone. The timeline entry `RETENTION_PHONE` keeps
  `phone_digest=<hex>` (the keyed digest the do-not-contact list uses, `phone_digest`), so a phone
  evidence pack still finds the person's old messages while nobody reads the number off the row.
  The link to the contact stays: the consent that allowed the message stays provable, and erasing
  the contact (a data request) is what removes the person.
- `report_payloads`: a processed provider webhook body (delivery report, user feedback: phones,
  free text) older than RETENTION_REPORT_PAYLOAD_DAYS (30) becomes
  `{"retention":"trimmed","sha256":...,"bytes":...}`; what it changed is on the message timeline.
- `evidence_pack_files`: a pack's ZIP is deleted after RETENTION_EVIDENCE_PACK_DAYS (30); its row
  keeps the SHA-256 of the ZIP and the manifest's signature.

Rows not sent yet (queued, claimed, sending) are never touched. Nothing here edits the audit log,
which names phones masked only: its chain keeps verifying (tests/compliance/test_retention.py).
Work goes in chunks, each its own short transaction over rows locked with skip_locked, so sending
and reports carry on; a real run is audited once, as `system:retention`, with the counts.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audiences.models import PHONE_PATTERN, phone_digest
from campaigns.models import CampaignMessage, CampaignMessageEvent
from compliance import actions
from compliance.models import EvidencePack
from compliance.services import canonical_json, record_audit_event
from providers.models import WebhookEvent

ACTOR = "system:retention"
CHUNK = 2000
S = CampaignMessage.State
UNSENT = (S.QUEUED, S.CLAIMED, S.SENDING)
# Timeline entries that change no state (as campaigns.reports' notes do), one per message and kind.
CONTENT_CLEARED = "RETENTION_CONTENT"
PHONE_PSEUDONYMISED = "RETENTION_PHONE"
CONTENT_DETAIL = "template_data_sha256="
PHONE_DETAIL = "phone_digest="
TRIMMED_MARK = '{"bytes":'  # canonical JSON of the trimmed body starts with its sorted first key
KINDS = ("message_template_data", "message_phones", "report_payloads", "evidence_pack_files")
_PHONE = re.compile(PHONE_PATTERN)


def content_digest(template_data) -> str:
    """SHA-256 of a message's template values as canonical JSON (what `RETENTION_CONTENT` keeps)."""
    return hashlib.sha256(canonical_json(template_data or {})).hexdigest()


def pseudonym(message_id: int) -> str:
    """The phone a message keeps once pseudonymised: `x` + its id in 10 hex digits."""
    return f"x{message_id:010x}"


def months_before(moment: datetime, months: int) -> datetime:
    """The same time `months` calendar months earlier (the 31st becomes the month's last day)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class RetentionPolicy:
    content_days: int
    phone_months: int
    report_payload_days: int
    evidence_pack_days: int

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            settings.RETENTION_MESSAGE_CONTENT_DAYS,
            settings.RETENTION_MESSAGE_PHONE_MONTHS,
            settings.RETENTION_REPORT_PAYLOAD_DAYS,
            settings.RETENTION_EVIDENCE_PACK_DAYS,
        )

    def cutoffs(self, now: datetime) -> dict[str, datetime | None]:
        """Per kind, what is older than this goes (None: that kind is kept forever)."""

        def days(n):
            return now - timedelta(days=n) if n else None

        return {
            "message_template_data": days(self.content_days),
            "message_phones": months_before(now, self.phone_months) if self.phone_months else None,
            "report_payloads": days(self.report_payload_days),
            "evidence_pack_files": days(self.evidence_pack_days),
        }


@dataclass
class RetentionReport:
    dry_run: bool
    cutoffs: dict[str, datetime | None]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = []
        for kind in KINDS:
            cutoff = self.cutoffs[kind]
            when = f"older than {cutoff:%Y-%m-%d %H:%M} UTC" if cutoff else "kept forever (setting 0)"
            out.append(f"{kind}: {verb} {self.counts.get(kind, 0)} ({when})")
        return out


# --- the candidates of each kind ------------------------------------------------------------------


def _content_rows(cutoff):
    return (
        CampaignMessage.objects.filter(created_at__lt=cutoff)
        .exclude(state__in=UNSENT)
        .exclude(template_data={})
    )


def _phone_rows(cutoff):
    return CampaignMessage.objects.filter(created_at__lt=cutoff, phone__regex=PHONE_PATTERN).exclude(
        state__in=UNSENT
    )


def _payload_rows(cutoff):
    return (
        WebhookEvent.objects.filter(received_at__lt=cutoff)
        .exclude(status=WebhookEvent.Status.RECEIVED)
        .exclude(raw_body__startswith=TRIMMED_MARK)
    )


def _pack_rows(cutoff):
    return EvidencePack.objects.filter(
        status=EvidencePack.Status.DONE, finished_at__lt=cutoff, file_deleted_at__isnull=True
    )


CANDIDATES: dict[str, Callable] = {
    "message_template_data": _content_rows,
    "message_phones": _phone_rows,
    "report_payloads": _payload_rows,
    "evidence_pack_files": _pack_rows,
}


# --- one chunk of each kind (its own transaction) ------------------------------------------------------


def _note(rows, code: str, detail, now) -> None:
    CampaignMessageEvent.objects.bulk_create(
        CampaignMessageEvent(
            message_id=row["id"], from_state=row["state"], to_state=row["state"], at=now,
            error_code=code, detail=detail(row), actor=ACTOR,
        )
        for row in rows
    )  # fmt: skip


def _clear_content(cutoff, now) -> int:
    with transaction.atomic():
        rows = list(
            _content_rows(cutoff)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values("id", "state", "template_data")[:CHUNK]
        )
        if not rows:
            return 0
        _note(rows, CONTENT_CLEARED, lambda row: CONTENT_DETAIL + content_digest(row["template_data"]), now)
        CampaignMessage.objects.filter(pk__in=[row["id"] for row in rows]).update(
            template_data={}, updated_at=now
        )
    return len(rows)


def _pseudonymise_phones(cutoff, now) -> int:
    with transaction.atomic():
        rows = list(
            _phone_rows(cutoff)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values("id", "state", "phone")[:CHUNK]
        )
        if not rows:
            return 0
        _note(rows, PHONE_PSEUDONYMISED, lambda row: PHONE_DETAIL + phone_digest(row["phone"]), now)
        CampaignMessage.objects.bulk_update(
            [CampaignMessage(pk=row["id"], phone=pseudonym(row["id"]), updated_at=now) for row in rows],
            ["phone", "updated_at"],
        )
    return len(rows)


def trimmed_body(raw_body: str) -> str:
    data = raw_body.encode()
    return canonical_json(
        {"bytes": len(data), "retention": "trimmed", "sha256": hashlib.sha256(data).hexdigest()}
    ).decode()


def _trim_payloads(cutoff, now) -> int:
    with transaction.atomic():
        rows = list(
            _payload_rows(cutoff)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values("id", "raw_body")[:CHUNK]
        )
        if not rows:
            return 0
        WebhookEvent.objects.bulk_update(
            [WebhookEvent(pk=row["id"], raw_body=trimmed_body(row["raw_body"])) for row in rows], ["raw_body"]
        )
    return len(rows)


def _delete_pack_files(cutoff, now) -> int:
    with transaction.atomic():
        packs = list(_pack_rows(cutoff).select_for_update(skip_locked=True).order_by("id")[:CHUNK])
        for pack in packs:
            if pack.file_name:
                (Path(settings.EVIDENCE_PACK_DIR) / pack.file_name).unlink(missing_ok=True)
        EvidencePack.objects.filter(pk__in=[p.pk for p in packs]).update(file_deleted_at=now)
    return len(packs)


APPLY: dict[str, Callable[[datetime, datetime], int]] = {
    "message_template_data": _clear_content,
    "message_phones": _pseudonymise_phones,
    "report_payloads": _trim_payloads,
    "evidence_pack_files": _delete_pack_files,
}


def run_retention(
    *, dry_run: bool = False, now: datetime | None = None, policy: RetentionPolicy | None = None
) -> RetentionReport:
    """Apply (or with `dry_run` only count) every kind of retention; a real run is audited."""
    now = now or timezone.now()
    policy = policy or RetentionPolicy.from_settings()
    report = RetentionReport(dry_run, policy.cutoffs(now))
    for kind in KINDS:
        cutoff = report.cutoffs[kind]
        if cutoff is None:
            report.counts[kind] = 0
        elif dry_run:
            report.counts[kind] = CANDIDATES[kind](cutoff).count()
        else:
            done = 0
            while chunk := APPLY[kind](cutoff, now):
                done += chunk
            report.counts[kind] = done
    if not dry_run:
        record_audit_event(
            actor=ACTOR,
            action=actions.RETENTION_RUN,
            details={
                **report.counts,
                "cutoffs": {kind: c.isoformat() if c else None for kind, c in report.cutoffs.items()},
            },
        )
    return report
