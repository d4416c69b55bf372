"""Parameter mapping, pure: where each template parameter's value comes from and how it is written.

A mapping is `{parameter: {"source": "field"|"attribute"|"constant", "key": …, "value": …,
"format": "none"|"date"|"number"|"currency"}}`: `key` names the contact field (`name`, `phone`) or
the attribute, `value` is the constant. Formats write values the Vietnamese way: dates 20/11/2026,
numbers 1.500.000 (dot for thousands, comma for decimals), currency 1.500.000 ₫, except for a
parameter whose type is a currency, which Zalo wants as the bare number of đồng (it formats it).

No ORM and no project imports: the composer, the pre-flight and the dispatcher share it, and the
contact is any object with `phone`, `name` and `attributes` (or a dict with those keys).
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SOURCES = {
    "field": gettext_lazy("contact field"),
    "attribute": gettext_lazy("attribute"),
    "constant": gettext_lazy("constant"),
}
FORMATS = {
    "none": gettext_lazy("as it is"),
    "date": gettext_lazy("date (20/11/2026)"),
    "number": gettext_lazy("number (1.500.000)"),
    "currency": gettext_lazy("currency (1.500.000 ₫)"),
}
CONTACT_FIELDS = {"name": gettext_lazy("name"), "phone": gettext_lazy("phone (0912345678)")}
CURRENCY_PARAM_TYPES = ("CURRENCY", "CURRENCY_VND")
CONSTANT_MAX_LENGTH = 1000
_DATE_INPUTS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class ValueProblem(ValueError):
    """A contact's value cannot be written in the mapping's format; `str()` says why."""


@dataclass(frozen=True)
class MappingError:
    """A mapping that is not well formed, for `param` (`field` names the part: source, key, value…)."""

    param: str
    field: str
    message: str

    def __str__(self):
        return self.message


def check_mapping(mapping, param_names: list[str]) -> list[MappingError]:
    """What is wrong with the shape of a mapping for these template parameters (values not read)."""
    if not isinstance(mapping, dict):
        return [MappingError("", "mapping", _("The mapping must be an object of parameter names."))]
    errors = []
    for name in param_names:
        entry = mapping.get(name)
        if not isinstance(entry, dict) or not entry.get("source"):
            errors.append(
                MappingError(
                    name, "source", _("%(name)s: choose where its value comes from.") % {"name": name}
                )
            )
            continue
        source, fmt = entry.get("source"), entry.get("format", "none") or "none"
        if source not in SOURCES:
            errors.append(
                MappingError(
                    name,
                    "source",
                    _("%(name)s: unknown source %(source)s.") % {"name": name, "source": source},
                )
            )
        elif source == "field" and entry.get("key") not in CONTACT_FIELDS:
            errors.append(MappingError(name, "key", _("%(name)s: choose a contact field.") % {"name": name}))
        elif source == "attribute" and not str(entry.get("key") or "").strip():
            errors.append(MappingError(name, "key", _("%(name)s: name the attribute.") % {"name": name}))
        elif source == "constant":
            value = entry.get("value")
            if not isinstance(value, str):
                errors.append(
                    MappingError(name, "value", _("%(name)s: the constant must be text.") % {"name": name})
                )
            elif len(value) > CONSTANT_MAX_LENGTH:
                errors.append(
                    MappingError(
                        name,
                        "value",
                        _("%(name)s: the constant is longer than %(max)s characters.")
                        % {"name": name, "max": CONSTANT_MAX_LENGTH},
                    )
                )
        if fmt not in FORMATS:
            errors.append(
                MappingError(
                    name, "format", _("%(name)s: unknown format %(format)s.") % {"name": name, "format": fmt}
                )
            )
    for name in mapping:
        if name not in param_names:
            errors.append(
                MappingError(
                    str(name), "source", _("%(name)s is not a parameter of this template.") % {"name": name}
                )
            )
    return errors


def _get(contact, attr: str):
    if isinstance(contact, dict):
        return contact.get(attr)
    return getattr(contact, attr, None)


def local_phone(phone: str) -> str:
    """84912345678 -> 0912345678 (how a Vietnamese reader writes it)."""
    return "0" + phone[2:] if phone and phone.startswith("84") else phone or ""


def raw_value(entry: dict, contact):
    """The value before formatting: None when the contact has no such field or attribute."""
    source, key = entry.get("source"), entry.get("key")
    if source == "constant":
        return entry.get("value", "")
    if source == "field":
        if key == "phone":
            return local_phone(_get(contact, "phone") or "")
        return _get(contact, "name") or None
    attributes = _get(contact, "attributes") or {}
    return attributes.get(key) if isinstance(attributes, dict) else None


def _decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise ValueProblem(_("%(value)s is not a number") % {"value": value})
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value).strip().replace(" ", "")
    # Vietnamese writing (1.500.000,5) and the machine one (1500000.5) are both read.
    if "," in text or text.count(".") > 1 or re.fullmatch(r"-?\d{1,3}(\.\d{3})+", text):
        text = text.replace(".", "").replace(",", ".")
    if not _PLAIN_NUMBER.match(text):
        raise ValueProblem(_("%(value)s is not a number") % {"value": value})
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueProblem(_("%(value)s is not a number") % {"value": value}) from None


def vietnamese_number(value) -> str:
    """1500000 -> 1.500.000; 1234.5 -> 1.234,5."""
    number = _decimal(value).normalize()
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _sep, fraction = text.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = sign + ".".join(groups)
    return f"{out},{fraction}" if fraction else out


def vietnamese_date(value) -> str:
    """A date (or ISO / dd/mm/yyyy text) -> 20/11/2026."""
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    text = str(value).strip()
    for fmt in _DATE_INPUTS:
        try:
            return datetime.strptime(text, fmt).strftime("%d/%m/%Y")  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise ValueProblem(_("%(value)s is not a date") % {"value": value})


def format_value(value, fmt: str, param_type: str = "") -> str | None:
    """The value written in `fmt`; None stays None (a missing value). ValueProblem when unreadable."""
    if value is None:
        return None
    if fmt == "date":
        return vietnamese_date(value)
    if fmt == "number":
        return vietnamese_number(value)
    if fmt == "currency":
        amount = _decimal(value)
        if param_type.upper() in CURRENCY_PARAM_TYPES:
            # Zalo's currency parameters take the whole number of đồng and write it themselves.
            return str(int(amount.to_integral_value()))
        return f"{vietnamese_number(amount.quantize(Decimal(1)))} ₫"
    return value if isinstance(value, str) else str(value)


def render_values(mapping: dict, contact, param_types: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The template data for one contact, and the parameters whose value could not be formatted
    ({param: why}). A parameter without a value is left out (the template rules then say whether it
    is required)."""
    data, problems = {}, {}
    for name, entry in mapping.items():
        if not isinstance(entry, dict):
            continue
        try:
            value = format_value(
                raw_value(entry, contact), entry.get("format") or "none", param_types.get(name, "")
            )
        except ValueProblem as exc:
            problems[name] = str(exc)
            continue
        if value is not None:
            data[name] = value
    return data, problems


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_-]+)>|\{\{\s*([A-Za-z0-9_-]+)\s*\}\}")


