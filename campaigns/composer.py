"""Composing a campaign: drafts (create, edit, autosave, clone), their validation, submission for
approval and the test send. Every change is audited here, in the transaction that makes it.

Input is what the compose form posts (field name -> text, lists for the multi-valued fields), parsed
by `parse_input` into model values and field-level errors; the rules follow Infobip's Zalo send API
(campaigns.models). A full save (`update_draft`, `create_draft`) changes nothing when any field is
wrong; `autosave_draft` keeps the fields that are right and reports the others. Editing a campaign
that waits for approval or is approved, when the edit touches what the approval hash covers, voids
the approval and takes the campaign back to draft (`campaigns.approval.void_approval`).
"""

import re
import uuid
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audiences.models import Contact, ContactList, Purpose, Segment
from audiences.selectors import audience_contacts
from campaigns import approval, mapping
from campaigns.models import (
    CALLBACK_DATA_MAX_LENGTH,
    DEFAULT_TIME_ZONE,
    MAX_SCHEDULE_DAYS,
    MAX_VALIDITY_SECONDS,
    PLATFORM_ID_MAX_LENGTH,
    VALIDITY_UNIT_SECONDS,
    Campaign,
    DeliveryDay,
    SpeedLimitTimeUnit,
    ValidityTimeUnit,
)
from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas import template_rules
from oas.models import MessageTemplate, OfficialAccount, RSAKey
from oas.services.clients import client_for
from providers.base import ACCEPTED, MessageRequest
from teams.scoping import visible
from zalo_admin.lib.phones import PhoneRejected, mask_phone, parse_vietnamese_mobile

TARGET_TYPE = "campaigns.campaign"
# The template's tag decides the purpose whose consent the audience needs.
PURPOSE_BY_TAG = {
    MessageTemplate.Tag.TRANSACTION: Purpose.TRANSACTIONAL,
    MessageTemplate.Tag.CUSTOMER_CARE: Purpose.CUSTOMER_CARE,
    MessageTemplate.Tag.MARKETING: Purpose.MARKETING,
}
# Mapping checks read at most this many recipients of the audience (the pre-flight reads them all).
MAPPING_SCAN_LIMIT = 20_000
INT32_MAX = 2_147_483_647
SMS_TEXT_MAX_LENGTH = 1600  # 10 concatenated GSM-7 parts
MAX_TEST_PHONES = 5
# A test send checks the message before approval.
TEST_SEND_STATUSES = (Campaign.Status.DRAFT, Campaign.Status.REJECTED, Campaign.Status.AWAITING_APPROVAL)
STAGE_MAX_WAIT_MINUTES = 7 * 24 * 60
_SENDER_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 ._-]{1,11}$")
_SENDER_NUMERIC = re.compile(r"^\d{3,16}$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

# Model fields the form edits (the mapping and the audience are handled on their own): the name and
# every option the approval hash covers.
SCALAR_FIELDS = ("name", *approval.OPTION_FIELDS)
# Form fields whose error a model field's problem is shown on.
FORM_FIELD = {
    "delivery_from_hour": "delivery_from",
    "delivery_from_minute": "delivery_from",
    "delivery_to_hour": "delivery_to",
    "delivery_to_minute": "delivery_to",
}


class CampaignNotEditable(Exception):
    """The campaign is running, paused, completed or cancelled: what it sends is fixed."""


@dataclass
class Result:
    """What a compose action did: the campaign (None when nothing was created), field-level errors
    (form field -> messages; "" for the form as a whole), the fields that changed."""

    campaign: Campaign | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    voided: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def _add(errors: dict, name: str, message: str) -> None:
    errors.setdefault(name, []).append(str(message))


def _count(errors: dict, *names: str) -> int:
    return sum(len(errors.get(name, [])) for name in names)


# --- reading the form --------------------------------------------------------------------------


def _text(data, name: str) -> str:
    value = data.get(name, "")
    return value.strip() if isinstance(value, str) else str(value or "").strip()


def _list(data, name: str) -> list[str]:
    if hasattr(data, "getlist"):
        return [v for v in data.getlist(name) if str(v).strip()]
    value = data.get(name) or []
    return [str(v) for v in (value if isinstance(value, list | tuple) else [value]) if str(v).strip()]


def _flag(data, name: str) -> bool:
    return _text(data, name).lower() in ("1", "on", "true", "yes")


def _int(data, name: str, errors: dict, *, minimum: int = 1, maximum: int = INT32_MAX) -> int | None:
    text = _text(data, name)
    if not text:
        return None
    if not re.fullmatch(r"\d+", text):
        _add(errors, name, _("Enter a whole number."))
        return None
    value = int(text)
    if value < minimum or value > maximum:
        _add(errors, name, _("Enter a number from %(min)s to %(max)s.") % {"min": minimum, "max": maximum})
        return None
    return value


def _percent(data, name: str, errors: dict, *, allow_zero: bool) -> Decimal | None:
    text = _text(data, name).replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        _add(errors, name, _("Enter a percentage such as 2 or 0.5."))
        return None
    low_ok = value >= 0 if allow_zero else value > 0
    if not value.is_finite() or not low_ok or value > 100 or value != value.quantize(Decimal("0.01")):
        _add(
            errors,
            name,
            _("Enter a percentage from %(min)s to 100, with at most two decimals.")
            % {"min": "0" if allow_zero else "0.01"},
        )
        return None
    return value


def _choice(data, name: str, choices, default: str, errors: dict) -> str:
    value = _text(data, name) or default
    if value not in choices.values:
        _add(errors, name, _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices.values)})
        return default
    return value


