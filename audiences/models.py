"""Contacts, their per-OA follower status, the consent ledger and the do-not-contact list.

The ledgers (`ConsentEvent`, `Suppression`) are append-only like the audit log: `save()` refuses an
update, `delete()` refuses, and the database refuses UPDATE and DELETE on both tables (triggers in
migration 0002). Current consent and current suppression are derived from the latest row
(`audiences.services`), never edited in place.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# Checked by the database: PostgreSQL evaluates `phone ~ '^84[0-9]{9}$'`, SQLite the REGEXP function
# Django registers on each of its connections (the plain `LIKE '84%'` part holds for any client).
PHONE_PATTERN = r"^84[0-9]{9}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


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

    phone = models.CharField(_("phone"), max_length=11, unique=True, help_text=_("84 followed by 9 digits"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    source = models.ForeignKey(ContactSource, on_delete=models.PROTECT, related_name="contacts")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["phone"]
        constraints = [
            models.CheckConstraint(
                condition=Q(phone__regex=PHONE_PATTERN) & Q(phone__startswith="84"),
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

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="consent_events")
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
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
                    & Q(evidence_sha256__regex=SHA256_PATTERN)
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
    row is `added`; lifting it appends a `lifted` row (nothing is edited or removed)."""

    class Kind(models.TextChoices):
        ADDED = "added", _("added")
        LIFTED = "lifted", _("lifted")

    class Source(models.TextChoices):
        PROVIDER_FEEDBACK = "provider_feedback", _("provider feedback")
        OPT_OUT_REPLY = "opt_out_reply", _("opt-out reply")
        MANUAL = "manual", _("manual entry")
        DATA_REQUEST = "data_request", _("data request")

    phone = models.CharField(_("phone"), max_length=11, db_index=True)
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
                condition=Q(phone__regex=PHONE_PATTERN), name="audiences_suppression_phone_normalised"
            ),
        ]

    def __str__(self):
        return f"{self.phone} {self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"
