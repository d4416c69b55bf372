from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from compliance.actions import describe
from zalo_admin.lib.crypto import EncryptedTextField


class AuditEvent(models.Model):
    """One entry of the append-only audit log: who did what to which object, and why it was allowed.

    `hash` is an HMAC-SHA256 (key: settings.AUDIT_SIGNING_KEY) over the entry's position, content
    and the previous entry's hash, so whoever holds the database but not the key cannot edit,
    remove, reorder or re-chain entries undetected (`compliance.integrity`). The database refuses
    UPDATE, DELETE and TRUNCATE on this table (triggers in the migrations).
    """

    seq = models.BigIntegerField(_("position"), unique=True, help_text=_("1 for the first entry, then +1"))
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    actor = models.CharField(_("actor"), max_length=150, help_text=_("username, or system:<job> for jobs"))
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("object type"), max_length=64, blank=True)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    summary = models.TextField(_("summary"))
    details = models.JSONField(_("details"), default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"#{self.pk} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")

    @property
    def description(self) -> str:
        """What happened, in the reader's language (the entry itself stores code and parameters)."""
        return describe(self.action, self.details, self.summary)


class AuditChainHead(models.Model):
    """A single row locked while appending, so concurrent writers extend the chain one at a time."""

    last_hash = models.CharField(max_length=64)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self):
        return self.last_hash


class AuditCheckpoint(models.Model):
    """A signed statement "the log had `entry_count` entries ending with `last_hash`", chained to
    the previous checkpoint. The same record is written as a file under AUDIT_CHECKPOINT_DIR, which
    the database role cannot write: the file, not this row, is what verification trusts."""

    number = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField()
    entry_count = models.BigIntegerField()
    last_entry_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64)
    prev_signature = models.CharField(max_length=64, blank=True)
    signature = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return f"checkpoint #{self.number} ({self.entry_count} entries)"


class AuditVerification(models.Model):
    """The outcome of one run of the verifier, shown to auditors without re-hashing the log."""

    class Scope(models.TextChoices):
        FULL = "full", _("whole log")
        INCREMENTAL = "incremental", _("since the last good checkpoint")

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    scope = models.CharField(max_length=16, choices=Scope.choices)
    intact = models.BooleanField()
    entries_checked = models.BigIntegerField()
    entry_count = models.BigIntegerField()
    first_broken_id = models.BigIntegerField(null=True)
    reason = models.TextField(blank=True)
    checkpoint_number = models.PositiveIntegerField(null=True)

    class Meta:
        ordering = ["-finished_at"]

    def __str__(self):
        return f"{self.scope} verification at {self.finished_at:%Y-%m-%d %H:%M}: {self.intact}"


class EvidencePack(models.Model):
    """One evidence pack (`compliance.evidence`): what it covers, who asked and why, the job's
    progress, and once built the ZIP under settings.EVIDENCE_PACK_DIR with the SHA-256 and the
    signature of its manifest. A phone pack keeps the phone encrypted only until it is built (the
    job needs it); afterwards only its masked form and keyed digest stay."""

    class Scope(models.TextChoices):
        CAMPAIGN = "campaign", _("a campaign")
        PHONE = "phone", _("a phone number")
        PERIOD = "period", _("a date range")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Being built")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(_("requested by"), max_length=150)
    reason = models.TextField(_("reason"))
    scope = models.CharField(_("covers"), max_length=8, choices=Scope.choices)
    # No foreign key: the pack and its audit entries outlive whatever they describe.
    campaign_id = models.PositiveBigIntegerField(_("campaign"), null=True, blank=True)
    phone = EncryptedTextField(_("phone (until built)"), blank=True)
    phone_masked = models.CharField(_("phone"), max_length=11, blank=True)
    phone_hash = models.CharField(_("phone digest"), max_length=64, blank=True)
    period_start = models.DateTimeField(_("from"), null=True, blank=True)
    period_end = models.DateTimeField(_("until (excluded)"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(_("stage"), max_length=40, blank=True)
    rows_expected = models.PositiveBigIntegerField(_("rows expected"), default=0)
    rows_written = models.PositiveBigIntegerField(_("rows written"), default=0)
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256 of the ZIP"), max_length=64, blank=True)
    manifest_signature = models.CharField(_("manifest signature"), max_length=64, blank=True)
    files = models.JSONField(_("files"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    file_deleted_at = models.DateTimeField(_("file deleted"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("evidence pack")

    def __str__(self):
        return f"evidence pack #{self.pk} ({self.scope}, {self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
