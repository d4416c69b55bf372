"""Contacts, consent and the do-not-contact list: the writers, and the one question the dispatcher
asks (`may_send`).

Phones arrive here already normalised (`84` + 9 digits); turning what people type into that form is
the job of the phone parser, not of these functions, which refuse anything else (ValueError).
Every state change writes its audit entry in the same transaction; the entries name phones masked,
since the audit log can never be edited and a phone is personal data.

Consent rules (derived from the Zalo template tags: transaction and customer care are not counted
against the per-user marketing limit and are the base of the OA's marketing quota):

- marketing needs a current grant for marketing (opt-in);
- transactional and customer care need no grant, but a current withdrawal for that purpose refuses
  them (opt-out);
- a suppressed phone gets nothing, whatever the consent;
- the current consent of a purpose is its latest ledger event (by time of the event; at the same
  instant a withdrawal wins over a grant).
"""

import hashlib
import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audiences.models import (
    PHONE_PATTERN,
    ConsentEvent,
    Contact,
    ContactConsentState,
    ContactSource,
    FollowerStatus,
    Purpose,
    Suppression,
    SuppressionState,
    phone_digest,
)
from compliance import actions
from compliance.services import actor_name, record_audit_event
from zalo_admin.lib.phones import mask_phone

_PHONE = re.compile(PHONE_PATTERN)

# Reason codes of `Decision` (stable, for the dispatcher's logs and counters).
ALLOWED_CONSENT = "consent_granted"
ALLOWED_NO_OBJECTION = "no_objection"
REFUSED_INVALID_PHONE = "invalid_phone"
REFUSED_SUPPRESSED = "suppressed"
REFUSED_WITHDRAWN = "consent_withdrawn"
REFUSED_NO_CONSENT = "no_consent"

REASON_TEXTS = {
    ALLOWED_CONSENT: _("The contact consented to this purpose."),
    ALLOWED_NO_OBJECTION: _("This purpose needs no opt-in and the contact has not withdrawn."),
    REFUSED_INVALID_PHONE: _("The phone is not a normalised Vietnamese mobile number (84 + 9 digits)."),
    REFUSED_SUPPRESSED: _("The phone is on the do-not-contact list."),
    REFUSED_WITHDRAWN: _("The contact withdrew consent for this purpose."),
    REFUSED_NO_CONSENT: _("Marketing needs the contact's consent, and none is recorded."),
}
OPT_IN_PURPOSES = frozenset({Purpose.MARKETING})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason_code: str
    reason_text: str

    def __bool__(self):
        return self.allowed


@dataclass(frozen=True)
class ConsentState:
    """The consent of one contact for one purpose: `granted`, `withdrawn` or `none` (no event yet),
    with the ledger event it comes from."""

    status: str
    event: ConsentEvent | None = None

    @property
    def granted(self) -> bool:
        return self.status == ConsentEvent.Kind.GRANTED


def _decision(allowed: bool, code: str) -> Decision:
    return Decision(allowed, code, str(REASON_TEXTS[code]))


def _checked_phone(phone) -> str:
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
        raise ValueError("the phone must be normalised: 84 followed by 9 digits")
    return phone


def _checked_purpose(purpose) -> str:
    if purpose not in Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    return str(purpose)


def _checked_time(occurred_at):
    now = timezone.now()
    if occurred_at is None:
        return now
    if occurred_at > now:
        raise ValueError("a ledger event cannot lie in the future")
    return occurred_at


def _required(**values) -> None:
    missing = [name for name, value in values.items() if not str(value or "").strip()]
    if missing:
        raise ValueError(f"required: {', '.join(missing)}")


# Contacts ------------------------------------------------------------------------------------------


def create_contact(*, actor, phone: str, source: ContactSource, name: str = "", attributes=None) -> Contact:
    actor = actor_name(actor)
    phone = _checked_phone(phone)
    with transaction.atomic():
        contact = Contact.objects.create(
            phone=phone, name=name, attributes=dict(attributes or {}), source=source
        )
        record_audit_event(
            actor=actor,
            action=actions.CONTACT_CREATE,
            target=contact,
            details={"contact_id": contact.pk, "phone": mask_phone(phone), "source": str(source)},
        )
    return contact


