from django.db import models
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    """A send of one template to an audience from one OA."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.PROTECT, related_name="campaigns")
    template = models.ForeignKey("oas.MessageTemplate", on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.DRAFT)
    pause_reason = models.TextField(_("pause reason"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name