def _validity(data, prefix: str, errors: dict) -> tuple[int | None, str]:
    """validityPeriod: amount + timeUnit (SECONDS / MINUTES / HOURS, default MINUTES), at most 48 h."""
    unit = _choice(data, f"{prefix}_time_unit", ValidityTimeUnit, ValidityTimeUnit.MINUTES, errors)
    amount = _int(data, f"{prefix}_amount", errors)
    if amount is not None and amount * VALIDITY_UNIT_SECONDS[unit] > MAX_VALIDITY_SECONDS:
        _add(
            errors,
            f"{prefix}_amount",
            _("The validity period is at most 48 hours (172800 seconds, 2880 minutes, 48 hours)."),
        )
        amount = None
    return amount, unit


def _clock(data, name: str, errors: dict) -> tuple[int | None, int | None]:
    text = _text(data, name)
    if not text:
        return None, None
    match = _CLOCK.match(text)
    if not match:
        _add(errors, name, _("Enter a time of day as hour:minute, such as 07:00 or 21:30."))
        return None, None
    return int(match.group(1)), int(match.group(2))


def _time_zone(data, errors: dict) -> str:
    name = _text(data, "time_zone") or DEFAULT_TIME_ZONE
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        _add(errors, "time_zone", _("Unknown time zone %(zone)s (e.g. Asia/Ho_Chi_Minh).") % {"zone": name})
        return DEFAULT_TIME_ZONE
    return name


def _send_at(data, zone: str, errors: dict, now: datetime) -> datetime | None:
    day, clock = _text(data, "send_at_date"), _text(data, "send_at_time")
    if not day and not clock:
        return None
    if not day or not clock:
        _add(errors, "send_at_date", _("Give both the date and the time, or neither (send once approved)."))
        return None
    try:
        local = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M")  # noqa: DTZ007 - zone added below
    except ValueError:
        _add(errors, "send_at_date", _("Enter the date as YYYY-MM-DD and the time as HH:MM."))
        return None
    moment = local.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    if moment < now - timedelta(minutes=1):
        _add(errors, "send_at_date", _("The send time is in the past."))
        return None
    if moment > now + timedelta(days=MAX_SCHEDULE_DAYS):
        _add(
            errors,
            "send_at_date",
            _("A send can be scheduled at most %(days)s days ahead.") % {"days": MAX_SCHEDULE_DAYS},
        )
        return None
    return moment


def _sms_sender(data, errors: dict) -> str:
    sender = _text(data, "sms_failover_sender")
    if sender and not (_SENDER_ALPHANUMERIC.match(sender) or _SENDER_NUMERIC.match(sender)):
        _add(
            errors,
            "sms_failover_sender",
            _("An SMS sender is up to 11 letters and digits, or a number of up to 16 digits."),
        )
        return ""
    return sender


def _mapping_input(data, prefix: str, names: list[str]) -> dict:
    """{param: {source, key, value, format}} from `<prefix>-<param>-source` … form fields."""
    out = {}
    for name in names:
        source = _text(data, f"{prefix}-{name}-source")
        if not source:
            continue
        entry = {"source": source, "format": _text(data, f"{prefix}-{name}-format") or "none"}
        if source == "constant":
            raw = data.get(f"{prefix}-{name}-value", "")
            entry["value"] = raw if isinstance(raw, str) else str(raw)
        else:
            entry["key"] = _text(data, f"{prefix}-{name}-key")
        out[name] = entry
    return out


def template_params(template: MessageTemplate) -> list[dict]:
    return template_rules.normalise_params(template.params)


