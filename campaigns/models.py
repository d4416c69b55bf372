"""Campaigns: what is sent (template, mapping, audience), how (the Infobip Zalo API options, staged
release) and who approved it (maker-checker, bound to a SHA-256 of all of it).

Option names and limits follow Infobip's Zalo send API (`sandbox/spec/infobip/zalo-openapi.json`:
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
        indexes = [
            # The campaign list: newest first, keyset pages on (created_at, id), by status or not.
            models.Index(fields=["created_at", "id"], name="campaigns_list_time_idx"),
            models.Index(fields=["status", "created_at", "id"], name="campaigns_list_status_idx"),
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


class PreflightRun(models.Model):
    """One pre-flight of a campaign (`campaigns.preflight.record_preflight`): when, by whom, the
    figures, and the summary the page shows without recomputing (no plain phones in it)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="preflight_runs")
    ran_at = models.DateTimeField(_("ran at"), db_index=True)
    ran_by = models.CharField(_("ran by"), max_length=150)
    audience = models.PositiveIntegerField(_("audience"))
    eligible = models.PositiveIntegerField(_("eligible recipients"))
    seconds = models.DecimalField(_("duration (s)"), max_digits=8, decimal_places=3)
    summary = models.JSONField(_("summary"), default=dict)

    class Meta:
        ordering = ["-ran_at", "-id"]
        verbose_name = _("pre-flight run")

    def __str__(self):
        return f"pre-flight of campaign #{self.campaign_id} at {self.ran_at:%Y-%m-%d %H:%M}"


# --- dispatch (issue 13): one row per recipient, moved forward by conditional UPDATEs ----------------

# Zalo's `tracking_id` is at most 48 characters; the same id is Infobip's `messageId`.
TRACKING_ID_MAX_LENGTH = 48
MESSAGE_STATES = (
    "queued",
    "claimed",
    "sending",
    "accepted",
    "delivered",
    "failed",
    "expired",
    "failed_over",
    "unconfirmed",
)


