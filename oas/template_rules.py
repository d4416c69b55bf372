"""Template rules, pure: no ORM and no provider calls, so the campaign builder, the views and the
services share them.

- Provider words (provider-apis.md §1.12.4, §2.6) mapped once: statuses to `MessageTemplate.Status`,
  tags (new names and the pre-2024 ones) to `MessageTemplate.Tag`, quality readings.
- The provider's parameter list in one shape (`normalise_params`).
- Validation of values against the parameters, including the RSA-OAEP size limit of a public key.
- Preview: the values a template would be sent with, and what breaks a rule.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
from django.utils.translation import gettext as _

from oas.models import MessageTemplate
from zalo_admin.lib import rsa

Status = MessageTemplate.Status
Tag = MessageTemplate.Tag

# Provider status words -> ours. Zalo: ENABLE/PENDING_REVIEW/REJECT/DISABLE (+ DELETE, DRAFT in
# webhooks); Infobip's filter names are the -D/-ED forms. DELETE is gone for good; DRAFT is being
# edited after a rejection and is not sendable either, like a template waiting for review.
STATUS_WORDS = {
    "ENABLE": Status.ENABLED,
    "ENABLED": Status.ENABLED,
    "APPROVED": Status.ENABLED,
    "PENDING_REVIEW": Status.PENDING_REVIEW,
    "PENDING": Status.PENDING_REVIEW,
    "DRAFT": Status.PENDING_REVIEW,
    "REJECT": Status.REJECTED,
    "REJECTED": Status.REJECTED,
    "DISABLE": Status.DISABLED,
    "DISABLED": Status.DISABLED,
    "DELETE": Status.DISABLED,
    "DELETED": Status.DISABLED,
}

# Tag words (S-ZC-TAG, effective 16/04/2024): new names and the old ones they replaced.
TAG_WORDS = {
    "TRANSACTION": Tag.TRANSACTION,
    "OTP": Tag.TRANSACTION,
    "IN_TRANSACTION": Tag.TRANSACTION,
    "POST_TRANSACTION": Tag.TRANSACTION,
    "CUSTOMER_CARE": Tag.CUSTOMER_CARE,
    "ACCOUNT_UPDATE": Tag.CUSTOMER_CARE,
    "GENERAL_UPDATE": Tag.CUSTOMER_CARE,
    "PROMOTION": Tag.MARKETING,
    "FOLLOW_UP": Tag.MARKETING,
    "1": Tag.TRANSACTION,
    "2": Tag.CUSTOMER_CARE,
    "3": Tag.MARKETING,
}

QUALITY_WORDS = {q.value for q in MessageTemplate.Quality}


def status_from_provider(word) -> str | None:
    """Our status for a provider's word, None when we do not know the word."""
    return STATUS_WORDS.get(str(word or "").strip().upper())


def tag_from_provider(word) -> int | None:
    """Our tag for a provider's tag word (new or old name, or the new number), None when unknown."""
    return TAG_WORDS.get(str(word or "").strip().upper())


def quality_from_provider(word) -> str:
    word = str(word or "").strip().upper()
    return word if word in QUALITY_WORDS else ""


def _int_or_none(value) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def normalise_params(params) -> list[dict]:
    """The provider's parameter list in our one shape: {name, type, require, maxLength, minLength,
    acceptNull}. Zalo says `require`, Infobip `required`; a missing flag means required and not null
    (the strict reading, as Zalo's sandbox does)."""
    out = []
    for param in params or []:
        if not isinstance(param, dict) or not param.get("name"):
            continue
        out.append(
            {
                "name": str(param["name"]),
                "type": str(param.get("type") or "STRING").upper(),
                "require": _bool(param.get("require", param.get("required")), True),
                "maxLength": _int_or_none(param.get("maxLength")),
                "minLength": _int_or_none(param.get("minLength")) or 0,
                "acceptNull": _bool(param.get("acceptNull"), False),
            }
        )
    return out


# --- validation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterError:
    """One failed rule of one parameter; `message` (in the active language) names the parameter."""

    param: str
    code: str  # required | empty | type | max_length | min_length | format | unknown | encryption
    message: str

    def __str__(self):
        return self.message


def normalise_value(value) -> str:
    """The text a value is sent as: str() of numbers, NFC-normalised (Vietnamese has two encodings of
    most accented letters; Zalo counts the composed form)."""
    if value is None:
        return ""
    return unicodedata.normalize("NFC", value if isinstance(value, str) else str(value))


