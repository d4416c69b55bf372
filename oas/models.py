from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from teams.defaults import default_team_pk
from zalo_admin.lib.crypto import EncryptedTextField


class OfficialAccount(models.Model):
    """A Zalo Official Account the operator sends from."""

    class Provider(models.TextChoices):
        ZALO = "zalo", _("Zalo direct")
        INFOBIP = "infobip", _("Infobip")

    name = models.CharField(_("name"), max_length=120)
    zalo_oa_id = models.CharField(_("Zalo OA id"), max_length=64, unique=True)
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices, default=Provider.ZALO)
    owner_team = models.CharField(_("owner team"), max_length=120, blank=True)
    # Who may see and act on the OA, its templates and campaigns (`teams.scoping`).
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        related_name="oas",
        default=default_team_pk,
        verbose_name=_("team"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Kill switch: every send of this OA stops until a quality admin resumes it.
    sending_stopped = models.BooleanField(_("sending stopped"), default=False)
    stop_reason = models.TextField(_("stop reason"), blank=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    templates_synced_at = models.DateTimeField(_("templates synced at"), null=True, blank=True)
    template_sync_error = models.TextField(_("last template sync error"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Official Account")

    def __str__(self):
        return self.name


class MessageTemplate(models.Model):
    """A ZNS/ZBS template as the provider knows it."""

    class Tag(models.IntegerChoices):
        TRANSACTION = 1, _("Transaction")
        CUSTOMER_CARE = 2, _("Customer care")
        MARKETING = 3, _("Marketing")

    class Status(models.TextChoices):
        ENABLED = "ENABLE", _("Enabled")
        PENDING_REVIEW = "PENDING_REVIEW", _("Pending review")
        REJECTED = "REJECT", _("Rejected")
        DISABLED = "DISABLE", _("Disabled")

    class Quality(models.TextChoices):
        HIGH = "HIGH", _("High")
        MEDIUM = "MEDIUM", _("Medium")
        LOW = "LOW", _("Low")
        UNDEFINED = "UNDEFINED", _("Not rated yet")

    oa = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="templates")
    template_id = models.CharField(_("template id"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    tag = models.PositiveSmallIntegerField(_("tag"), choices=Tag.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ENABLED)
    status_reason = models.TextField(_("status reason"), blank=True)
    quality = models.CharField(_("quality"), max_length=10, choices=Quality.choices, blank=True)
    # [{"name", "type", "require", "maxLength", "minLength", "acceptNull"}] as the provider lists them
    params = models.JSONField(_("parameters"), default=list, blank=True)
    buttons = models.JSONField(_("buttons"), default=list, blank=True)
    sample_data = models.JSONField(_("sample data"), default=dict, blank=True)
    preview_url = models.URLField(_("preview URL"), max_length=500, blank=True)
    price = models.CharField(_("price (VND)"), max_length=20, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "template_id"], name="unique_template_per_oa")]

    def __str__(self):
        return f"{self.name} ({self.template_id})"


class OACredentials(models.Model):
    """An OA's provider credentials and tokens; every secret is encrypted at rest.

    Tokens change only in `oas.services.tokens`, under `select_for_update()` on this row, because Zalo's
    refresh token is single-use and rotating: spending it twice breaks the chain for good.
    """

    oa = models.OneToOneField(OfficialAccount, on_delete=models.CASCADE, related_name="credentials")
    # Zalo direct
    app_id = models.CharField(_("Zalo app id"), max_length=64, blank=True, db_index=True)
    app_secret = EncryptedTextField(_("Zalo app secret"), blank=True)
    oa_secret_key = EncryptedTextField(_("webhook OA secret key"), blank=True)
    access_token = EncryptedTextField(_("access token"), blank=True)
    refresh_token = EncryptedTextField(_("refresh token"), blank=True)
    access_expires_at = models.DateTimeField(_("access token expires at"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("tokens refreshed at"), null=True, blank=True)
    needs_reauthorisation = models.BooleanField(_("needs re-authorisation"), default=False)
    reauthorisation_reason = models.CharField(_("re-authorisation reason"), max_length=300, blank=True)
    # Infobip
    infobip_base_url = models.URLField(_("Infobip base URL"), blank=True)
    infobip_api_key = EncryptedTextField(_("Infobip API key"), blank=True)
    infobip_sender = models.CharField(_("Infobip sender"), max_length=64, blank=True)
    # Infobip signs nothing, so its webhook URL carries a per-OA secret; the hash finds the OA.
    infobip_webhook_token = EncryptedTextField(blank=True, editable=False)
    infobip_webhook_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("OA credentials")
        verbose_name_plural = _("OA credentials")
        constraints = [
            models.UniqueConstraint(
                fields=["infobip_webhook_token_hash"],
                condition=~models.Q(infobip_webhook_token_hash=""),
                name="unique_infobip_webhook_token",
            )
        ]

    def __str__(self):
        return f"credentials of OA #{self.oa_id}"

    def __repr__(self):
        # Never the secrets: this is what ends up in logs and tracebacks.
        return (
            f"<OACredentials oa={self.oa_id} app_id={self.app_id!r} "
            f"needs_reauth={self.needs_reauthorisation}>"
        )


class RSAKey(models.Model):
    """An RSA public key the provider holds the private half of, for `encrypted: true` sends.

    One key per OA is active; rotation keeps the old ones (retired) for the audit trail.
    """

    class Origin(models.TextChoices):
        CREATED = "created", _("Created new at the provider")
        FETCHED = "fetched", _("Fetched existing from the provider")

    oa = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="rsa_keys")
    public_key = models.TextField(_("public key (Base64 DER)"))
    fingerprint = models.CharField(_("SHA-256 fingerprint"), max_length=64)
    key_bits = models.PositiveIntegerField(_("key size (bits)"))
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["oa"], condition=models.Q(is_active=True), name="one_active_rsa_key_per_oa"
            )
        ]

    def __str__(self):
        return f"RSA-{self.key_bits} {self.fingerprint[:16]}…"


class ProviderReading(models.Model):
    """What the provider last said about an OA (quota, quality) or the error it gave, and when.

    Pages show this row and never call a provider while rendering; it is written by the OA page's
    Refresh and Test connection buttons and by a periodic job (oas.jobs.refresh_all_provider_readings).
    A failed reading keeps the last successful figures (`succeeded_at`) next to the error.
    """

    oa = models.OneToOneField(
        OfficialAccount, on_delete=models.CASCADE, primary_key=True, related_name="provider_reading"
    )
    read_at = models.DateTimeField()  # the latest attempt, successful or not
    # The latest successful reading; None (unrestricted) quotas are meaningful once succeeded_at is set.
    succeeded_at = models.DateTimeField(null=True, blank=True)
    daily_quota = models.BigIntegerField(null=True, blank=True)
    remaining_quota = models.BigIntegerField(null=True, blank=True)
    monthly_promotion_quota = models.BigIntegerField(null=True, blank=True)
    remaining_monthly_promotion_quota = models.BigIntegerField(null=True, blank=True)
    # Zalo's words (HIGH, MEDIUM, LOW, UNDEFINED); empty when the provider publishes no quality.
    quality_current = models.CharField(max_length=16, blank=True)
    quality_last_7_days = models.CharField(max_length=16, blank=True)
    # The latest attempt's failure; all empty after a success.
    error_code = models.CharField(max_length=64, blank=True)
    error_vi = models.TextField(blank=True)
    error_en = models.TextField(blank=True)
    provider_code = models.CharField(max_length=32, blank=True)
    provider_message = models.TextField(blank=True)
    detail = models.TextField(blank=True)

    def __str__(self):
        return f"provider reading of OA #{self.oa_id} at {self.read_at:%Y-%m-%d %H:%M}"

    @property
    def ok(self) -> bool:
        return not self.error_code

    def error_text(self, language: str = "vi") -> str:
        """The failure in the given language, with the provider's own words when they add something."""
        text = self.error_en if language.startswith("en") else self.error_vi
        if self.provider_message and self.provider_message not in text:
            text = f"{text} ({self.provider_message})"
        return text
