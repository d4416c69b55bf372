"""Contacts, their per-OA follower status, the consent ledger and the do-not-contact list; static
contact lists and segments (saved filters, `audiences.segments`).

The ledgers (`ConsentEvent`, `Suppression`) are append-only like the audit log: `save()` refuses an
update, `delete()` refuses, and the database refuses UPDATE and DELETE on both tables (triggers in
migration 0002). Current consent and current suppression are derived from the latest row
(`audiences.services`), never edited in place.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

from teams.defaults import default_team_pk

# Checked by the database: PostgreSQL evaluates `phone ~ '^84[0-9]{9}$'`, SQLite the REGEXP function
# Django registers on each of its connections (the plain `LIKE '84%'` part holds for any client).
PHONE_PATTERN = r"^84[0-9]{9}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
# The same checks as the check constraints of the rows an import writes by the million: a bounded
# repetition ({64}) makes PostgreSQL's regex engine build a large automaton, which cost the consent
# ledger 7 µs a row (as much as the rest of the insert); a length test plus an unbounded class is
# the same set of strings at a fraction of the cost (migration 0007).
DIGITS_AFTER_84 = r"^84[0-9]+$"
HEX_DIGITS = r"^[0-9a-f]+$"
# An erased contact's phone is replaced by a random pseudonym ("x" + 10 hex digits): it keeps the
# row (the consent ledger references it) and the unique index, and never matches a phone.
ERASED_PHONE_PATTERN = r"^x[0-9a-f]{10}$"


def phone_digest(phone: str) -> str:
    """HMAC-SHA256 of a normalised phone, keyed from AUDIT_SIGNING_KEY (domain-separated): how the
    do-not-contact list and data requests recognise a phone without keeping it. Rotating that key
    (which also breaks the audit chain's verification) makes existing digests unmatchable."""
    key = hashlib.sha256(b"audiences.phone_digest|" + str(settings.AUDIT_SIGNING_KEY).encode()).digest()
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


class ContactSource(models.Model):
    """Where contacts came from: one CSV import, or manual entry by an operator."""

    class Kind(models.TextChoices):
        IMPORT = "import", _("import")
        MANUAL = "manual", _("manual entry")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    label = models.CharField(_("label"), max_length=200, help_text=_("file name of an import, or a note"))
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.label}"


class Contact(models.Model):
    """A person reachable by phone. `attributes` are the values offered as template parameters."""

    # Unique by a constraint, not `unique=True`: that would add a varchar_pattern_ops index for LIKE
    # that nothing queries (phones are looked up by equality), paid by every import (migration 0006).
    phone = models.CharField(_("phone"), max_length=11, help_text=_("84 followed by 9 digits"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # No foreign key in the PostgreSQL schema (migration 0007): PostgreSQL checks a deferred key row
    # by row at commit, a million checks for an import of a million contacts from one source. A
    # statement-level trigger checks the sources of the inserted (or re-sourced) contacts set-based,
    # and deleting a source that contacts still name is refused (the key's PROTECT).
    source = models.ForeignKey(
        ContactSource, on_delete=models.PROTECT, related_name="contacts", db_constraint=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Set by `audiences.data_requests.erase_person`: name, attributes and phone are gone since then.
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)
    # Kept for segments ("last sent", "last bad report"): set-based by
    # `audiences.services.record_contact_sent` (the dispatcher, issue 13) and
    # `record_contact_bad_report` (the user-feedback webhook handlers). Indexed partially (the set
    # times only): a new contact has neither, so an import writes no entry in these indexes.
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    last_bad_report_at = models.DateTimeField(_("last bad report"), null=True, blank=True)

    class Meta:
        ordering = ["phone"]
        indexes = [
            models.Index(
                fields=["last_sent_at"],
                condition=Q(last_sent_at__isnull=False),
                name="audiences_contact_sent",
            ),
            models.Index(
                fields=["last_bad_report_at"],
                condition=Q(last_bad_report_at__isnull=False),
                name="audiences_contact_bad_report",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["phone"], name="audiences_contact_phone_key"),
            models.CheckConstraint(
                condition=(
                    Q(erased_at__isnull=True)
                    & Q(Exact(Length("phone"), 11))
                    & Q(phone__regex=DIGITS_AFTER_84)
                )
                | (Q(erased_at__isnull=False) & Q(phone__regex=ERASED_PHONE_PATTERN)),
                name="audiences_contact_phone_normalised",
                violation_error_message=_("The phone must be 84 followed by 9 digits."),
            ),
        ]

    def __str__(self):
        return self.name or self.phone


class FollowerStatus(models.Model):
    """Whether a contact follows one OA (as last learnt from the provider or an import)."""

    class Status(models.TextChoices):
        FOLLOWS = "follows", _("follows")
        DOES_NOT_FOLLOW = "does_not_follow", _("does not follow")
        UNKNOWN = "unknown", _("unknown")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="follower_statuses")
    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="follower_statuses")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "oa"], name="audiences_follower_once_per_oa")
        ]
        # Segments ask "who follows this OA": an index-only scan of one OA's rows of one status.
        indexes = [models.Index(fields=["oa", "status", "contact"], name="audiences_follower_by_oa")]

    def __str__(self):
        return f"{self.contact} @ OA #{self.oa_id}: {self.status}"