def placeholders(text: str) -> list[str]:
    """The parameters an SMS text uses: <name> (as Zalo writes them) or {{name}}, in order, once."""
    seen = []
    for match in _PLACEHOLDER.finditer(text or ""):
        name = match.group(1) or match.group(2)
        if name not in seen:
            seen.append(name)
    return seen


def render_text(text: str, values: dict) -> str:
    """The SMS text with its placeholders replaced by the values (a missing value: empty)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1) or m.group(2), "")), text or "")


def canonical_json(value) -> str:
    """One text for one value: sorted keys, no spaces, UTF-8 kept (what the approval hash is over)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_of(value) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def template_version(template) -> str:
    """The version of a template as the provider last described it: the SHA-256 of what decides what
    a recipient sees (id, name, tag, parameters, buttons, preview). A sync that changes any of them
    makes a new version."""
    return sha256_of(template_snapshot(template))


def template_snapshot(template) -> dict:
    return {
        "template_id": str(template.template_id),
        "name": template.name,
        "tag": int(template.tag),
        "params": template.params or [],
        "buttons": template.buttons or [],
        "preview_url": template.preview_url or "",
    }


WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _utc_window(campaign, at: datetime) -> dict | None:
    """The campaign's delivery window as Infobip's `deliveryTimeWindow`, whose hours are UTC: days and
    hours shifted together by the time zone's offset at `at`. None when there is no window, or when
    the shifted window would straddle midnight UTC (Infobip cannot say that in one window; the
    dispatcher enforces the window itself either way)."""
    if not campaign.delivery_days or campaign.delivery_from_hour is None or campaign.delivery_to_hour is None:
        return None
    from zoneinfo import ZoneInfo

    offset = int(at.astimezone(ZoneInfo(campaign.time_zone)).utcoffset().total_seconds() // 60)
    start = campaign.delivery_from_hour * 60 + (campaign.delivery_from_minute or 0) - offset
    end = campaign.delivery_to_hour * 60 + (campaign.delivery_to_minute or 0) - offset
    day_shift, start_in_day = divmod(start, 24 * 60)
    end_shift, end_in_day = divmod(end, 24 * 60)
    if end_shift != day_shift and not (end_in_day == 0 and end_shift == day_shift + 1):
        return None
    if end_shift != day_shift:  # ends at 24:00 UTC: Infobip's last minute of the day
        end_in_day = 24 * 60 - 1
    days = [WEEK[(WEEK.index(day) + day_shift) % 7] for day in campaign.delivery_days if day in WEEK]
    return {
        "days": days,
        "from": {"hour": start_in_day // 60, "minute": start_in_day % 60},
        "to": {"hour": end_in_day // 60, "minute": end_in_day % 60},
    }


def infobip_message_options(campaign, at: datetime) -> dict:
    """The `options` Infobip defines for each message of the campaign (ZaloMessageOptions), besides
    `encrypted`, `sendingMode` and `smsFailover`: `platform`, `validityPeriod`,
    `deliveryTimeWindow` and `campaignReferenceId`."""
    options: dict = {"campaignReferenceId": f"campaign-{campaign.pk}"}
    platform = {
        key: value
        for key, value in (
            ("entityId", campaign.platform_entity_id),
            ("applicationId", campaign.platform_application_id),
        )
        if value
    }
    if platform:
        options["platform"] = platform
    if campaign.validity_period_amount:
        options["validityPeriod"] = {
            "amount": campaign.validity_period_amount,
            "timeUnit": campaign.validity_period_time_unit,
        }
    window = _utc_window(campaign, at)
    if window:
        options["deliveryTimeWindow"] = window
    return options


def infobip_sms_failover(campaign, contact, default_sender: str) -> dict | None:
    """The `smsFailover` option of one Infobip message (Infobip fails over by itself), or None when
    the campaign has no failover or its ceiling is reached (then Infobip is not asked to)."""
    if not campaign.sms_failover_enabled or campaign.sms_failover_ceiling_reached:
        return None
    values, _problems = render_values(campaign.sms_failover_mapping or {}, contact, {})
    option: dict = {
        "sender": campaign.sms_failover_sender or default_sender,
        "text": render_text(campaign.sms_failover_text, values),
    }
    if campaign.sms_failover_validity_amount:
        option["validityPeriod"] = {
            "amount": campaign.sms_failover_validity_amount,
            "timeUnit": campaign.sms_failover_validity_time_unit,
        }
    return option if option["text"] else None
