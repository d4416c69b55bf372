from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.Model):
    """One incoming provider webhook, stored before we answer 200 and processed by a job.

    `unique_key` makes redelivery harmless: Zalo and Infobip both resend on anything but a fast
    200, and an attacker replaying a captured request gets the same key.
    """

    class Provider(models.TextChoices):
        ZALO = "zalo", "Zalo"
        INFOBIP = "infobip", "Infobip"

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        PROCESSED = "processed", _("processed")
        FAILED = "failed", _("failed")

    provider = models.CharField(max_length=16, choices=Provider.choices)
    oa = models.ForeignKey("oas.OfficialAccount", null=True, blank=True, on_delete=models.SET_NULL)
    event_name = models.CharField(max_length=64)
    unique_key = models.CharField(max_length=64, unique=True)
    raw_body = models.TextField()
    event_timestamp = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["received_at"], name="webhook_unprocessed", condition=models.Q(status="received")
            )
        ]

    def __str__(self):
        return f"{self.provider} {self.event_name} #{self.pk}"


class ProviderAlert(models.Model):
    """Something a person must act on, e.g. an OA whose tokens can no longer be refreshed."""

    class Kind(models.TextChoices):
        REAUTHORISATION = "reauthorisation", _("OA needs re-authorisation")

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="provider_alerts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["oa", "kind"], name="alert_open", condition=models.Q(resolved_at=None))
        ]

    def __str__(self):
        return f"{self.get_kind_display()} (OA #{self.oa_id})"