def set_follower_status(*, actor, contact: Contact, oa, status: str) -> FollowerStatus:
    """Record whether the contact follows the OA; audited when it changes."""
    actor = actor_name(actor)
    if status not in FollowerStatus.Status.values:
        raise ValueError(f"unknown follower status {status!r}")
    with transaction.atomic():
        row, created = FollowerStatus.objects.select_for_update().get_or_create(
            contact=contact, oa=oa, defaults={"status": status}
        )
        previous = FollowerStatus.Status.UNKNOWN if created else row.status
        if not created and row.status != status:
            row.status = status
            row.save(update_fields=["status", "updated_at"])
        if created or previous != status:
            record_audit_event(
                actor=actor,
                action=actions.CONTACT_FOLLOWER_STATUS,
                target=row,
                details={"contact_id": contact.pk, "oa_id": oa.pk, "from": previous, "to": status},
            )
    return row


def record_phone_reveal(*, actor, contact: Contact) -> None:
    """Audit that the actor asked to see the contact's full number (the entry names it masked)."""
    record_audit_event(
        actor=actor_name(actor),
        action=actions.CONTACT_PHONE_REVEAL,
        target=contact,
        details={"contact_id": contact.pk, "phone": mask_phone(contact.phone)},
    )


# Consent ledger ------------------------------------------------------------------------------------


def _file_digest(evidence_file) -> str:
    digest = hashlib.sha256()
    if hasattr(evidence_file, "seek"):
        evidence_file.seek(0)
    chunks = (
        evidence_file.chunks()
        if hasattr(evidence_file, "chunks")
        else iter(lambda: evidence_file.read(65536), b"")
    )
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def grant_consent(
    *,
    actor,
    contact: Contact,
    purpose: str,
    source: str,
    collector: str,
    wording: str,
    evidence_text: str = "",
    evidence_file=None,
    occurred_at=None,
) -> ConsentEvent:
    """Append a grant. Evidence is a text or a file (its SHA-256 and name are kept in the ledger:
    storing the file's bytes is the caller's concern); `wording` is what the person was shown."""
    actor = actor_name(actor)
    purpose = _checked_purpose(purpose)
    _required(source=source, collector=collector, wording=wording)
    if evidence_file is not None:
        sha256, file_name = _file_digest(evidence_file), getattr(evidence_file, "name", "") or "evidence"
    elif str(evidence_text or "").strip():
        sha256, file_name = hashlib.sha256(evidence_text.encode()).hexdigest(), ""
    else:
        raise ValueError("a grant needs evidence: a text or a file")
    with transaction.atomic():
        event = ConsentEvent.objects.create(
            contact=contact,
            purpose=purpose,
            kind=ConsentEvent.Kind.GRANTED,
            occurred_at=_checked_time(occurred_at),
            recorded_by=actor,
            source=source,
            collector=collector,
            wording=wording,
            evidence_text=evidence_text or "",
            evidence_file_name=file_name,
            evidence_sha256=sha256,
        )
        record_audit_event(
            actor=actor,
            action=actions.CONSENT_GRANT,
            target=event,
            details={
                "contact_id": contact.pk,
                "purpose": purpose,
                "source": source,
                "collector": collector,
                "evidence_sha256": sha256,
            },
        )
    return event


def withdraw_consent(
    *, actor, contact: Contact, purpose: str, channel: str, occurred_at=None
) -> ConsentEvent:
    """Append a withdrawal; it holds for every send decided after this call returns."""
    actor = actor_name(actor)
    purpose = _checked_purpose(purpose)
    if channel not in ConsentEvent.Channel.values:
        raise ValueError(f"unknown withdrawal channel {channel!r}")
    with transaction.atomic():
        event = ConsentEvent.objects.create(
            contact=contact,
            purpose=purpose,
            kind=ConsentEvent.Kind.WITHDRAWN,
            occurred_at=_checked_time(occurred_at),
            recorded_by=actor,
            channel=channel,
        )
        record_audit_event(
            actor=actor,
            action=actions.CONSENT_WITHDRAW,
            target=event,
            details={"contact_id": contact.pk, "purpose": purpose, "channel": channel},
        )
    return event


