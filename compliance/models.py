from django.db import models
from django.utils.translation import gettext_lazy as _

from compliance.actions import describe


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
