"""Quota and quality data: policies as rows, per-OA state and history, raw events and their rollups."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from quotas import rules

RATE = {"max_digits": 7, "decimal_places": 6, "validators": [MinValueValidator(0), MaxValueValidator(1)]}


class Policy(models.Model):
    """One version of Zalo's quota rules; a quality admin adds the next version in the Django admin."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    effective_from = models.DateField(
        _("in force for OAs registered from"), help_text=_("New OAs get the latest policy in force.")
    )
    levels = models.JSONField(
        _("levels"),
        help_text=_(
            "Daily limits in ascending order, e.g. [1000, 10000, 20000, 50000, null]; null = unrestricted."
        ),
    )
    starting_level = models.PositiveIntegerField(_("starting level"), null=True, blank=True)
    penalty_zone = models.PositiveIntegerField(_("penalty zone"))
    marketing_min_level = models.PositiveIntegerField(
        _("lowest level that may send marketing (tag 3)"),
        null=True,
        blank=True,
        help_text=_("Empty: any level."),
    )
    recipient_marketing_per_day = models.PositiveIntegerField(
        _("marketing messages per recipient per day"), null=True, blank=True, help_text=_("Empty: no cap.")
    )
    recipient_marketing_per_month = models.PositiveIntegerField(
        _("marketing messages per recipient per calendar month"),
        null=True,
        blank=True,
        help_text=_("Empty: no cap."),
    )
    marketing_quota_divisor = models.PositiveIntegerField(
        _("OA marketing quota divisor"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Monthly marketing quota = tag 1+2 sent in the previous months / this. Empty: no quota."),
    )
    marketing_quota_months = models.PositiveSmallIntegerField(_("OA marketing quota months"), default=2)
    first_marketing_month_bonus = models.PositiveIntegerField(_("first marketing month bonus"), default=0)
    high_max_rate = models.DecimalField(_("HIGH quality: bad-report rate at most"), **RATE)
    medium_max_rate = models.DecimalField(_("MEDIUM quality: bad-report rate at most"), **RATE)
    review_window_days = models.PositiveSmallIntegerField(
        _("review window (days)"), validators=[MinValueValidator(1)]
    )
    wait_days = models.PositiveSmallIntegerField(
        _("wait after a change (days)"), validators=[MinValueValidator(1)]
    )
    upgrade_multiplier = models.PositiveSmallIntegerField(_("upgrade multiplier"))
    violation_rate = models.DecimalField(
        _("automatic violation: bad reports above this share of the limit"), **RATE
    )
    marketing_daily_share = models.DecimalField(
        _("daily marketing share of the limit"),
        null=True,
        blank=True,
        help_text=_(
            "Marketing (tag 3) sent in one Vietnam day at most this share of the daily limit in force, "
            "rounded down (0.25 = 25 %). Empty: no daily share."
        ),
        **RATE,
    )
    marketing_daily_cap_unrestricted = models.PositiveIntegerField(
        _("daily marketing cap at an unrestricted limit"),
        null=True,
        blank=True,
        help_text=_("Marketing messages a day at most when the daily limit is unrestricted. Empty: no cap."),
    )

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = _("quota policy")
        verbose_name_plural = _("quota policies")

    def __str__(self):
        return self.code

    @property
    def marketing_daily_share_percent(self) -> Decimal | None:
        """The daily marketing share in per cent (0.25 → 25), for display."""
        return None if self.marketing_daily_share is None else Decimal(self.marketing_daily_share) * 100

    def to_rules(self) -> rules.Policy:
        """This row as the rules engine's policy value."""
        return rules.Policy(
            code=self.code,
            levels=tuple(self.levels),
            starting_level=self.starting_level,
            penalty_zone=self.penalty_zone,
            marketing_min_level=self.marketing_min_level,
            recipient_marketing_per_day=self.recipient_marketing_per_day,
            recipient_marketing_per_month=self.recipient_marketing_per_month,
            marketing_quota_divisor=self.marketing_quota_divisor,
            marketing_quota_months=self.marketing_quota_months,
            first_marketing_month_bonus=self.first_marketing_month_bonus,
            high_max_rate=Decimal(self.high_max_rate),
            medium_max_rate=Decimal(self.medium_max_rate),
            review_window_days=self.review_window_days,
            wait_days=self.wait_days,
            upgrade_multiplier=self.upgrade_multiplier,
            violation_rate=Decimal(self.violation_rate),
            marketing_daily_share=(
                None if self.marketing_daily_share is None else Decimal(self.marketing_daily_share)
            ),
            marketing_daily_cap_unrestricted=self.marketing_daily_cap_unrestricted,
        )

    def clean(self):
        if not isinstance(self.levels, list) or not all(
            level is None or (isinstance(level, int) and not isinstance(level, bool) and level > 0)
            for level in self.levels
        ):
            raise ValidationError({"levels": _("Levels must be a list of positive whole numbers or null.")})
        rates_given = self.high_max_rate is not None and self.medium_max_rate is not None
        if rates_given and self.high_max_rate > self.medium_max_rate:
            raise ValidationError(
                {"medium_max_rate": _("The MEDIUM bound must not be below the HIGH bound.")}
            )
        try:
            self.to_rules()
        except (ValueError, TypeError) as error:
            raise ValidationError(str(error)) from error


class OAQuotaState(models.Model):
    """The quota state of one OA: its policy, limit, review clock and guardrail settings."""

    class GuardrailAction(models.TextChoices):
        PAUSE = "pause", _("Pause marketing campaigns and alert")
        ALERT = "alert", _("Alert only")

    oa = models.OneToOneField(
        "oas.OfficialAccount", on_delete=models.CASCADE, primary_key=True, related_name="quota"
    )
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="states")
    current_limit = models.PositiveIntegerField(
        _("current limit"), null=True, blank=True, help_text=_("Empty: unrestricted.")
    )
    # A review's change waits here until 00:00 of its effective day; `pending_from_day` null = none.
    pending_limit = models.PositiveIntegerField(null=True, blank=True)
    pending_from_day = models.DateField(null=True, blank=True)
    review_clock_start = models.DateField(_("review clock start day"), null=True, blank=True)
    first_send_day = models.DateField(_("first send day"), null=True, blank=True)
    first_marketing_day = models.DateField(_("first marketing send day"), null=True, blank=True)
    guardrail_share = models.DecimalField(
        _("guardrail share of the violation threshold"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.75"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(1)],
    )
    guardrail_action = models.CharField(
        _("guardrail action"), max_length=8, choices=GuardrailAction.choices, default=GuardrailAction.PAUSE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("OA quota state")

    def __str__(self):
        return f"{self.oa} ({self.policy})"

    def clean(self):
        if self.policy_id and self.current_limit not in self.policy.levels:
            raise ValidationError(_("The current limit must be one of the policy's levels."))


class LevelChange(models.Model):
    """One change of an OA's limit and why (the level history)."""

    class Reason(models.TextChoices):
        REVIEW_UPGRADE = "review_upgrade", _("Review upgrade")
        REVIEW_DOWNGRADE = "review_downgrade", _("Review downgrade")
        VIOLATION = "violation", _("Automatic violation")
        MANUAL = "manual", _("Manual correction")

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="level_changes")
    effective_day = models.DateField()
    old_limit = models.PositiveIntegerField(null=True, blank=True)
    new_limit = models.PositiveIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.oa_id}: {self.old_limit} → {self.new_limit} ({self.reason}) from {self.effective_day}"