def current_consent(contact: Contact, purpose: str) -> ConsentState:
    """The latest ledger event of the purpose decides; at the same instant a withdrawal wins."""
    purpose = _checked_purpose(purpose)
    event = (
        ConsentEvent.objects.filter(contact=contact, purpose=purpose)
        .order_by("-occurred_at", "-kind", "-id")  # "withdrawn" sorts after "granted"
        .first()
    )
    return ConsentState(event.kind, event) if event else ConsentState("none")


# Do-not-contact list -------------------------------------------------------------------------------


def current_suppression(phone: str) -> Suppression | None:
    """The row that suppresses the phone now, or None when it is not (or no longer) suppressed."""
    latest = (
        Suppression.objects.filter(phone_hash=phone_digest(phone)).order_by("-occurred_at", "-id").first()
    )
    return latest if latest is not None and latest.kind == Suppression.Kind.ADDED else None


def _append_suppression(*, actor: str, phone: str, kind: str, reason: str, source: str, action: str):
    """One row of the do-not-contact ledger and its audit entry (the caller holds the transaction)."""
    row = Suppression.objects.create(
        phone=phone, kind=kind, reason=reason, source=source, occurred_at=timezone.now(), recorded_by=actor
    )
    record_audit_event(
        actor=actor,
        action=action,
        target=row,
        details={"phone": mask_phone(phone), "source": source, "reason": reason},
    )
    return row


def _checked_suppression_input(actor, phone, reason, source) -> tuple[str, str]:
    actor = actor_name(actor)
    phone = _checked_phone(phone)
    _required(reason=reason)
    if source not in Suppression.Source.values:
        raise ValueError(f"unknown suppression source {source!r}")
    return actor, phone


def suppress_phone(*, actor, phone: str, reason: str, source: str) -> Suppression:
    """Put the phone on the do-not-contact list (a phone already on it keeps its row, nothing new
    is recorded). Takes effect for every send decided after this call returns."""
    actor, phone = _checked_suppression_input(actor, phone, reason, source)
    with transaction.atomic():
        existing = current_suppression(phone)
        if existing is not None:
            return existing
        return _append_suppression(
            actor=actor,
            phone=phone,
            kind=Suppression.Kind.ADDED,
            reason=reason,
            source=source,
            action=actions.SUPPRESSION_ADD,
        )


def lift_suppression(
    *, actor, phone: str, reason: str, source: str = Suppression.Source.MANUAL
) -> Suppression:
    """Take the phone off the list by appending a `lifted` row; refused when it is not on it."""
    actor, phone = _checked_suppression_input(actor, phone, reason, source)
    with transaction.atomic():
        if current_suppression(phone) is None:
            raise ValueError("the phone is not on the do-not-contact list")
        return _append_suppression(
            actor=actor,
            phone=phone,
            kind=Suppression.Kind.LIFTED,
            reason=reason,
            source=source,
            action=actions.SUPPRESSION_LIFT,
        )


def record_opt_out(*, actor, phone: str, channel: str, source: str, reason: str) -> Suppression:
    """A person asked to stop (a stop-word reply, a provider's feedback): withdraw the contact's
    marketing consent and put the phone on the do-not-contact list. Idempotent: a repeated opt-out
    (the webhook job may run twice) records nothing new."""
    phone = _checked_phone(phone)
    with transaction.atomic():
        contact = Contact.objects.filter(phone=phone).first()
        if (
            contact is not None
            and current_consent(contact, Purpose.MARKETING).status != ConsentEvent.Kind.WITHDRAWN
        ):
            withdraw_consent(actor=actor, contact=contact, purpose=Purpose.MARKETING, channel=channel)
        return suppress_phone(actor=actor, phone=phone, reason=reason, source=source)