class Purpose(models.TextChoices):
    """What a message is for; the Zalo template tags 1–3 (transaction, customer care, after-sales)."""

    TRANSACTIONAL = "transactional", _("transactional")
    CUSTOMER_CARE = "customer_care", _("customer care")
    MARKETING = "marketing", _("marketing")


class AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError(f"{self._meta.verbose_name} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(f"{self._meta.verbose_name} rows are append-only")


class ConsentEvent(AppendOnly):
    """One entry of the consent ledger of a contact for one purpose: granted or withdrawn."""

    class Kind(models.TextChoices):
        GRANTED = "granted", _("granted")
        WITHDRAWN = "withdrawn", _("withdrawn")

    class Channel(models.TextChoices):
        OPT_OUT_REPLY = "opt_out_reply", _("opt-out reply")
        USER_FEEDBACK = "user_feedback", _("user feedback")
        MANUAL = "manual", _("manual")
        DATA_REQUEST = "data_request", _("data request")

    # No index of its own: the (contact, purpose, occurred_at) index serves every lookup by contact.
    # No foreign key in the PostgreSQL schema either (migration 0007; checked row by row at commit,
    # it cost an import as much as writing the grants): the ledger's statement-level trigger refuses
    # rows naming no contact (set-based, SQLSTATE 23503 like the key), and deleting a contact that
    # has ledger rows is refused (the key's PROTECT). Contacts are never deleted anyway: erasure
    # pseudonymises the row.
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="consent_events", db_index=False, db_constraint=False
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # Not indexed (migration 0007): nothing reads the ledger by time alone, and an import paid an
    # index entry per grant.
    occurred_at = models.DateTimeField(_("time"))
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    recorded_by = models.CharField(_("recorded by"), max_length=150)
    # Grants: where and by whom consent was collected, what the person was shown, and the evidence.
    source = models.CharField(_("source"), max_length=200, blank=True)
    collector = models.CharField(_("collector"), max_length=200, blank=True)
    wording = models.TextField(_("wording shown"), blank=True)
    evidence_text = models.TextField(_("evidence"), blank=True)
    evidence_file_name = models.CharField(_("evidence file"), max_length=255, blank=True)
    evidence_sha256 = models.CharField(_("evidence SHA-256"), max_length=64, blank=True)
    # Withdrawals: how the person withdrew.
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)

    class Meta:
        verbose_name = _("consent event")
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["contact", "purpose", "occurred_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="granted")
                    & ~Q(wording="")
                    & Q(Exact(Length("evidence_sha256"), 64))
                    & Q(evidence_sha256__regex=HEX_DIGITS)
                    & Q(channel="")
                )
                | (Q(kind="withdrawn") & ~Q(channel="")),
                name="audiences_consent_event_complete",
            ),
        ]

    def __str__(self):
        return f"{self.contact} {self.purpose} {self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Suppression(AppendOnly):
    """The global do-not-contact list, as a ledger by phone: a phone is suppressed while its latest
    row is `added`; lifting it appends a `lifted` row (nothing is edited or removed).

    Rows are matched by `phone_hash` (`phone_digest`), not by `phone`: erasing a person blanks the
    plain phone of their rows (the one UPDATE the database lets through, migration 0004) while the
    digest keeps them on the list."""

    class Kind(models.TextChoices):
        ADDED = "added", _("added")
        LIFTED = "lifted", _("lifted")

    class Source(models.TextChoices):
        PROVIDER_FEEDBACK = "provider_feedback", _("provider feedback")
        OPT_OUT_REPLY = "opt_out_reply", _("opt-out reply")
        MANUAL = "manual", _("manual entry")
        DATA_REQUEST = "data_request", _("data request")

    phone = models.CharField(_("phone"), max_length=11, db_index=True, blank=True)
    phone_hash = models.CharField(_("phone digest"), max_length=64, db_index=True, editable=False, default="")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.ADDED)
    reason = models.TextField(_("reason"))
    source = models.CharField(_("source"), max_length=24, choices=Source.choices)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    recorded_by = models.CharField(_("recorded by"), max_length=150)

    class Meta:
        verbose_name = _("suppression")
        ordering = ["occurred_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(phone__regex=PHONE_PATTERN) | Q(phone="")) & Q(phone_hash__regex=SHA256_PATTERN),
                name="audiences_suppression_phone_normalised",
            ),
        ]

    def __str__(self):
        return f"{self.phone or _('(erased)')} {self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is None and self.phone and not self.phone_hash:
            self.phone_hash = phone_digest(self.phone)
        super().save(*args, **kwargs)