def sms_placeholders_outside_template(text: str, template: MessageTemplate) -> list[str]:
    """The SMS text's placeholders that are not template parameters (they get their own mapping)."""
    names = {p["name"] for p in template_params(template)}
    return [name for name in mapping.placeholders(text) if name not in names]


def parse_input(data, template: MessageTemplate, *, now: datetime | None = None) -> tuple[dict, dict]:
    """Model values and field-level errors from the compose form. Values hold only what parsed; a
    field with an error is absent from them."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    values: dict = {}

    name = _text(data, "name")
    if not name:
        _add(errors, "name", _("Give the campaign a name."))
    elif len(name) > 200:
        _add(errors, "name", _("A name is at most 200 characters."))
    else:
        values["name"] = name

    zone = _time_zone(data, errors)
    values["time_zone"] = zone
    before = len(errors.get("send_at_date", []))
    send_at = _send_at(data, zone, errors, now)
    if len(errors.get("send_at_date", [])) == before:
        values["send_at"] = send_at

    # An amount and its unit are kept together, or not at all.
    before = _count(errors, "sending_speed_limit_amount", "sending_speed_limit_time_unit")
    unit = _choice(
        data, "sending_speed_limit_time_unit", SpeedLimitTimeUnit, SpeedLimitTimeUnit.MINUTE, errors
    )
    amount = _int(data, "sending_speed_limit_amount", errors)
    if _count(errors, "sending_speed_limit_amount", "sending_speed_limit_time_unit") == before:
        values["sending_speed_limit_amount"] = amount
        values["sending_speed_limit_time_unit"] = unit

    window_errors_before = sum(
        len(errors.get(n, [])) for n in ("delivery_days", "delivery_from", "delivery_to")
    )
    days = _list(data, "delivery_days")
    unknown = [d for d in days if d not in DeliveryDay.values]
    if unknown:
        _add(errors, "delivery_days", _("Unknown day %(day)s.") % {"day": unknown[0]})
    days = [d for d in DeliveryDay.values if d in days]
    from_h, from_m = _clock(data, "delivery_from", errors)
    to_h, to_m = _clock(data, "delivery_to", errors)
    if (
        (from_h is None) != (to_h is None)
        and not errors.get("delivery_from")
        and not errors.get("delivery_to")
    ):
        _add(errors, "delivery_to", _("Give both the start and the end of the delivery window, or neither."))
    if from_h is not None and to_h is not None and (to_h * 60 + to_m) - (from_h * 60 + from_m) < 60:
        _add(
            errors,
            "delivery_to",
            _("The window must end at least one hour after it starts, on the same day."),
        )
    if (from_h is not None or to_h is not None) and not days:
        _add(errors, "delivery_days", _("Choose at least one day for the delivery window."))
    window_errors = sum(len(errors.get(n, [])) for n in ("delivery_days", "delivery_from", "delivery_to"))
    if window_errors == window_errors_before:
        values.update(
            delivery_days=days,
            delivery_from_hour=from_h,
            delivery_from_minute=from_m,
            delivery_to_hour=to_h,
            delivery_to_minute=to_m,
        )

    before = _count(errors, "validity_period_amount", "validity_period_time_unit")
    amount, unit = _validity(data, "validity_period", errors)
    if _count(errors, "validity_period_amount", "validity_period_time_unit") == before:
        values["validity_period_amount"] = amount
        values["validity_period_time_unit"] = unit

    # smsFailover
    enabled = _flag(data, "sms_failover_enabled")
    values["sms_failover_enabled"] = enabled
    sender_before = len(errors.get("sms_failover_sender", []))
    sender = _sms_sender(data, errors)
    if len(errors.get("sms_failover_sender", [])) == sender_before:
        values["sms_failover_sender"] = sender
    text = data.get("sms_failover_text", "")
    text = (text if isinstance(text, str) else str(text)).strip()
    if len(text) > SMS_TEXT_MAX_LENGTH:
        _add(
            errors,
            "sms_failover_text",
            _("An SMS text is at most %(max)s characters.") % {"max": SMS_TEXT_MAX_LENGTH},
        )
    elif enabled and not text:
        _add(errors, "sms_failover_text", _("Write the SMS text sent when the Zalo message does not arrive."))
    else:
        values["sms_failover_text"] = text
    extra = sms_placeholders_outside_template(text, template)
    sms_map = _mapping_input(data, "smsmap", extra)
    for error in mapping.check_mapping(sms_map, extra) if enabled else ():
        _add(errors, "sms_failover_text", error.message)
    values["sms_failover_mapping"] = sms_map
    before = _count(errors, "sms_failover_validity_amount", "sms_failover_validity_time_unit")
    amount, unit = _validity(data, "sms_failover_validity", errors)
    if _count(errors, "sms_failover_validity_amount", "sms_failover_validity_time_unit") == before:
        values["sms_failover_validity_amount"] = amount
        values["sms_failover_validity_time_unit"] = unit
    before = len(errors.get("sms_failover_max", []))
    ceiling = _int(data, "sms_failover_max", errors)
    if enabled and ceiling is None and len(errors.get("sms_failover_max", [])) == before:
        _add(errors, "sms_failover_max", _("Set the cost ceiling: at most how many failover SMS in total."))
    elif len(errors.get("sms_failover_max", [])) == before:
        values["sms_failover_max"] = ceiling

    values["encrypted"] = _flag(data, "encrypted")
    for name in ("platform_entity_id", "platform_application_id"):
        value = _text(data, name)
        if len(value) > PLATFORM_ID_MAX_LENGTH:
            _add(errors, name, _("At most %(max)s characters.") % {"max": PLATFORM_ID_MAX_LENGTH})
        else:
            values[name] = value
    url = _text(data, "notify_url")
    if url:
        try:
            URLValidator(schemes=["https"])(url)
        except ValidationError:
            _add(errors, "notify_url", _("Enter an https:// address where delivery reports can be posted."))
        else:
            if len(url) > 2000:
                _add(errors, "notify_url", _("An address is at most 2000 characters."))
            else:
                values["notify_url"] = url
    else:
        values["notify_url"] = ""
    callback = data.get("callback_data", "")
    callback = callback if isinstance(callback, str) else str(callback)
    if len(callback) > CALLBACK_DATA_MAX_LENGTH:
        _add(
            errors,
            "callback_data",
            _("Callback data is at most %(max)s characters.") % {"max": CALLBACK_DATA_MAX_LENGTH},
        )
    else:
        values["callback_data"] = callback

    staged = _flag(data, "staged_release")
    values["staged_release"] = staged
    stage = {
        "stage_percent": _percent(data, "stage_percent", errors, allow_zero=False),
        "stage_min_recipients": _int(data, "stage_min_recipients", errors),
        "stage_wait_minutes": _int(data, "stage_wait_minutes", errors, maximum=STAGE_MAX_WAIT_MINUTES),
        "stage_bad_report_threshold": _percent(data, "stage_bad_report_threshold", errors, allow_zero=True),
    }
    for name, value in stage.items():
        if errors.get(name):
            continue
        if staged and value is None:
            _add(errors, name, _("Required for a staged release."))
        else:
            values[name] = value
    return values, errors


# --- validating a mapping against the template and the audience ---------------------------------


def purpose_of(template: MessageTemplate) -> str:
    """The consent purpose the template's tag sends for (transactional / customer care / marketing)."""
    return PURPOSE_BY_TAG[template.tag]