# The dispatcher's question -------------------------------------------------------------------------


def may_send(phone: str, purpose: str, oa) -> Decision:
    """May this phone get a message of this purpose from this OA now, and if not, why.

    Reads the ledgers on every call (no cache), so a withdrawal or suppression recorded before the
    call is honoured. Consent and suppression are global today, so `oa` does not change the answer
    yet; it is part of the question so per-OA rules need no new signature.
    """
    purpose = _checked_purpose(purpose)
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
        return _decision(False, REFUSED_INVALID_PHONE)
    if current_suppression(phone) is not None:
        return _decision(False, REFUSED_SUPPRESSED)
    contact = Contact.objects.filter(phone=phone).first()
    state = current_consent(contact, purpose) if contact else ConsentState("none")
    if state.status == ConsentEvent.Kind.WITHDRAWN:
        return _decision(False, REFUSED_WITHDRAWN)
    if purpose in OPT_IN_PURPOSES:
        return _decision(True, ALLOWED_CONSENT) if state.granted else _decision(False, REFUSED_NO_CONSENT)
    return _decision(True, ALLOWED_CONSENT if state.granted else ALLOWED_NO_OBJECTION)


def refusals_now(phones, purpose: str, oa) -> dict[str, Decision]:
    """`may_send` for a batch: the phones of `phones` that may not get `purpose` from `oa` now, each
    with its refusal. Set-based (a fixed number of queries), read at the moment of sending, so a
    withdrawal, suppression or erasure committed before the call is honoured for the whole batch."""
    purpose = _checked_purpose(purpose)
    phones = sorted(set(phones))
    refused = {p: _decision(False, REFUSED_INVALID_PHONE) for p in phones if not _PHONE.fullmatch(p)}
    rest = [p for p in phones if p not in refused]
    by_digest = {phone_digest(p): p for p in rest}
    for digest in SuppressionState.objects.filter(
        phone_hash__in=list(by_digest), suppressed=True
    ).values_list("phone_hash", flat=True):
        refused[by_digest[digest]] = _decision(False, REFUSED_SUPPRESSED)
    rest = [p for p in rest if p not in refused]
    granted = dict(
        ContactConsentState.objects.filter(contact__phone__in=rest, purpose=purpose).values_list(
            "contact__phone", "granted"
        )
    )
    for phone in rest:
        state = granted.get(phone)
        if state is False:
            refused[phone] = _decision(False, REFUSED_WITHDRAWN)
        elif state is None and purpose in OPT_IN_PURPOSES:
            refused[phone] = _decision(False, REFUSED_NO_CONSENT)
    return refused


# Last sent, last bad report (for segments) ---------------------------------------------------------
# Bookkeeping columns, not ledgers: the record of a send is the dispatcher's message row, the record
# of a bad report the stored webhook event, so these writes add no audit entry. Both only move
# forward (a late, older report never moves a column back) and are one set-based UPDATE.


def record_contact_sent(phones, at) -> int:
    """The dispatcher (issue 13) marks the contacts it sent to at `at`; returns the rows changed."""
    phones = sorted({_checked_phone(phone) for phone in phones})
    changed = 0
    for start in range(0, len(phones), 5000):
        changed += (
            Contact.objects.filter(phone__in=phones[start : start + 5000], erased_at__isnull=True)
            .filter(Q(last_sent_at__isnull=True) | Q(last_sent_at__lt=at))
            .update(last_sent_at=at)
        )
    return changed


def record_contact_bad_report(phone: str, at) -> int:
    """A recipient reported a message as bad (a user-feedback webhook); returns the rows changed."""
    phone = _checked_phone(phone)
    return (
        Contact.objects.filter(phone=phone, erased_at__isnull=True)
        .filter(Q(last_bad_report_at__isnull=True) | Q(last_bad_report_at__lt=at))
        .update(last_bad_report_at=at)
    )