class DataRequest(models.Model):
    """A data-subject request (export or erasure) about one phone, with the deadline the law allows
    (settings.DATA_REQUEST_DEADLINE_HOURS, 72 h by default: Decree 13/2023/ND-CP, Art. 14 and 16).
    The phone is kept only as its digest and masked form, so the request survives the erasure."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("export")
        ERASURE = "erasure", _("erasure")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        COMPLETED = "completed", _("completed")

    phone_hash = models.CharField(_("phone digest"), max_length=64, db_index=True)
    phone_masked = models.CharField(_("phone"), max_length=11)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    received_at = models.DateTimeField(_("received"))
    deadline = models.DateTimeField(_("deadline"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    received_by = models.CharField(_("received by"), max_length=150)
    handled_by = models.CharField(_("handled by"), max_length=150, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="data_requests"
    )

    class Meta:
        verbose_name = _("data request")
        ordering = ["deadline", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(phone_hash__regex=SHA256_PATTERN), name="audiences_data_request_phone_hash"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.phone_masked} due {self.deadline:%Y-%m-%d %H:%M}"

    def is_overdue(self, now=None) -> bool:
        from django.utils import timezone

        if self.status == self.Status.COMPLETED:
            return bool(self.completed_at and self.completed_at > self.deadline)
        return (now or timezone.now()) > self.deadline


class ContactImport(models.Model):
    """One CSV import of contacts (`audiences.imports`): the stored file, how it is read and mapped,
    the consent basis it carries, and the progress of its job."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        MAPPED = "mapped", _("mapped")
        RUNNING = "running", _("running")
        CANCELLING = "cancelling", _("cancelling")
        CANCELLED = "cancelled", _("cancelled")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    source = models.OneToOneField(ContactSource, on_delete=models.PROTECT, related_name="contact_import")
    # The team that owns it (`teams.scoping`); contacts and consent stay global.
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        related_name="+",
        default=default_team_pk,
        verbose_name=_("team"),
    )
    file_path = models.CharField(_("stored file"), max_length=500)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64)
    original_name = models.CharField(_("file name"), max_length=255)
    encoding = models.CharField(_("encoding"), max_length=16)
    delimiter = models.CharField(_("delimiter"), max_length=1)
    header = models.JSONField(_("header"), default=list)
    mapping = models.JSONField(
        _("column mapping"),
        default=dict,
        blank=True,
        help_text=_('{"phone": col, "name": col, "attributes": [col…]}'),
    )
    # Consent basis: without a purpose the imported contacts get no consent event.
    consent_purpose = models.CharField(
        _("consent purpose"), max_length=16, choices=Purpose.choices, blank=True
    )
    consent_collector = models.CharField(_("consent collected by"), max_length=200, blank=True)
    consent_wording = models.TextField(_("consent wording shown"), blank=True)
    consent_evidence_text = models.TextField(_("consent evidence"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows read"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    rows_blank = models.PositiveIntegerField(_("blank rows"), default=0)
    rows_merged = models.PositiveIntegerField(_("contacts merged"), default=0)
    consents_granted = models.PositiveIntegerField(_("consents granted"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("contact import")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def rate(self) -> float:
        """Rows read per second so far (0 before the job starts)."""
        if not self.started_at:
            return 0.0
        end = self.finished_at or self.updated_at
        seconds = (end - self.started_at).total_seconds()
        return self.rows_done / seconds if seconds > 0 else 0.0


class ImportRejection(models.Model):
    """A row of an import that was not taken, with its line number in the file and the reason."""

    contact_import = models.ForeignKey(ContactImport, on_delete=models.CASCADE, related_name="rejections")
    line = models.PositiveIntegerField(_("line"))
    raw = models.CharField(_("row"), max_length=200, blank=True)
    code = models.CharField(_("reason code"), max_length=32)
    message = models.CharField(_("reason"), max_length=300)

    class Meta:
        verbose_name = _("import rejection")
        ordering = ["contact_import", "line"]
        indexes = [models.Index(fields=["contact_import", "line"])]

    def __str__(self):
        return f"line {self.line}: {self.code}"


# Derived current state, for fast counts -----------------------------------------------------------
# Both tables are written only by database triggers on INSERT into the ledgers (migration 0005), so
# every writer (the services, the bulk import merge, raw SQL) keeps them right; they are never
# written by the application, and equal what `audiences.services.current_consent` /
# `current_suppression` derive from the ledgers.


class ContactConsentState(models.Model):
    """The current consent of one contact for one purpose: its latest ledger event (by time; at the
    same instant a withdrawal wins; then the later row)."""

    # No foreign keys in the database (migration 0006): PostgreSQL checks them row by row at commit,
    # which cost an import as much as writing the rows. They cannot break: only the trigger writes
    # this table, copying `contact_id` and `id` from the ledger rows it is inserting; ledger rows are
    # never updated nor deleted (migration 0002), and their own foreign key keeps their contact,
    # which is never deleted either (erasure keeps the row, `data_requests.erase_person`). The
    # unique (contact, purpose) index serves lookups by contact; nothing looks states up by event.
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="consent_states",
        db_constraint=False,
        db_index=False,
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    granted = models.BooleanField(_("granted"))
    event = models.ForeignKey(
        ConsentEvent, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    changed_at = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("current consent")
        constraints = [
            models.UniqueConstraint(fields=["contact", "purpose"], name="audiences_consent_state_once"),
        ]
        indexes = [
            models.Index(
                fields=["purpose", "contact"], condition=Q(granted=True), name="audiences_consent_granted"
            ),
            models.Index(
                fields=["purpose", "contact"], condition=Q(granted=False), name="audiences_consent_withdrawn"
            ),
        ]

    def __str__(self):
        return f"{self.contact_id} {self.purpose}: {'granted' if self.granted else 'withdrawn'}"


class SuppressionState(models.Model):
    """The current do-not-contact state of one phone digest: its latest `Suppression` row. `phone`
    is the plain phone of that row (blanked, like the ledger's, when the person is erased)."""

    phone_hash = models.CharField(_("phone digest"), max_length=64, unique=True)
    phone = models.CharField(_("phone"), max_length=11, blank=True)
    suppressed = models.BooleanField(_("suppressed"))
    # Like ContactConsentState's: no foreign key in the database, only the trigger writes it from the
    # append-only ledger's rows.
    suppression = models.ForeignKey(
        Suppression, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    changed_at = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("current do-not-contact state")
        indexes = [
            models.Index(fields=["phone"], condition=Q(suppressed=True), name="audiences_suppressed_phone"),
        ]

    def __str__(self):
        return f"{self.phone or self.phone_hash[:8]}: {'suppressed' if self.suppressed else 'lifted'}"


class ContactFacts(models.Model):
    """What segment counts filter on, one narrow row per contact, so a count reads one table
    (`audiences.segments`): current consent per purpose (True granted, False withdrawn, None no
    record: `ContactConsentState`), the OAs the contact follows / does not follow (`FollowerStatus`,
    as ",3,7,"), whether the plain phone is on the do-not-contact list now (`SuppressionState`),
    erased, last sent and last bad report (the contact's columns).

    PostgreSQL only (migration 0007): written by statement-level triggers on the contact, the
    consent ledger (after its current state), follower statuses and the do-not-contact state, so it
    equals what those tables say after every statement, whoever writes them; never written by the
    application. SQLite (`make run`, small data) counts segments from the source tables directly
    and leaves this table empty."""

    contact = models.OneToOneField(
        Contact,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        related_name="facts",
        db_constraint=False,
    )
    erased = models.BooleanField(_("erased"), default=False)
    suppressed = models.BooleanField(_("on the do-not-contact list"), default=False)
    consent_transactional = models.BooleanField(_("transactional consent"), null=True)
    consent_customer_care = models.BooleanField(_("customer care consent"), null=True)
    consent_marketing = models.BooleanField(_("marketing consent"), null=True)
    follows = models.TextField(_("follows the OAs"), default="", blank=True)
    does_not_follow = models.TextField(_("does not follow the OAs"), default="", blank=True)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    last_bad_report_at = models.DateTimeField(_("last bad report"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact facts")

    def __str__(self):
        return f"facts of {self.contact_id}"


# Lists and segments --------------------------------------------------------------------------------


class ContactList(models.Model):
    """A static list of contacts, filled by hand (pasted phones) or from an import."""

    name = models.CharField(_("name"), max_length=120)
    # The team that owns it (`teams.scoping`); contacts and consent stay global.
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        related_name="+",
        default=default_team_pk,
        verbose_name=_("team"),
    )
    description = models.TextField(_("description"), blank=True)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    contacts = models.ManyToManyField(Contact, through="ContactListMember", related_name="lists")

    class Meta:
        verbose_name = _("contact list")
        ordering = ["name", "id"]
        # Names are unique within a team: another team's names are not for this team to learn.
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="audiences_list_name_per_team")]

    def __str__(self):
        return self.name


class ContactListMember(models.Model):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="list_memberships")
    added_at = models.DateTimeField(_("added"), auto_now_add=True)
    added_by = models.CharField(_("added by"), max_length=150)
    source_import = models.ForeignKey(
        ContactImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="list_members"
    )

    class Meta:
        verbose_name = _("list member")
        ordering = ["contact_list", "-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="audiences_list_member_once"),
        ]
        indexes = [models.Index(fields=["contact", "contact_list"], name="audiences_member_by_contact")]

    def __str__(self):
        return f"{self.contact_id} in {self.contact_list_id}"


class Segment(models.Model):
    """A saved filter on contacts (`definition`, validated by `audiences.segments.validate`)."""

    name = models.CharField(_("name"), max_length=120)
    # The team that owns it (`teams.scoping`); contacts and consent stay global.
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        related_name="+",
        default=default_team_pk,
        verbose_name=_("team"),
    )
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("filter"), default=dict)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="audiences_segment_name_per_team")
        ]

    def __str__(self):
        return self.name