def active_key_text(oa: OfficialAccount) -> str | None:
    key = RSAKey.objects.filter(oa=oa, is_active=True).values_list("public_key", flat=True).first()
    return key


def audience_of(campaign: Campaign):
    """The campaign's audience: its lists and segments, deduplicated by phone, erased people left out."""
    return audience_contacts(
        list_ids=sorted(campaign.audience_lists.values_list("pk", flat=True)),
        segment_ids=sorted(campaign.audience_segments.values_list("pk", flat=True)),
    )


def describe_recipient(contact) -> str:
    phone = mask_phone(contact["phone"] if isinstance(contact, dict) else contact.phone)
    name = contact.get("name") if isinstance(contact, dict) else contact.name
    return f"{phone} ({name})" if name else phone


def check_mapping(
    template: MessageTemplate,
    mapping_spec: dict,
    recipients,
    *,
    encrypted: bool = False,
    key_text: str | None = None,
    sms_text: str = "",
    sms_mapping: dict | None = None,
) -> list[str]:
    """Every problem of the mapping: its shape, then the template's rules (required, type, length
    after normalisation, the OAEP byte limit of `key_text` when `encrypted`) on each recipient's values,
    one message per parameter and rule naming an example recipient and how many recipients it affects.
    `recipients` is an iterable of contacts (objects or dicts with phone, name, attributes)."""
    params = template_params(template)
    names = [p["name"] for p in params]
    problems = [e.message for e in mapping.check_mapping(mapping_spec, names)]
    if problems:
        return problems
    types = {p["name"]: p["type"] for p in params}
    key = None
    if encrypted:
        if key_text is None:
            return [_("Encryption is on, but this OA has no active RSA key to encrypt with.")]
        try:
            key = template_rules.load_active_key(key_text)
        except template_rules.UnreadableKey as exc:
            return [str(exc)]
    # (param, code) -> [example recipient, message, count]
    found: dict[tuple[str, str], list] = {}
    scanned = 0

    def note(key, contact, message):
        slot = found.setdefault(key, [contact, message, 0])
        slot[2] += 1

    def check(contact, only: set | None = None):
        data, format_problems = mapping.render_values(mapping_spec, contact, types)
        for name, why in format_problems.items():
            note((name, "format"), contact, f"{name}: {why}")
        for error in template_rules.validate_template_data(template, data, public_key=key):
            if error.param in format_problems or (only is not None and error.param not in only):
                continue
            note((error.param, error.code), contact, error.message)
        if sms_text and only is None:
            values = {**data, **mapping.render_values(sms_mapping or {}, contact, {})[0]}
            if len(mapping.render_text(sms_text, values)) > SMS_TEXT_MAX_LENGTH:
                message = _("The SMS text is longer than %(max)s characters") % {"max": SMS_TEXT_MAX_LENGTH}
                note(("sms", "max_length"), contact, message)

    for contact in recipients:
        scanned += 1
        check(contact)
    if scanned == 0:
        # No recipient yet: only what does not depend on one (the constants) can be checked.
        constants = {name for name, entry in mapping_spec.items() if entry.get("source") == "constant"}
        check({"phone": "", "name": "", "attributes": {}}, only=constants)
        return [message.rstrip(".") + "." for _contact, message, _count in found.values()]
    messages = []
    for (_param, _code), (contact, message, count) in found.items():
        messages.append(
            _("%(problem)s Example recipient: %(recipient)s; %(count)s of %(scanned)s recipient(s) checked.")
            % {
                "problem": message.rstrip(".") + ".",
                "recipient": describe_recipient(contact),
                "count": count,
                "scanned": scanned,
            }
        )
    return messages