class CampaignMessage(models.Model):
    """One recipient of a started campaign: what is sent to whom, and where it stands.

    Rows are created set-based when the campaign starts (`campaigns.dispatch.start_campaign`), with
    their tracking id, before any HTTP call. A row only moves forward along `TRANSITIONS`, each move
    one conditional UPDATE (`campaigns.dispatch.transition`): `queued -> claimed -> sending ->
    accepted -> delivered` and the side exits. `sending` is written before the request leaves, so a
    worker killed mid-request leaves `sending` behind, which recovery turns into `unconfirmed`, never
    back into `queued`: an unconfirmed message is never re-sent automatically.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        CLAIMED = "claimed", _("Claimed")
        SENDING = "sending", _("Sending")
        ACCEPTED = "accepted", _("Accepted")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        FAILED_OVER = "failed_over", _("Failed over to SMS")
        UNCONFIRMED = "unconfirmed", _("Unconfirmed")

    # No index of its own: every index below that starts with the campaign serves its lookups (each
    # index is paid for on every state change of the largest table).
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages", db_index=False)
    contact = models.ForeignKey(
        "audiences.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_messages",
    )
    # The consent ledger event that allowed the message, fixed at start (the contact's current
    # consent for the template's purpose then; None when the purpose needs none and none was given).
    consent_event = models.ForeignKey(
        "audiences.ConsentEvent",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_index=False,
        db_constraint=False,  # ledger rows are never deleted (audiences migration 0002)
        related_name="+",
    )
    phone = models.CharField(_("phone"), max_length=11)
    # Unique by a constraint, not `unique=True`: that would add a second (pattern-ops) index on
    # PostgreSQL for LIKE searches, which nothing makes.
    tracking_id = models.CharField(_("tracking id"), max_length=TRACKING_ID_MAX_LENGTH)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.QUEUED)
    # The rendered template data, fixed at start (what was approved is what is sent, on every retry).
    template_data = models.JSONField(_("template data"), default=dict)
    # No send after this moment (the campaign's validity period from its start): the row expires.
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # A transient failure puts the row back in the queue, not before this moment (backoff).
    not_before = models.DateTimeField(null=True, blank=True)
    # Who holds a claimed/sending row (worker name) and until when the claim is good (lease).
    claimed_by = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=120, blank=True)
    error_code = models.CharField(_("error"), max_length=64, blank=True)  # ours (providers.errors)
    provider_error_code = models.CharField(_("provider code"), max_length=64, blank=True)
    provider_error_message = models.CharField(_("provider message"), max_length=500, blank=True)
    # The staged release's first slice (sent before the gate).
    in_first_slice = models.BooleanField(default=False)
    # Which of the campaign's lists (and import file) or segments brought this recipient in, fixed at
    # start (campaigns.analytics_rollups.SourceResolver); None = unknown (rows written before it).
    # No index and no cascade from the source side: sources go only with their campaign.
    audience_source = models.ForeignKey(
        "CampaignAudienceSource",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_index=False,
        db_constraint=False,  # adding it validates no existing row (the table is the largest)
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    failed_over_at = models.DateTimeField(null=True, blank=True)
    unconfirmed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "pk"]
        verbose_name = _("campaign message")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone"], name="campaigns_message_one_per_recipient"),
            models.UniqueConstraint(fields=["tracking_id"], name="campaigns_message_tracking_id_unique"),
            models.CheckConstraint(
                condition=Q(state__in=MESSAGE_STATES), name="campaigns_message_state_known"
            ),
        ]
        indexes = [
            # The dispatcher's poll: the unsent rows of a campaign, in order (a small index).
            models.Index(
                fields=["campaign", "id"], condition=Q(state="queued"), name="campaigns_msg_queued_idx"
            ),
            # Recovery: rows held by a worker (claimed / sending), by lease.
            models.Index(
                fields=["lease_until"],
                condition=Q(state__in=["claimed", "sending"]),
                name="campaigns_msg_held_idx",
            ),
            # A campaign's counts by state (its prefix), and the log's campaign (or OA, merged per
            # campaign) + state filter in page order.
            models.Index(
                fields=["campaign", "state", "created_at", "id"], name="campaigns_msg_state_time_idx"
            ),
            # The message log (campaigns.logs): newest first by (created_at, id), keyset-paginated; one
            # index per filter so that each filter, alone or combined, walks an index in page order.
            models.Index(fields=["created_at", "id"], name="campaigns_msg_log_time_idx"),
            models.Index(fields=["campaign", "created_at", "id"], name="campaigns_msg_log_campaign_idx"),
            models.Index(fields=["state", "created_at", "id"], name="campaigns_msg_log_state_idx"),
            models.Index(fields=["phone", "created_at", "id"], name="campaigns_msg_log_phone_idx"),
            models.Index(
                fields=["error_code", "created_at", "id"],
                condition=~Q(error_code=""),
                name="campaigns_msg_log_error_idx",
            ),
            models.Index(
                fields=["provider_error_code", "created_at", "id"],
                condition=~Q(provider_error_code=""),
                name="campaigns_msg_log_perror_idx",
            ),
        ]

    def __str__(self):
        return f"{self.tracking_id} ({self.state})"


class CampaignMessageEvent(models.Model):
    """Append-only timeline of a message: every transition with its time, and the request/response
    codes or the report that caused it (the per-recipient timeline)."""

    message = models.ForeignKey(CampaignMessage, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    at = models.DateTimeField(db_index=True)
    error_code = models.CharField(max_length=64, blank=True)
    provider_code = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    actor = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["message", "at", "pk"]
        verbose_name = _("campaign message event")

    def __str__(self):
        return f"{self.message_id}: {self.from_state or '-'} -> {self.to_state}"


class CampaignDispatch(models.Model):
    """The dispatcher's running state of one campaign: started when, what it waits for and until when
    (quota, window, speed limit, stage gate), consecutive provider errors, the staged-release gate."""

    class Stage(models.TextChoices):
        NONE = "none", _("No staged release")
        FIRST_SLICE = "first_slice", _("Sending the first slice")
        WAITING = "waiting", _("Waiting after the first slice")
        RELEASED = "released", _("Released to everyone")
        FAILED = "failed", _("Staged release failed")

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="dispatch")
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    wait_reason = models.CharField(_("waiting for"), max_length=32, blank=True)
    wait_until = models.DateTimeField(_("waiting until"), null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.NONE)
    stage_slice = models.PositiveIntegerField(default=0)
    stage_slice_sent_at = models.DateTimeField(null=True, blank=True)
    stage_decision = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"dispatch of campaign #{self.campaign_id}"


class CampaignSeal(models.Model):
    """A seal of a campaign's per-message evidence (campaigns.seals): the SHA-256 of every message
    row and timeline event in blocks of message ids, the root of those block hashes written to the
    audit chain. A later seal covers what happened since (late reports, feedback)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="seals")
    sealed_at = models.DateTimeField(_("sealed"))
    messages = models.PositiveIntegerField(_("messages"))
    events = models.PositiveIntegerField(_("timeline events"))
    last_event_id = models.BigIntegerField(_("last event sealed"), default=0)
    blocks = models.JSONField(default=list)  # [[first message id, last message id, sha-256], ...]
    root = models.CharField(_("root hash (SHA-256)"), max_length=64)
    audit_event_id = models.BigIntegerField(_("audit entry"), null=True)

    class Meta:
        ordering = ["-sealed_at", "-id"]
        verbose_name = _("campaign seal")

    def __str__(self):
        return f"seal of campaign #{self.campaign_id} at {self.sealed_at:%Y-%m-%d %H:%M}"


