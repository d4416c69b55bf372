"""Campaigns: what is sent (template, mapping, audience), how (the Infobip Zalo API options, staged
release) and who approved it (maker-checker, bound to a SHA-256 of all of it).

Option names and limits follow Infobip's Zalo send API (`../shared/spec/infobip/zalo-openapi.json`:
`RequestSchedulingSettings.sendAt`, `SendingSpeedLimit`, `DeliveryTimeWindow`, `ValidityPeriod`,
`NonMsisdnSmsFailover`, `Platform`, `encrypted`, `Webhooks.delivery.url` / `callbackData`); they apply
to Zalo-direct OAs too, where our dispatcher enforces them. The limits the database can check are
check constraints; the rest are checked by `campaigns.composer`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"
# ValidityPeriod: "longer than 48h is not supported"; the default and maximum.
MAX_VALIDITY_SECONDS = 48 * 3600
# sendAt: "can only be scheduled for no later than 180 days in advance".
MAX_SCHEDULE_DAYS = 180
# Platform.entityId / applicationId, ZaloMessageOptions.campaignReferenceId: maxLength 255.
PLATFORM_ID_MAX_LENGTH = 255
# Webhooks.callbackData: maxLength 4000.
CALLBACK_DATA_MAX_LENGTH = 4000


class SpeedLimitTimeUnit(models.TextChoices):
    """SpeedLimitTimeUnit (default MINUTE)."""

    MINUTE = "MINUTE", _("per minute")
    HOUR = "HOUR", _("per hour")
    DAY = "DAY", _("per day")


class ValidityTimeUnit(models.TextChoices):
    """ValidityPeriodTimeUnit (default MINUTES)."""

    SECONDS = "SECONDS", _("seconds")
    MINUTES = "MINUTES", _("minutes")
    HOURS = "HOURS", _("hours")


VALIDITY_UNIT_SECONDS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600}


class DeliveryDay(models.TextChoices):
    """DeliveryDay, in ISO weekday order."""

    MONDAY = "MONDAY", _("Monday")
    TUESDAY = "TUESDAY", _("Tuesday")
    WEDNESDAY = "WEDNESDAY", _("Wednesday")
    THURSDAY = "THURSDAY", _("Thursday")
    FRIDAY = "FRIDAY", _("Friday")
    SATURDAY = "SATURDAY", _("Saturday")
    SUNDAY = "SUNDAY", _("Sunday")


def _validity_within_48h(prefix: str) -> Q:
    amount, unit = f"{prefix}_amount", f"{prefix}_time_unit"
    return Q(**{f"{amount}__isnull": True}) | (
        Q(**{f"{amount}__gte": 1})
        & (
            Q(**{unit: "SECONDS", f"{amount}__lte": MAX_VALIDITY_SECONDS})
            | Q(**{unit: "MINUTES", f"{amount}__lte": MAX_VALIDITY_SECONDS // 60})
            | Q(**{unit: "HOURS", f"{amount}__lte": MAX_VALIDITY_SECONDS // 3600})
        )
    )


class Campaign(models.Model):
    """A send of one template to an audience from one OA."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        REJECTED = "rejected", _("Rejected")
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
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_campaigns",
        verbose_name=_("author"),
    )
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones"
    )

    # Template version: the SHA-256 of what the provider said the template is (campaigns.composer.
    # template_version) when the draft was last saved, and that content, so a template that changes
    # at the provider after approval is a different version and voids the approval.
    template_version = models.CharField(_("template version"), max_length=64, blank=True)
    template_snapshot = models.JSONField(_("template snapshot"), default=dict, blank=True)

    # Audience: lists and segments, deduplicated by phone (audiences.selectors.audience_contacts).
    audience_lists = models.ManyToManyField(
        "audiences.ContactList", blank=True, related_name="campaigns", verbose_name=_("lists")
    )
    audience_segments = models.ManyToManyField(
        "audiences.Segment", blank=True, related_name="campaigns", verbose_name=_("segments")
    )

    # {parameter: {"source": "field"|"attribute"|"constant", "key": …, "value": …,
    #              "format": "none"|"date"|"number"|"currency"}}
    mapping = models.JSONField(_("parameter mapping"), default=dict, blank=True)

    # --- options (Infobip names) ---------------------------------------------------------------
    send_at = models.DateTimeField(
        _("send at"), null=True, blank=True, help_text=_("empty: as soon as approved")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default=DEFAULT_TIME_ZONE)
    sending_speed_limit_amount = models.PositiveIntegerField(_("sending speed limit"), null=True, blank=True)
    sending_speed_limit_time_unit = models.CharField(
        _("speed limit unit"),
        max_length=8,
        choices=SpeedLimitTimeUnit.choices,
        default=SpeedLimitTimeUnit.MINUTE,
    )
    # deliveryTimeWindow: no days = no window; from/to in the campaign's time zone (converted to UTC,
    # as Infobip expects, when the request is built).
    delivery_days = models.JSONField(_("delivery days"), default=list, blank=True)
    delivery_from_hour = models.PositiveSmallIntegerField(_("from hour"), null=True, blank=True)
    delivery_from_minute = models.PositiveSmallIntegerField(_("from minute"), null=True, blank=True)
    delivery_to_hour = models.PositiveSmallIntegerField(_("to hour"), null=True, blank=True)
    delivery_to_minute = models.PositiveSmallIntegerField(_("to minute"), null=True, blank=True)
    validity_period_amount = models.PositiveIntegerField(_("validity period"), null=True, blank=True)
    validity_period_time_unit = models.CharField(
        _("validity unit"), max_length=8, choices=ValidityTimeUnit.choices, default=ValidityTimeUnit.MINUTES
    )
    # smsFailover
    sms_failover_enabled = models.BooleanField(_("SMS failover"), default=False)
    sms_failover_sender = models.CharField(_("SMS sender"), max_length=64, blank=True)
    sms_failover_text = models.TextField(_("SMS text"), blank=True)
    sms_failover_mapping = models.JSONField(_("SMS text mapping"), default=dict, blank=True)
    sms_failover_validity_amount = models.PositiveIntegerField(
        _("SMS validity period"), null=True, blank=True
    )
    sms_failover_validity_time_unit = models.CharField(
        _("SMS validity unit"),
        max_length=8,
        choices=ValidityTimeUnit.choices,
        default=ValidityTimeUnit.MINUTES,
    )
    # Cost ceiling: at most this many failover SMS for the whole campaign; the dispatcher counts them
    # (an atomic UPDATE on `sms_failover_sent`) and stops failing over at the ceiling.
    sms_failover_max = models.PositiveIntegerField(_("at most N failover SMS"), null=True, blank=True)
    sms_failover_sent = models.PositiveIntegerField(_("failover SMS sent"), default=0)
    encrypted = models.BooleanField(_("encrypted template data"), default=False)
    platform_entity_id = models.CharField(
        _("platform entityId"), max_length=PLATFORM_ID_MAX_LENGTH, blank=True
    )
    platform_application_id = models.CharField(
        _("platform applicationId"), max_length=PLATFORM_ID_MAX_LENGTH, blank=True
    )
    notify_url = models.URLField(_("delivery webhook URL"), max_length=2000, blank=True)
    callback_data = models.TextField(_("callback data"), max_length=CALLBACK_DATA_MAX_LENGTH, blank=True)

    # --- staged release --------------------------------------------------------------------------
    staged_release = models.BooleanField(_("staged release"), default=False)
    stage_percent = models.DecimalField(
        _("first slice (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    stage_min_recipients = models.PositiveIntegerField(_("at least N recipients"), null=True, blank=True)
    stage_wait_minutes = models.PositiveIntegerField(_("wait (minutes)"), null=True, blank=True)
    stage_bad_report_threshold = models.DecimalField(
        _("bad-report threshold (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    # --- maker-checker ---------------------------------------------------------------------------
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    # Phones a test send goes to (Zalo development mode: only the app's / OA's admins receive it).
    test_phones = models.JSONField(_("test phones"), default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=_validity_within_48h("validity_period"), name="campaigns_validity_at_most_48h"
            ),
            models.CheckConstraint(
                condition=_validity_within_48h("sms_failover_validity"),
                name="campaigns_sms_validity_at_most_48h",
            ),
            models.CheckConstraint(
                condition=Q(sending_speed_limit_amount__isnull=True) | Q(sending_speed_limit_amount__gte=1),
                name="campaigns_speed_limit_positive",
            ),
            models.CheckConstraint(
                condition=(Q(delivery_from_hour__isnull=True) | Q(delivery_from_hour__lte=23))
                & (Q(delivery_to_hour__isnull=True) | Q(delivery_to_hour__lte=23))
                & (Q(delivery_from_minute__isnull=True) | Q(delivery_from_minute__lte=59))
                & (Q(delivery_to_minute__isnull=True) | Q(delivery_to_minute__lte=59)),
                name="campaigns_delivery_window_clock",
            ),
            models.CheckConstraint(
                condition=Q(stage_percent__isnull=True)
                | (Q(stage_percent__gt=0) & Q(stage_percent__lte=100)),
                name="campaigns_stage_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(stage_bad_report_threshold__isnull=True)
                | (Q(stage_bad_report_threshold__gte=0) & Q(stage_bad_report_threshold__lte=100)),
                name="campaigns_stage_threshold_range",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.REJECTED)

    @property
    def validity_seconds(self) -> int | None:
        if self.validity_period_amount is None:
            return None
        return self.validity_period_amount * VALIDITY_UNIT_SECONDS[self.validity_period_time_unit]

    @property
    def sms_failover_ceiling_reached(self) -> bool:
        return (
            self.sms_failover_enabled
            and self.sms_failover_max is not None
            and self.sms_failover_sent >= self.sms_failover_max
        )


class CampaignApproval(models.Model):
    """One approval of a campaign by a quality admin who is not its author, bound to the SHA-256 of
    what decides what is sent (`campaigns.approval.approval_hash`). Any change to a hashed input
    voids it (`voided_at`, with the reason); the dispatcher re-checks the hash before sending."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="campaign_approvals"
    )
    approver_name = models.CharField(_("approver"), max_length=150)
    approved_at = models.DateTimeField(_("approved"))
    approval_hash = models.CharField(_("approval hash (SHA-256)"), max_length=64)
    recipients = models.PositiveIntegerField(_("eligible recipients"))
    voided_at = models.DateTimeField(_("voided"), null=True, blank=True)
    void_reason = models.TextField(_("void reason"), blank=True)

    class Meta:
        ordering = ["-approved_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approval_hash__regex=r"^[0-9a-f]{64}$"), name="campaigns_approval_hash_sha256"
            ),
            models.UniqueConstraint(
                fields=["campaign"], condition=Q(voided_at__isnull=True), name="campaigns_one_live_approval"
            ),
        ]

    def __str__(self):
        return f"approval of campaign #{self.campaign_id} by {self.approver_name}"
