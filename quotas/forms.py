"""Forms of the quality pages: forecast, manual level correction, guardrail settings."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from quotas.models import OAQuotaState

UNRESTRICTED = "unrestricted"


def level_choices(levels: list) -> list[tuple[str, str]]:
    return [
        (UNRESTRICTED, _("Unrestricted")) if level is None else (str(level), f"{level:,}") for level in levels
    ]


def parse_level(value: str) -> int | None:
    return None if value == UNRESTRICTED else int(value)


class ForecastForm(forms.Form):
    planned_daily_volume = forms.IntegerField(
        label=_("Planned messages per day"), min_value=0, max_value=10**8
    )
    days = forms.IntegerField(label=_("Days to project"), min_value=1, max_value=120, initial=30)
    bad_report_rate_percent = forms.DecimalField(
        label=_("Expected bad-report rate (%)"),
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=4,
        help_text=_("Empty: the rate of the last seven days."),
    )


class CorrectionForm(forms.Form):
    new_limit = forms.ChoiceField(label=_("New daily limit"))
    reason = forms.CharField(
        label=_("Written reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Required: why the level is corrected by hand (kept in the level history)."),
    )

    def __init__(self, *args, levels: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_limit"].choices = level_choices(levels)

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("A written reason is required."))
        return reason


class GuardrailForm(forms.Form):
    share_percent = forms.DecimalField(
        label=_("Act when today's bad reports reach this share of the violation threshold (%)"),
        min_value=Decimal(1),
        max_value=Decimal(100),
        decimal_places=1,
    )
    action = forms.ChoiceField(label=_("Action"), choices=OAQuotaState.GuardrailAction.choices)