class LevelReview(models.Model):
    """The daily review of one OA on one day (unique: running the job twice reviews once)."""

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="level_reviews")
    day = models.DateField()
    window_sent = models.PositiveIntegerField()
    window_bad_reports = models.PositiveIntegerField()
    tier = models.CharField(max_length=10, choices=[(t.value, t.value) for t in rules.Tier])
    decision = models.CharField(max_length=10, choices=[(r.value, r.value) for r in rules.Review])
    limit = models.PositiveIntegerField(null=True, blank=True)
    new_limit = models.PositiveIntegerField(null=True, blank=True)
    cancelled_by_violation = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "day"], name="one_review_per_oa_day")]

    def __str__(self):
        return f"{self.oa_id} {self.day}: {self.decision}"


class AutomaticViolation(models.Model):
    """An automatic violation of one OA on one day (at most one per day)."""

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="violations")
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    bad_reports = models.PositiveIntegerField()
    limit = models.PositiveIntegerField(null=True, blank=True)
    new_limit = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "day"], name="one_violation_per_oa_day")]

    def __str__(self):
        return f"{self.oa_id} {self.day} hour {self.hour}"


class QualityAlert(models.Model):
    """Something a quality admin must see on the dashboard (guardrail tripped, automatic violation)."""

    class Kind(models.TextChoices):
        GUARDRAIL = "guardrail", _("Guardrail")
        VIOLATION = "violation", _("Automatic violation")

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="quality_alerts")
    day = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    message = models.TextField()
    campaigns_paused = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["oa", "day", "kind"], name="one_alert_per_oa_day_kind")
        ]

    def __str__(self):
        return f"{self.oa_id} {self.day} {self.kind}"


