from django import forms
from django.utils.translation import gettext_lazy as _

from alerts import services
from alerts.models import Kind


class EndpointForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.CharField(
        label=_("URL"),
        max_length=2000,
        help_text=_("Where alerts are posted as signed JSON, e.g. a chat tool's incoming webhook."),
    )
    kinds = forms.MultipleChoiceField(
        label=_("Alert kinds"), choices=Kind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    relay_reports = forms.BooleanField(
        label=_("Relay the delivery reports of campaigns whose delivery webhook URL is this URL"),
        required=False,
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        error = services.endpoint_url_error(url)
        if error:
            raise forms.ValidationError(error)
        return url
