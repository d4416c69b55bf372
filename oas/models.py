from django.db import models
from django.utils.translation import gettext_lazy as _

from zalo_admin.lib.crypto import EncryptedTextField


class OfficialAccount(models.Model):
    """A Zalo Official Account the operator sends from."""

    class Provider(models.TextChoices):
        ZALO = "zalo", _("Zalo direct")
        INFOBIP = "infobip", _("Infobip")

    name = models.CharField(_("name"), max_length=120)
    zalo_oa_id = models.CharField(_("Zalo OA id"), max_length=64, unique=True)
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices, default=Provider.ZALO)
    is_active = models.BooleanField(_("active"), default=True)
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

    oa = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="templates")
    template_id = models.CharField(_("template id"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    tag = models.PositiveSmallIntegerField(_("tag"), choices=Tag.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ENABLED)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "template_id"], name="unique_template_per_oa")]

    def __str__(self):
        return f"{self.name} ({self.template_id})"


class OACredentials(models.Model):
    """An OA's provider credentials and tokens; every secret is encrypted at rest.

    Tokens change only in `providers.tokens`, under `select_for_update()` on this row, because Zalo's
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
    # The provider's RSA public key (Base64 DER) for `encrypted: true` sends; public, not a secret.
    rsa_public_key = models.TextField(_("RSA public key"), blank=True)
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