class LogExport(models.Model):
    """A CSV export of the message log prepared by a job (`campaigns.exports.run_log_export`): the
    filter it was asked with, its progress, and the file under `LOG_EXPORT_DIR` once done (deleted,
    with this row, after `LOG_EXPORT_KEEP_HOURS`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Being written")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(_("requested by"), max_length=150)
    filters = models.JSONField(_("filter"), default=dict)
    masked = models.BooleanField(_("phones masked"), default=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    rows_expected = models.PositiveBigIntegerField(_("rows expected"), null=True, blank=True)
    rows_written = models.PositiveBigIntegerField(_("rows written"), default=0)
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message log export")

    def __str__(self):
        return f"log export #{self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


# --- analytics rollups (issue 14): kept by campaigns.analytics_rollups, rebuilt from message rows ------
# Counters are signed: a row moved out of a state it was never counted in (rows written straight into
# the table, before these rollups existed) leaves a negative count until the rebuild, not an error.


class CampaignAudienceSource(models.Model):
    """One audience source of a started campaign: a list (with the import file its members came
    from, or none for members added by hand) or a segment. Each recipient is attributed to one
    source: its first list of the campaign (lowest id), else its first segment."""

    class Kind(models.TextChoices):
        LIST = "list", _("List")
        SEGMENT = "segment", _("Segment")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="audience_sources")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    contact_list = models.ForeignKey(
        "audiences.ContactList", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_import = models.ForeignKey(
        "audiences.ContactImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    segment = models.ForeignKey(
        "audiences.Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Names as they were at start (a list renamed or deleted later keeps its line in the analytics).
    list_name = models.CharField(_("list"), max_length=120, blank=True)
    import_name = models.CharField(_("import file"), max_length=255, blank=True)
    segment_name = models.CharField(_("segment"), max_length=120, blank=True)
    recipients = models.IntegerField(_("recipients"), default=0)

    class Meta:
        ordering = ["campaign", "id"]
        verbose_name = _("campaign audience source")

    def __str__(self):
        if self.kind == self.Kind.SEGMENT:
            return f"segment {self.segment_name}"
        return f"list {self.list_name}" + (f" ({self.import_name})" if self.import_name else "")


class CampaignStateCount(models.Model):
    """How many of a campaign's messages are in each state now (the funnel's per-state counts)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="state_counts")
    state = models.CharField(max_length=12)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "state"], name="campaigns_state_count_once")
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.state}: {self.count}"


class CampaignLatencyCount(models.Model):
    """Delivered messages of a campaign by delivery latency (sent to delivered), in fixed buckets
    (`campaigns.analytics_rollups.LATENCY_BUCKETS`)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="latency_counts")
    bucket = models.PositiveSmallIntegerField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "bucket"], name="campaigns_latency_bucket_once")
        ]

    def __str__(self):
        return f"{self.campaign_id} bucket {self.bucket}: {self.count}"


class CampaignSourceStats(models.Model):
    """Messages sent and the bad reports they got, by campaign, audience source and the Vietnam day
    and hour the message was sent (not when the report came): bad-report attribution. `source_key`
    is the CampaignAudienceSource id, 0 for an unknown source."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="source_stats")
    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="+", db_index=False)
    source_key = models.BigIntegerField(default=0)
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    sent = models.IntegerField(default=0, db_default=0)
    bad_reports = models.IntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "source_key", "day", "hour"], name="campaigns_source_stats_once"
            )
        ]
        indexes = [models.Index(fields=["oa", "day"], name="campaigns_source_stats_oa_day")]

    def __str__(self):
        return f"{self.campaign_id} source {self.source_key} {self.day} {self.hour}h"
