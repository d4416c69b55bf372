"""Alerts that reach people: what happened (Alert), who chose to hear what (AlertPreference), where
webhooks go (WebhookEndpoint), and every message sent (Delivery) with each of its tries
(DeliveryAttempt). Campaign delivery reports waiting to be relayed to a campaign's notifyUrl sit in
ReportRelay until a job posts them in batches.

Cross-app foreign keys are "app.Model" strings: this module imports no other app's models.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zalo_admin.lib.crypto import EncryptedTextField


class Kind(models.TextChoices):
    GUARDRAIL = "guardrail", _("Guardrail tripped")
    VIOLATION = "violation", _("Automatic violation")
    LEVEL_CHANGE = "level_change", _("Level changed")
    TEMPLATE_DISABLED = "template_disabled", _("Template can no longer send")
    REAUTHORISATION = "reauthorisation", _("OA needs re-authorisation")
    CAMPAIGN_PAUSED = "campaign_paused", _("Campaign paused")
    CAMPAIGN_FINISHED = "campaign_finished", _("Campaign finished")


class Channel(models.TextChoices):
    DASHBOARD = "dashboard", _("Dashboard")
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Webhook")


# Channels a person chooses for themselves (webhooks are endpoints that quality admins manage).
PERSONAL_CHANNELS = (Channel.DASHBOARD, Channel.EMAIL)


class Alert(models.Model):
    """Something that happened and that people may need to act on; shown until acknowledged."""

    kind = models.CharField(max_length=32, choices=Kind.choices)
    oa = models.ForeignKey(
        "oas.OfficialAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Plain values for the text, rendered in the reader's language (names, limits, counts…).
    params = models.JSONField(default=dict, blank=True)
    # The announcer's own words (a pause reason, a provider's message): free text, as given.
    message = models.TextField(blank=True)
    # One alert per occurrence: a repeated announcement of the same thing finds this key taken.
    dedup_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["-created_at"], name="alerts_alert_open", condition=models.Q(acknowledged_at=None)
            ),
            models.Index(
                fields=["created_at"], name="alert_not_fanned_out", condition=models.Q(fanned_out_at=None)
            ),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk}"


class AlertPreference(models.Model):
    """A person's choice for one kind on one channel; without a row the kind's default applies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preferences"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="one_preference_per_kind_channel"
            )
        ]

    def __str__(self):
        return f"{self.user_id} {self.kind}/{self.channel}: {self.enabled}"


class WebhookEndpoint(models.Model):
    """Where signed alert webhooks go (a chat tool's incoming webhook, an operator's relay)."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=2000)
    # HMAC-SHA256 key of the X-Signature header; encrypted at rest, shown once when made.
    secret = EncryptedTextField(editable=False)
    kinds = models.JSONField(_("alert kinds"), default=list, blank=True)
    # Also relay the delivery reports of campaigns whose notifyUrl is this URL.
    relay_reports = models.BooleanField(_("relay campaign delivery reports"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["url"], name="endpoint_url")]

    def __str__(self):
        return self.name


class Delivery(models.Model):
    """One message to one recipient: an alert by e-mail or webhook, or a batch of relayed reports."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.CharField(max_length=16, choices=Channel.choices)
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(max_length=2000)  # the e-mail address or URL, as it was
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()  # the exact bytes posted (webhooks), or the e-mail text
    reports = models.PositiveIntegerField(default=0)  # relayed delivery reports in the body
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_unfinished",
                condition=models.Q(status__in=["pending", "sending"]),
            )
        ]

    def __str__(self):
        return f"{self.channel} delivery #{self.pk}"


class DeliveryAttempt(models.Model):
    """One try of a delivery and what came back."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed for good")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_row_per_attempt")]

    def __str__(self):
        return f"delivery #{self.delivery_id} try {self.number}: {self.outcome}"


class ReportRelay(models.Model):
    """A delivery report waiting to be relayed to its campaign's notifyUrl (an outbox row, deleted
    once it is in a Delivery's body)."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    entry = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["campaign", "id"], name="relay_by_campaign")]

    def __str__(self):
        return f"report for campaign #{self.campaign_id}"
