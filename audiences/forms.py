from django import forms
from django.utils.translation import gettext_lazy as _

from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile


class PhoneField(forms.CharField):
    """A Vietnamese mobile number as typed; cleaned to its normalised form (84 + 9 digits)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("label", _("Phone number"))
        kwargs.setdefault("help_text", _("A Vietnamese mobile number, for example 0912 345 678."))
        super().__init__(**kwargs)

    def to_python(self, value):
        return (value or "").strip()

    def validate(self, value):
        pass  # the parser says what is wrong, including an empty field

    def clean(self, value):
        value = self.to_python(value)
        try:
            return parse_vietnamese_mobile(value)
        except PhoneRejected as rejected:
            raise forms.ValidationError(rejected.message, code=rejected.code) from None


class SuppressionForm(forms.Form):
    phone = PhoneField()
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why."), code="required")
        return reason
