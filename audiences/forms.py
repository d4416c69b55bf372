from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audiences.models import DataRequest, phone_digest
from teams.forms import team_choice_field
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


# Data-subject requests ------------------------------------------------------------------------------


class UnechoedPhoneInput(forms.TextInput):
    """A phone input that never writes a valid number back into a re-rendered form (the page would
    otherwise show the full number); a refused entry stays so that it can be corrected."""

    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", "inputmode": "tel", **(attrs or {})})

    def format_value(self, value):
        try:
            parse_vietnamese_mobile(str(value or ""))
        except PhoneRejected:
            return super().format_value(value)
        return None


# A request received "in the future" is a typing mistake; a few minutes cover clock drift.
RECEIVED_AT_SLACK = timedelta(minutes=5)


class DataRequestForm(forms.Form):
    """Register a data-subject request: whose number, what they ask, when it reached us."""

    phone = PhoneField(widget=UnechoedPhoneInput())
    kind = forms.ChoiceField(
        label=_("Request"),
        choices=[
            (DataRequest.Kind.EXPORT, _("Export: a copy of everything held about the number")),
            (DataRequest.Kind.ERASURE, _("Erasure: remove the person's data")),
        ],
    )
    received_at = forms.DateTimeField(
        label=_("Received at"),
        help_text=_("Vietnam time. The deadline runs from the moment the request reached us."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_received_at(self):
        received_at = self.cleaned_data["received_at"]
        if received_at > timezone.now() + RECEIVED_AT_SLACK:
            raise forms.ValidationError(_("A request cannot be received in the future."), code="future")
        return received_at


class AnswerDataRequestForm(forms.Form):
    """A request keeps only a digest of the number: whoever answers it types the number again, and
    it must be the request's."""

    phone = PhoneField(
        label=_("The person's phone number, typed again"),
        help_text=_("The request keeps only a fingerprint of the number: type it to answer."),
        widget=UnechoedPhoneInput(),
    )

    def __init__(self, *args, data_request, **kwargs):
        self.data_request = data_request
        super().__init__(*args, **kwargs)

    def clean_phone(self):
        phone = self.cleaned_data["phone"]
        if phone_digest(phone) != self.data_request.phone_hash:
            raise forms.ValidationError(
                _("This is not the number of this request (%(phone)s)."),
                code="other_phone",
                params={"phone": self.data_request.phone_masked},
            )
        return phone


class ExportDataRequestForm(AnswerDataRequestForm):
    pass


class EraseDataRequestForm(AnswerDataRequestForm):
    confirm = forms.BooleanField(
        label=_("I understand that the erasure cannot be undone."),
        error_messages={"required": _("Tick the box to confirm the erasure.")},
    )


# Contact imports -----------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "A CSV file with a header row (for example: phone, name, city), saved as “CSV UTF-8” in "
            "Excel. Any delimiter Excel writes is fine."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )

    def __init__(self, *args, max_bytes: int, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        if user is not None:  # the import (and the contacts it reaches) belongs to one of their teams
            self.fields["team"] = team_choice_field(user)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB: split it into smaller files."),
                code="too_big",
                params={"size": self.max_bytes // (1024 * 1024)},
            )
        return upload


class ImportMappingForm(forms.Form):
    """Which column holds what, and the consent basis of the file (`imports.map_columns`)."""

    phone = forms.ChoiceField(label=_("Phone column"))
    name = forms.ChoiceField(label=_("Name column"), required=False)
    attributes = forms.MultipleChoiceField(
        label=_("Attribute columns"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each ticked column is stored as an attribute named after its header."),
    )
    consent_purpose = forms.ChoiceField(
        label=_("Consent the people in this file gave"),
        required=False,
        help_text=_("Without a consent basis the imported contacts get no consent: no marketing message."),
    )
    consent_collector = forms.CharField(
        label=_("Collected by"),
        max_length=200,
        required=False,
        help_text=_("Who asked for the consent (a shop, a form, a campaign)."),
    )
    consent_wording = forms.CharField(
        label=_("Wording shown to the people"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The sentence they agreed to, word for word."),
    )
    consent_evidence_text = forms.CharField(
        label=_("Evidence"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Where the proof is kept (form ids, a signed sheet…). The file's SHA-256 is recorded too."
        ),
    )

    def __init__(self, *args, header, purposes, guess=None, **kwargs):
        super().__init__(*args, **kwargs)
        columns = [(column, column) for column in header if column]
        self.fields["phone"].choices = columns
        self.fields["name"].choices = [("", _("— none —")), *columns]
        self.fields["attributes"].choices = columns
        self.fields["consent_purpose"].choices = [("", _("None — contacts get no consent")), *purposes]
        if guess and not self.is_bound:
            self.initial.update(guess)

    def clean(self):
        cleaned = super().clean()
        phone, name = cleaned.get("phone"), cleaned.get("name")
        attributes = cleaned.get("attributes") or []
        if phone and name and name == phone:
            self.add_error("name", _("The phone column cannot also be the name column."))
        if phone and phone in attributes:
            self.add_error("attributes", _("The phone column cannot also be an attribute."))
        elif name and name in attributes:
            self.add_error("attributes", _("The name column cannot also be an attribute."))
        if cleaned.get("consent_purpose"):
            for field in ("consent_collector", "consent_wording"):
                value = (cleaned.get(field) or "").strip()
                if not value:
                    self.add_error(field, _("Required when the file has a consent basis."))
                cleaned[field] = value
        return cleaned
