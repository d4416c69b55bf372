from django import forms
from django.utils.translation import gettext_lazy as _

from oas.models import OfficialAccount
from oas.services.accounts import (
    SECRET_FIELDS,
    infobip_base_url_error,
    infobip_sender_error,
    rebinding_errors,
)
from quotas.models import Policy
from teams.forms import TeamChoiceField
from teams.models import Team


class OfficialAccountForm(forms.Form):
    """An OA with its credentials. Secret fields left empty keep the stored value."""

    name = forms.CharField(label=_("Name"), max_length=120)
    zalo_oa_id = forms.RegexField(
        label=_("Zalo OA id"),
        max_length=64,
        regex=r"^[A-Za-z0-9_.-]+$",
        error_messages={"invalid": _("Use only letters, digits, dot, dash and underscore.")},
    )
    provider = forms.ChoiceField(label=_("Provider"), choices=OfficialAccount.Provider.choices)
    policy = forms.ModelChoiceField(
        label=_("Quota policy"), queryset=Policy.objects.order_by("code"), to_field_name="code"
    )
    owner_team = forms.CharField(label=_("Owner team"), max_length=120, required=False)
    app_id = forms.RegexField(
        label=_("Zalo app id"),
        max_length=64,
        regex=r"^[0-9A-Za-z_-]+$",
        required=False,
        error_messages={"invalid": _("Use only letters, digits, dash and underscore.")},
    )
    app_secret = forms.CharField(label=_("Zalo app secret"), required=False, widget=forms.PasswordInput)
    oa_secret_key = forms.CharField(
        label=_("OA secret key (webhooks)"), required=False, widget=forms.PasswordInput
    )
    infobip_base_url = forms.URLField(
        label=_("Infobip base URL"), max_length=200, required=False, assume_scheme="https"
    )
    infobip_api_key = forms.CharField(label=_("Infobip API key"), required=False, widget=forms.PasswordInput)
    infobip_sender = forms.CharField(label=_("Infobip sender"), max_length=64, required=False)

    def __init__(self, *args, oa: OfficialAccount | None = None, user=None, **kwargs):
        self.oa = oa
        super().__init__(*args, **kwargs)
        # Who sees and acts on the OA (teams.scoping): one of the editor's own teams.
        if user is not None:
            editing = oa is not None and oa.pk is not None
            self.fields["team"] = TeamChoiceField(user, fallback=oa.team if editing else None)
            if editing:  # its own team stays a choice
                ids = [*self.fields["team"].queryset.values_list("pk", flat=True), oa.team_id]
                self.fields["team"].queryset = Team.objects.filter(pk__in=ids).order_by("name", "id")
        self.stored = getattr(oa, "credentials", None) if oa else None
        for name in SECRET_FIELDS:
            widget = self.fields[name].widget
            widget.attrs["autocomplete"] = "new-password"
            if self.stored is not None and getattr(self.stored, name):
                self.fields[name].help_text = _(
                    "Stored. Leave empty to keep it; type a new value to replace it."
                )

    def clean_zalo_oa_id(self):
        value = self.cleaned_data["zalo_oa_id"]
        others = OfficialAccount.objects.filter(zalo_oa_id=value)
        if self.oa is not None:
            others = others.exclude(pk=self.oa.pk)
        if others.exists():
            raise forms.ValidationError(_("Another Official Account already has this Zalo OA id."))
        return value

    def clean_infobip_base_url(self):
        value = self.cleaned_data["infobip_base_url"]
        if value and (problem := infobip_base_url_error(value)):
            raise forms.ValidationError(problem)
        return value

    def clean_infobip_sender(self):
        value = self.cleaned_data["infobip_sender"]
        if value and (problem := infobip_sender_error(value)):
            raise forms.ValidationError(problem)
        return value

    def _has(self, name: str) -> bool:
        """A credential is present when typed now or already stored."""
        return bool(self.cleaned_data.get(name)) or bool(
            self.stored is not None and getattr(self.stored, name)
        )

    def clean(self):
        cleaned = super().clean()
        provider = cleaned.get("provider")
        if provider == OfficialAccount.Provider.ZALO:
            required = {"app_id": _("Zalo app id"), "app_secret": _("Zalo app secret")}
        elif provider == OfficialAccount.Provider.INFOBIP:
            required = {
                "infobip_base_url": _("Infobip base URL"),
                "infobip_api_key": _("Infobip API key"),
                "infobip_sender": _("Infobip sender"),
            }
        else:
            required = {}
        for name, label in required.items():
            if name in self.errors:
                continue
            if not self._has(name):
                self.add_error(name, _("%(field)s is required for this provider.") % {"field": label})
        # A stored secret stays only with the endpoint (Infobip) or app (Zalo) it was typed for;
        # judged once every field it depends on is valid (save_official_account enforces it too).
        endpoint_fields = ("provider", "zalo_oa_id", "app_id", "infobip_base_url", "infobip_sender")
        if not any(name in self.errors for name in endpoint_fields):
            for name, problems in rebinding_errors(oa=self.oa, stored=self.stored, data=cleaned).items():
                if name not in self.errors:
                    for problem in problems:
                        self.add_error(name, problem)
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the audit log."),
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if len(reason) < 5:
            raise forms.ValidationError(_("Give a reason of at least 5 characters."))
        return reason
