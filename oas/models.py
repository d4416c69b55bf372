from django.db import models
from django.utils.translation import gettext_lazy as _


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