_DATE_FORMATS = ("%H:%M:%S", "%H:%M", "%H:%M:%S %d/%m/%Y", "%H:%M %d/%m/%Y", "%d/%m/%Y", "%m/%Y")
_NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")
_POSITIVE_INTEGER = re.compile(r"^\d+$")
_PHONE = re.compile(r"^\+?\d{8,15}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _is_date(text: str) -> bool:
    for fmt in _DATE_FORMATS:
        try:
            datetime.strptime(text, fmt)  # noqa: DTZ007 - only the shape is checked
        except ValueError:
            continue
        return True
    return False


def _format_problem(param_type: str, text: str) -> str | None:
    """A message when the value does not fit the parameter's type; None when it does or when the
    type has no format rule (STRING, names, labels…)."""
    if param_type in ("NUMBER", "QUANTITY_AMOUNT") and not _NUMBER.match(text):
        return _("must be a number")
    if param_type in ("CURRENCY", "CURRENCY_VND") and not _POSITIVE_INTEGER.match(text):
        return _("must be a whole number of đồng, without separators")
    if param_type in ("DATE", "TIME") and not _is_date(text):
        return _("must be a date or time such as 20/11/2026, 14:30 or 14:30 20/11/2026")
    if param_type == "PHONE_NUMBER" and not _PHONE.match(text):
        return _("must be a phone number of 8 to 15 digits")
    if param_type == "URL" and not _URL.match(text):
        return _("must be a web address starting with http:// or https://")
    return None


def _public_key(public_key):
    if public_key is None or isinstance(public_key, rsa_keys.RSAPublicKey):
        return public_key
    return rsa.load_public_key(public_key)


def validate_template_data(template: MessageTemplate, data: dict, public_key=None) -> list[ParameterError]:
    """Every rule the values break, one error per parameter and rule, in the template's order.

    Rules: required, empty (acceptNull), value type (strings and numbers only), format by parameter
    type, min/max length in characters after NFC normalisation, and, with `public_key` (an RSA public
    key or its PEM/Base64 DER text; `EncryptionError` for an unreadable one), the RSA-OAEP limit of
    the key on the UTF-8 bytes of the normalised value. Keys that are not parameters are errors too
    (a typo in a mapping would otherwise send an empty value).
    """
    errors: list[ParameterError] = []
    if not isinstance(data, dict):
        return [
            ParameterError("", "type", _("The values must be a JSON object of parameter names and values."))
        ]
    key = _public_key(public_key)
    limit = rsa.max_plaintext_bytes(key) if key is not None else None
    params = normalise_params(template.params)
    known = {p["name"] for p in params}
    for param in params:
        name = param["name"]
        if name not in data:
            if param["require"]:
                errors.append(ParameterError(name, "required", _("%(name)s is required.") % {"name": name}))
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
            errors.append(
                ParameterError(name, "type", _("%(name)s must be text or a number.") % {"name": name})
            )
            continue
        text = normalise_value(value)
        if not text.strip():
            if not param["acceptNull"] and param["require"]:
                errors.append(
                    ParameterError(name, "empty", _("%(name)s must not be empty.") % {"name": name})
                )
            continue
        length = len(text)
        if param["maxLength"] is not None and length > param["maxLength"]:
            errors.append(
                ParameterError(
                    name,
                    "max_length",
                    _("%(name)s is %(length)s characters long; at most %(max)s are allowed.")
                    % {"name": name, "length": length, "max": param["maxLength"]},
                )
            )
        if param["minLength"] and length < param["minLength"]:
            errors.append(
                ParameterError(
                    name,
                    "min_length",
                    _("%(name)s is %(length)s characters long; at least %(min)s are needed.")
                    % {"name": name, "length": length, "min": param["minLength"]},
                )
            )
        problem = _format_problem(param["type"], text.strip())
        if problem:
            errors.append(ParameterError(name, "format", f"{name} {problem}."))
        if limit is not None:
            size = len(text.encode("utf-8"))
            if size > limit:
                errors.append(
                    ParameterError(
                        name,
                        "encryption",
                        _(
                            "%(name)s is %(size)s bytes in UTF-8; encrypted with this %(bits)s-bit key "
                            "a value holds at most %(limit)s bytes."
                        )
                        % {"name": name, "size": size, "bits": key.key_size, "limit": limit},
                    )
                )
    for name in data:
        if name not in known:
            errors.append(
                ParameterError(
                    str(name), "unknown", _("%(name)s is not a parameter of this template.") % {"name": name}
                )
            )
    return errors


class UnreadableKey(ValueError):
    """The OA's active RSA key cannot be used; `str()` is the message for the person, who can fix it."""


def load_active_key(key_text: str) -> rsa_keys.RSAPublicKey:
    """The OA's active key (PEM or Base64 DER) loaded; UnreadableKey, with the one message that says
    why, when it is malformed or too weak (zalo_admin.lib.rsa.load_public_key)."""
    try:
        return rsa.load_public_key(key_text)
    except rsa.EncryptionError as exc:
        raise UnreadableKey(_("The OA's active RSA key cannot be read: %(error)s") % {"error": exc}) from None


def validate_with_key_text(
    template: MessageTemplate, data: dict, key_text: str | None
) -> list[ParameterError]:
    """`validate_template_data` for an encrypted send with the OA's active key (its PEM/Base64 text,
    None when the OA has none): a missing or unreadable key is one error (param "") instead of an
    exception, for the campaign builder."""
    if key_text is None:
        return [ParameterError("", "no_key", _("This OA has no active RSA key to encrypt with."))]
    try:
        key = load_active_key(key_text)
    except UnreadableKey as exc:
        return [ParameterError("", "no_key", str(exc))]
    return validate_template_data(template, data, public_key=key)


# --- preview -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    name: str
    type: str
    required: bool
    max_length: int | None
    value: str
    missing: bool
    errors: tuple[ParameterError, ...] = ()


@dataclass(frozen=True)
class Preview:
    template: MessageTemplate
    rows: list[PreviewRow]
    errors: list[ParameterError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def template_values_from(template: MessageTemplate, contact: dict) -> dict:
    """The template's parameters picked from a contact record (other fields are ignored)."""
    names = [p["name"] for p in normalise_params(template.params)]
    return {name: contact[name] for name in names if name in contact}


def build_preview(template: MessageTemplate, data: dict, public_key=None) -> Preview:
    """The template's parameters with the values they would be sent with, and what breaks a rule."""
    errors = [e for e in validate_template_data(template, data, public_key) if e.code != "unknown"]
    rows = []
    for param in normalise_params(template.params):
        name = param["name"]
        rows.append(
            PreviewRow(
                name=name,
                type=param["type"],
                required=param["require"],
                max_length=param["maxLength"],
                value=normalise_value(data.get(name)) if name in data else "",
                missing=name not in data,
                errors=tuple(e for e in errors if e.param == name),
            )
        )
    return Preview(template=template, rows=rows, errors=errors)