def _recipients_sample(campaign: Campaign):
    if not campaign.pk:
        return []
    return (
        audience_of(campaign)
        .values("phone", "name", "attributes")[:MAPPING_SCAN_LIMIT]
        .iterator(chunk_size=2000)
    )


def mapping_problems(campaign: Campaign) -> list[str]:
    """`check_mapping` for a saved campaign, over (the first MAPPING_SCAN_LIMIT of) its audience."""
    return check_mapping(
        campaign.template,
        campaign.mapping,
        _recipients_sample(campaign),
        encrypted=campaign.encrypted,
        key_text=active_key_text(campaign.oa) if campaign.encrypted else None,
        sms_text=campaign.sms_failover_text if campaign.sms_failover_enabled else "",
        sms_mapping=campaign.sms_failover_mapping,
    )


# --- choosing the OA, the template and the audience --------------------------------------------


def sendable_templates(oa: OfficialAccount | None = None):
    """Templates a campaign may use: enabled ones of active OAs."""
    rows = MessageTemplate.objects.filter(status=MessageTemplate.Status.ENABLED, oa__is_active=True)
    return rows.filter(oa=oa) if oa is not None else rows


def _scoped(actor, rows):
    """The rows a signed-in actor's teams see (teams.scoping); a system actor (a job) sees all."""
    return visible(actor, rows) if getattr(actor, "is_authenticated", False) else rows


def _oa_and_template(data, errors: dict, current: Campaign | None, actor=None):
    oa = template = None
    oa_text, template_text = _text(data, "oa"), _text(data, "template")
    if not oa_text and current is not None:
        oa = current.oa
    elif not oa_text.isdigit() or not (
        oa := _scoped(actor, OfficialAccount.objects.filter(pk=int(oa_text), is_active=True)).first()
    ):
        _add(errors, "oa", _("Choose an active Official Account."))
    if not template_text and current is not None:
        template = current.template
    elif template_text.isdigit():
        template = _scoped(actor, MessageTemplate.objects.filter(pk=int(template_text))).first()
    if template is None:
        _add(errors, "template", _("Choose a template."))
    elif oa is not None and template.oa_id != oa.pk:
        _add(errors, "template", _("This template belongs to another Official Account."))
        template = None
    elif template.status != MessageTemplate.Status.ENABLED:
        _add(
            errors,
            "template",
            _("Template %(template)s is not sendable (%(status)s).")
            % {"template": template, "status": template.get_status_display()},
        )
        template = None
    return oa, template