class QuotaEvent(models.Model):
    """A raw, append-only sent or bad-report event; the rollups are rebuilt from these."""

    class Kind(models.TextChoices):
        SENT = "sent", _("Sent")
        BAD_REPORT = "bad_report", _("Bad report")

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="quota_events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    day = models.DateField()  # Vietnam day of occurred_at
    hour = models.PositiveSmallIntegerField()  # Vietnam hour of occurred_at
    count = models.PositiveIntegerField(default=1)
    tag = models.PositiveSmallIntegerField(null=True, blank=True)
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL)
    template = models.ForeignKey("oas.MessageTemplate", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        indexes = [models.Index(fields=["oa", "day"])]

    def __str__(self):
        return f"{self.oa_id} {self.kind} ×{self.count} at {self.occurred_at}"


class Counters(models.Model):
    sent = models.PositiveIntegerField(default=0, db_default=0)
    bad_reports = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        abstract = True


class OADailyStats(Counters):
    """Messages sent and bad reports of one OA on one Vietnam calendar day (a rollup)."""

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    transactional_sent = models.PositiveIntegerField(
        default=0, db_default=0
    )  # tags 1 and 2: the marketing quota base

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "day"], name="unique_daily_stats_per_oa")]
        # Every OA's rows of one day or a range of days (the portfolio, the home chart): bounded by
        # the days read, not by the history kept (index-only with the counters on PostgreSQL).
        indexes = [models.Index(fields=["day"], include=["sent", "bad_reports"], name="daily_stats_by_day")]

    def __str__(self):
        return f"{self.oa_id} {self.day}"


class OAHourlyStats(Counters):
    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="hourly_stats")
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["oa", "day", "hour"], name="unique_hourly_stats_per_oa")
        ]
        indexes = [models.Index(fields=["day", "hour"], name="oa_hourly_stats_by_hour")]  # the hourly check

    def __str__(self):
        return f"{self.oa_id} {self.day} {self.hour}h"


class CampaignDailyStats(Counters):
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "day"], name="unique_daily_stats_per_campaign")
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.day}"


class CampaignHourlyStats(Counters):
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="hourly_stats")
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "hour"], name="unique_hourly_stats_per_campaign"
            )
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.day} {self.hour}h"


class TemplateDailyStats(Counters):
    template = models.ForeignKey("oas.MessageTemplate", on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "day"], name="unique_daily_stats_per_template")
        ]

    def __str__(self):
        return f"{self.template_id} {self.day}"


class TemplateHourlyStats(Counters):
    template = models.ForeignKey("oas.MessageTemplate", on_delete=models.CASCADE, related_name="hourly_stats")
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["template", "day", "hour"], name="unique_hourly_stats_per_template"
            )
        ]

    def __str__(self):
        return f"{self.template_id} {self.day} {self.hour}h"


class DailyQuotaUsage(models.Model):
    """Sends granted by reservations to one OA on one day (all tags, and marketing alone)."""

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="quota_usage")
    day = models.DateField()
    reserved = models.PositiveIntegerField(default=0, db_default=0)
    marketing_reserved = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "day"], name="unique_quota_usage_per_oa_day")]
        indexes = [models.Index(fields=["day"], name="quota_usage_by_day")]  # (every OA's today)

    def __str__(self):
        return f"{self.oa_id} {self.day}: {self.reserved}"


class RecipientMarketingUsage(models.Model):
    """Marketing messages granted to one recipient by one OA on one day (the per-recipient caps)."""

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=64)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["oa", "recipient", "day"], name="unique_recipient_usage_per_day")
        ]

    def __str__(self):
        return f"{self.oa_id} {self.recipient} {self.day}: {self.count}"


class QuotaReservation(models.Model):
    """Sends granted to a dispatcher for one OA and day; what is not used is released."""

    oa = models.ForeignKey("oas.OfficialAccount", on_delete=models.CASCADE, related_name="quota_reservations")
    day = models.DateField()
    tag = models.PositiveSmallIntegerField()
    requested = models.PositiveIntegerField()
    granted = models.PositiveIntegerField()
    released = models.PositiveIntegerField(default=0)
    recipients = models.JSONField(default=list)  # granted recipients (marketing), in request order
    released_recipients = models.JSONField(default=list)
    tracks_recipient_caps = models.BooleanField(default=False)  # marketing under per-recipient caps
    limited_by = models.CharField(max_length=32, blank=True)  # why fewer than requested were granted
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(released__lte=models.F("granted")), name="released_within_granted"
            )
        ]

    def __str__(self):
        return f"{self.oa_id} {self.day} tag {self.tag}: {self.granted - self.released}"