def _audience(data, errors: dict, oa=None, actor=None) -> tuple[list[int] | None, list[int] | None]:
    """The chosen lists and segments: ones the actor sees, and of the OA's team (a campaign's team
    is its OA's team, and it sends only to its own team's audiences)."""

    def ids(name, model):
        raw = _list(data, name)
        if any(not str(v).isdigit() for v in raw):
            _add(errors, name, _("Choose from the list."))
            return None
        wanted = sorted({int(v) for v in raw})
        rows = _scoped(actor, model.objects.filter(pk__in=wanted))
        known = set(rows.values_list("pk", flat=True))
        if len(known) != len(wanted):
            _add(errors, name, _("One of the chosen entries no longer exists."))
            return None
        if oa is not None and rows.exclude(team_id=oa.team_id).exists():
            _add(
                errors,
                name,
                _("Choose lists and segments of the team of %(oa)s (%(team)s).")
                % {"oa": oa, "team": oa.team},
            )
            return None
        return wanted

    return ids("audience_lists", ContactList), ids("audience_segments", Segment)


# --- what a change touches ---------------------------------------------------------------------


def _state(campaign: Campaign) -> dict:
    """Every edited value of a campaign, comparable before and after a change."""
    state = {name: getattr(campaign, name) for name in SCALAR_FIELDS}
    state.update(
        oa=campaign.oa_id,
        template=campaign.template_id,
        template_version=campaign.template_version,
        mapping=campaign.mapping,
    )
    if campaign.pk:
        state["audience_lists"] = sorted(campaign.audience_lists.values_list("pk", flat=True))
        state["audience_segments"] = sorted(campaign.audience_segments.values_list("pk", flat=True))
    return state


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(name for name in after if before.get(name) != after.get(name))


def _audit(action: str, campaign: Campaign, actor, **details) -> None:
    record_audit_event(
        actor=actor_name(actor),
        action=action,
        target_type=TARGET_TYPE,
        target_id=campaign.pk,
        details={"campaign_id": campaign.pk, **details},
    )


def _apply(campaign: Campaign, values: dict, template: MessageTemplate | None, oa) -> None:
    for name, value in values.items():
        setattr(campaign, name, value)
    if oa is not None:
        campaign.oa = oa
    if template is not None:
        campaign.template = template
        campaign.template_version = mapping.template_version(template)
        campaign.template_snapshot = mapping.template_snapshot(template)


# --- the actions -------------------------------------------------------------------------------


def _validate_full(data, current: Campaign | None, now=None, actor=None):
    errors: dict[str, list[str]] = {}
    oa, template = _oa_and_template(data, errors, current, actor)
    lists, segments = _audience(data, errors, oa, actor)
    values: dict = {}
    if template is not None:
        values, field_errors = parse_input(data, template, now=now)
        for name, messages in field_errors.items():
            errors.setdefault(name, []).extend(messages)
        values["mapping"] = _mapping_input(data, "map", [p["name"] for p in template_params(template)])
    return oa, template, lists, segments, values, errors


def _check_mapping_for(campaign: Campaign, template, values, lists, segments) -> list[str]:
    """The mapping's problems with the values about to be saved, over the audience they choose."""
    recipients = audience_contacts(list_ids=lists or [], segment_ids=segments or [])
    encrypted = values.get("encrypted", False)
    return check_mapping(
        template,
        values.get("mapping", {}),
        recipients.values("phone", "name", "attributes")[:MAPPING_SCAN_LIMIT].iterator(chunk_size=2000),
        encrypted=encrypted,
        key_text=active_key_text(template.oa) if encrypted else None,
        sms_text=values.get("sms_failover_text", "") if values.get("sms_failover_enabled") else "",
        sms_mapping=values.get("sms_failover_mapping"),
    )


@transaction.atomic
def create_draft(*, actor, data, now=None) -> Result:
    """A new draft from the compose form, validated in full; nothing is created when a field is wrong."""
    oa, template, lists, segments, values, errors = _validate_full(data, None, now, actor)
    if not errors:
        for message in _check_mapping_for(Campaign(), template, values, lists, segments):
            _add(errors, "mapping", message)
    if errors:
        return Result(errors=errors)
    campaign = Campaign(author=actor if getattr(actor, "pk", None) else None)
    _apply(campaign, values, template, oa)
    campaign.save()
    campaign.audience_lists.set(lists)
    campaign.audience_segments.set(segments)
    _audit(actions.CAMPAIGN_CREATE, campaign, actor, name=campaign.name)
    return Result(campaign=campaign, changed=sorted(_state(campaign)))


def _locked(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_for_update().select_related("oa", "template").get(pk=campaign_id)
    if campaign.status not in approval.EDITABLE_STATUSES:
        raise CampaignNotEditable(campaign.get_status_display())
    return campaign


def _save_change(campaign: Campaign, before: dict, actor, action: str, lists, segments) -> Result:
    campaign.save()
    if lists is not None:
        campaign.audience_lists.set(lists)
    if segments is not None:
        campaign.audience_segments.set(segments)
    changed = _changed(before, _state(campaign))
    if not changed:
        return Result(campaign=campaign)
    _audit(action, campaign, actor, fields=", ".join(changed))
    voided = False
    if set(changed) & approval.HASHED_FIELDS:
        # What an approval covers changed: waiting or approved, the campaign goes back to draft.
        voided = approval.void_approval(
            campaign, actor=actor, reason=_("edited: %(fields)s") % {"fields": ", ".join(changed)}
        )
    return Result(campaign=campaign, changed=changed, voided=voided)


@transaction.atomic
def update_draft(campaign_id: int, *, actor, data, now=None) -> Result:
    """Save the compose form over a campaign, validated in full: nothing changes when a field is
    wrong. CampaignNotEditable once it runs or is over."""
    campaign = _locked(campaign_id)
    oa, template, lists, segments, values, errors = _validate_full(data, campaign, now, actor)
    if not errors:
        for message in _check_mapping_for(campaign, template, values, lists, segments):
            _add(errors, "mapping", message)
    if errors:
        return Result(campaign=campaign, errors=errors)
    before = _state(campaign)
    _apply(campaign, values, template, oa)
    if campaign.status == Campaign.Status.REJECTED:
        campaign.status = Campaign.Status.DRAFT
    return _save_change(campaign, before, actor, actions.CAMPAIGN_UPDATE, lists, segments)


@transaction.atomic
def autosave_draft(campaign_id: int, *, actor, data, now=None) -> Result:
    """Save what parses of the compose form (a partial save while typing); fields with an error keep
    their stored value and are reported. Audited when something changed."""
    campaign = _locked(campaign_id)
    errors: dict[str, list[str]] = {}
    oa, template = _oa_and_template(data, errors, campaign, actor)
    template = template or campaign.template
    if oa is None or template.oa_id != oa.pk:
        oa = campaign.oa
        template = campaign.template if campaign.template.oa_id == oa.pk else template
    lists, segments = _audience(data, errors, oa, actor)
    values, field_errors = parse_input(data, template, now=now)
    for name, messages in field_errors.items():
        errors.setdefault(name, []).extend(messages)
    if any(key.startswith("map-") for key in data):
        values["mapping"] = _mapping_input(data, "map", [p["name"] for p in template_params(template)])
    before = _state(campaign)
    _apply(campaign, values, template if template.pk != campaign.template_id else None, oa)
    result = _save_change(campaign, before, actor, actions.CAMPAIGN_AUTOSAVE, lists, segments)
    result.errors = errors
    return result


@transaction.atomic
def clone_campaign(campaign_id: int, *, actor) -> Campaign:
    """A new draft with everything the source decides (template, mapping, audience, options), by
    `actor`, without its state, approvals or test phones."""
    source = Campaign.objects.get(pk=campaign_id)
    clone = Campaign(
        oa_id=source.oa_id,
        template_id=source.template_id,
        template_version=source.template_version,
        template_snapshot=source.template_snapshot,
        mapping=source.mapping,
        author=actor if getattr(actor, "pk", None) else None,
        cloned_from=source,
        **{name: getattr(source, name) for name in SCALAR_FIELDS},
    )
    suffix = _(" (copy)")
    clone.name = (source.name[: 200 - len(suffix)]) + suffix
    if clone.send_at is not None and clone.send_at < timezone.now():
        clone.send_at = None
    clone.save()
    clone.audience_lists.set(source.audience_lists.all())
    clone.audience_segments.set(source.audience_segments.all())
    _audit(actions.CAMPAIGN_CLONE, clone, actor, source_id=source.pk)
    return clone


def submission_problems(campaign: Campaign, now=None) -> dict[str, list[str]]:
    """What stops a campaign from being submitted, by form field (empty: it can go to approval)."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not campaign.oa.is_active:
        _add(errors, "oa", _("The Official Account is disabled."))
    elif campaign.oa.sending_stopped:
        _add(
            errors,
            "oa",
            _("All sends of this OA are stopped: %(reason)s") % {"reason": campaign.oa.stop_reason},
        )
    if campaign.template.status != MessageTemplate.Status.ENABLED:
        _add(errors, "template", _("The template is no longer sendable."))
    if campaign.template_version != mapping.template_version(campaign.template):
        _add(
            errors,
            "template",
            _("The template changed at the provider since this draft was saved: save it again."),
        )
    if not campaign.audience_lists.exists() and not campaign.audience_segments.exists():
        _add(errors, "audience_lists", _("Choose at least one list or segment."))
    elif not audience_of(campaign).exists():
        _add(errors, "audience_lists", _("The chosen lists and segments hold nobody."))
    if campaign.send_at is not None and campaign.send_at < now:
        _add(errors, "send_at_date", _("The send time is in the past."))
    if campaign.sms_failover_enabled and (
        not campaign.sms_failover_text or campaign.sms_failover_max is None
    ):
        _add(errors, "sms_failover_text", _("SMS failover needs a text and a cost ceiling."))
    for message in mapping_problems(campaign):
        _add(errors, "mapping", message)
    return errors


@transaction.atomic
def submit_for_approval(campaign_id: int, *, actor, now=None) -> Result:
    """Draft (or rejected) -> awaiting approval, once nothing stops it; audited."""
    campaign = Campaign.objects.select_for_update().select_related("oa", "template").get(pk=campaign_id)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.REJECTED):
        return Result(campaign=campaign, errors={"": [_("Only a draft can be submitted for approval.")]})
    errors = submission_problems(campaign, now)
    if errors:
        return Result(campaign=campaign, errors=errors)
    campaign.status = Campaign.Status.AWAITING_APPROVAL
    campaign.submitted_at = now or timezone.now()
    campaign.save(update_fields=["status", "submitted_at", "updated_at"])
    _audit(actions.CAMPAIGN_SUBMIT, campaign, actor)
    return Result(campaign=campaign, changed=["status"])


# --- test send (Zalo development mode) ---------------------------------------------------------


@dataclass(frozen=True)
class TestSendOutcome:
    phone: str  # masked
    accepted: bool
    message: str


def parse_test_phones(text: str) -> tuple[list[str], list[str]]:
    """Normalised phones from a comma/line separated text, and the refusals (each naming the entry)."""
    phones, errors = [], []
    for raw in re.split(r"[,;\n]+", text or ""):
        raw = raw.strip()
        if not raw:
            continue
        try:
            phone = parse_vietnamese_mobile(raw)
        except PhoneRejected as exc:
            errors.append(f"{raw}: {exc}")
            continue
        if phone not in phones:
            phones.append(phone)
    if not phones and not errors:
        errors.append(_("Enter the phone number of at least one admin of the OA or its app."))
    if len(phones) > MAX_TEST_PHONES:
        errors.append(_("At most %(max)s test phones.") % {"max": MAX_TEST_PHONES})
    return phones, errors


def _test_values(campaign: Campaign, phone: str) -> dict:
    """The values of a test message to `phone`: from that person's own contact when there is one,
    else the template's sample data (never another recipient's personal data)."""
    contact = Contact.objects.filter(phone=phone, erased_at__isnull=True).first()
    types = {p["name"]: p["type"] for p in template_params(campaign.template)}
    data, _problems = mapping.render_values(
        campaign.mapping, contact or {"phone": phone, "name": "", "attributes": {}}, types
    )
    samples = campaign.template.sample_data or {}
    for name in types:
        if name not in data and name in samples:
            data[name] = template_rules.normalise_value(samples[name])
    return data


def test_send(campaign_id: int, *, actor, phones_text: str) -> tuple[list[TestSendOutcome], list[str]]:
    """Send the campaign's message once to each admin phone in Zalo's development mode (only the
    app's and the OA's admins receive it; others are refused by Zalo with -127). Audited with the
    outcome; returns the outcomes and the input errors (nothing sent when there are any)."""
    campaign = Campaign.objects.select_related("oa", "template").get(pk=campaign_id)
    if campaign.status not in TEST_SEND_STATUSES:
        return [], [_("A test send is for a campaign before its approval.")]
    phones, errors = parse_test_phones(phones_text)
    if errors:
        return [], errors
    batch = uuid.uuid4().hex[:12]
    requests = [
        MessageRequest(
            tracking_id=f"test-{campaign.pk}-{batch}-{index}",
            template_id=campaign.template.template_id,
            template_data=_test_values(campaign, phone),
            phone=phone,
            development=True,
            encrypted=campaign.encrypted,
            callback_data=campaign.callback_data,
        )
        for index, phone in enumerate(phones)
    ]
    results = client_for(campaign.oa).send_batch(requests)
    outcomes = [
        TestSendOutcome(
            phone=mask_phone(phone),
            accepted=result.status == ACCEPTED,
            message=result.text() if result.status != ACCEPTED else _("Sent."),
        )
        for phone, result in zip(phones, results, strict=True)
    ]
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        locked.test_phones = phones
        locked.save(update_fields=["test_phones", "updated_at"])
        _audit(
            actions.CAMPAIGN_TEST_SEND,
            campaign,
            actor,
            phones=", ".join(o.phone for o in outcomes),
            accepted=sum(o.accepted for o in outcomes),
            failed=sum(not o.accepted for o in outcomes),
        )
    return outcomes, []
