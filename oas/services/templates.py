"""Message templates: sync from the provider, status and quality changes, parameter validation, preview.

Every state change happens here, inside a transaction, with its audit record. The validation and
preview helpers are pure (no database writes, no provider calls) so the campaign builder can use them.

Provider words (provider-apis.md §1.12.4, §2.6) are mapped once, here: statuses to
`MessageTemplate.Status`, tags (new names and the pre-2024 ones) to `MessageTemplate.Tag`.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.services import PAUSABLE_STATUSES, pause_campaign
from compliance.services import actor_name, record_audit_event
from oas.models import MessageTemplate, OACredentials, OfficialAccount
from oas.services.keys import active_public_key
from providers import rsa
from providers.base import Provider, ProviderError, TemplateInfo
from providers.services import client_for

log = logging.getLogger(__name__)

Status = MessageTemplate.Status
Tag = MessageTemplate.Tag

SYSTEM_ACTOR = "system:template-sync"
WEBHOOK_ACTOR = "zalo-webhook"

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


def value_length(value) -> int:
    """Characters after NFC normalisation, as the provider's max length counts them."""
    return len(normalise_value(value))


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


def validate_for_send(
    template: MessageTemplate, data: dict, *, encrypted: bool = False
) -> list[ParameterError]:
    """`validate_template_data` with the OA's active RSA key when the send is encrypted; a missing or
    unreadable key is one error (param "") instead of an exception, for the campaign builder."""
    key = None
    if encrypted:
        key = active_public_key(template.oa_id)
        if key is None:
            return [ParameterError("", "no_key", _("This OA has no active RSA key to encrypt with."))]
        try:
            key = rsa.load_public_key(key)
        except rsa.EncryptionError as exc:
            return [
                ParameterError(
                    "", "no_key", _("The OA's active RSA key cannot be read: %(error)s") % {"error": exc}
                )
            ]
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


# --- status and quality changes ------------------------------------------------------------------


def pause_campaigns_using(template: MessageTemplate, *, reason: str, actor: str) -> list[int]:
    """Pause the running and scheduled campaigns of this template, each audited; returns the paused ids."""
    paused = []
    ids = Campaign.objects.filter(template=template, status__in=PAUSABLE_STATUSES).values_list(
        "pk", flat=True
    )
    for campaign_id in list(ids):
        if pause_campaign(campaign_id, reason, actor=actor):
            paused.append(campaign_id)
    return paused


def _pause_reason(template: MessageTemplate, status_reason: str) -> str:
    reason = _("Template %(name)s (%(id)s) is now %(status)s.") % {
        "name": template.name,
        "id": template.template_id,
        "status": template.get_status_display(),
    }
    return f"{reason} {status_reason}".strip()


def _after_status_change(template: MessageTemplate, previous: str, *, actor: str, source: str) -> list[int]:
    """Audit a status change and pause what can no longer send. Only ENABLE templates are sendable,
    so leaving ENABLE (DISABLE, REJECT, DELETE…) or any move to DISABLE stops their campaigns."""
    paused = []
    if template.status != Status.ENABLED:
        paused = pause_campaigns_using(
            template, reason=_pause_reason(template, template.status_reason), actor=actor
        )
    record_audit_event(
        actor=actor,
        action="template.status",
        summary=_("Template %(id)s: %(old)s → %(new)s")
        % {"id": template.template_id, "old": previous or "—", "new": template.status},
        target=template,
        details={
            "from": previous,
            "to": template.status,
            "reason": template.status_reason,
            "source": source,
            "paused_campaigns": paused,
        },
    )
    return paused


@dataclass(frozen=True)
class ChangeOutcome:
    changed: bool
    template_id: int | None = None
    paused_campaigns: list[int] = field(default_factory=list)
    note: str = ""


def _find_template(oa_id: int | None, template_id: str):
    """The event's OA (`WebhookEvent.oa`: the OA whose own key verified it; never one named by the
    payload) and its template, locked."""
    oa = OfficialAccount.objects.filter(pk=oa_id).first() if oa_id else None
    if oa is None:
        return None, None
    template = MessageTemplate.objects.select_for_update().filter(oa=oa, template_id=str(template_id)).first()
    return oa, template


def change_template_status(
    *,
    oa_id: int | None,
    template_id: str,
    new_status: str,
    reason: str = "",
    actor: str = WEBHOOK_ACTOR,
) -> ChangeOutcome:
    """Apply a provider's status change (webhook) to a template of the OA `oa_id` (the event's bound
    OA): store it, pause campaigns of a template that can no longer send, audit. Idempotent: the same
    status again changes nothing. An unknown template of a known OA triggers a template sync instead
    (we would not know its tag or parameters)."""
    status = status_from_provider(new_status)
    with transaction.atomic():
        oa, template = _find_template(oa_id, template_id)
        if oa is None:
            return ChangeOutcome(False, note="unknown OA")
        if template is None:
            _enqueue_sync(oa.pk)
            return ChangeOutcome(False, note="unknown template: sync queued")
        if status is None:
            log.warning("template %s: unknown status word %r ignored", template_id, new_status)
            return ChangeOutcome(False, template.pk, note=f"unknown status {new_status!r}")
        previous, previous_reason = template.status, template.status_reason
        reason = reason or ""
        changed = (previous, previous_reason) != (status, reason)
        if changed:
            template.status, template.status_reason = status, reason
            template.save(update_fields=["status", "status_reason"])
        if previous != status:
            paused = _after_status_change(template, previous, actor=actor, source="webhook")
            return ChangeOutcome(True, template.pk, paused)
        if changed:
            record_audit_event(
                actor=actor,
                action="template.status_reason",
                summary=_("Template %(id)s: new status reason") % {"id": template.template_id},
                target=template,
                details={"status": status, "from": previous_reason, "to": reason},
            )
        # The same status again (a redelivery, or a new reason): campaigns were paused when it first
        # arrived, but one scheduled since then must not start on a template that cannot send.
        paused = []
        if status != Status.ENABLED:
            paused = pause_campaigns_using(template, reason=_pause_reason(template, reason), actor=actor)
        return ChangeOutcome(changed, template.pk, paused)


def change_template_quality(
    *,
    oa_id: int | None,
    template_id: str,
    quality: str,
    actor: str = WEBHOOK_ACTOR,
) -> ChangeOutcome:
    """Store a provider's new quality reading of a template of the OA `oa_id` (the event's bound OA),
    audited; the same reading again is a no-op."""
    value = quality_from_provider(quality)
    with transaction.atomic():
        oa, template = _find_template(oa_id, template_id)
        if oa is None:
            return ChangeOutcome(False, note="unknown OA")
        if template is None:
            _enqueue_sync(oa.pk)
            return ChangeOutcome(False, note="unknown template: sync queued")
        if not value:
            log.warning("template %s: unknown quality word %r ignored", template_id, quality)
            return ChangeOutcome(False, template.pk, note=f"unknown quality {quality!r}")
        if template.quality == value:
            return ChangeOutcome(False, template.pk)
        previous = template.quality
        template.quality = value
        template.save(update_fields=["quality"])
        record_audit_event(
            actor=actor,
            action="template.quality",
            summary=_("Template %(id)s quality: %(old)s → %(new)s")
            % {"id": template.template_id, "old": previous or "—", "new": value},
            target=template,
            details={"from": previous, "to": value},
        )
        return ChangeOutcome(True, template.pk)


def _enqueue_sync(oa_id: int) -> None:
    from oas import jobs
    from zalo_admin.jobs import enqueue

    enqueue(jobs.sync_oa_templates, oa_id)


# --- sync ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    ok: bool
    error: str = ""
    provider_code: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    status_changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # stored, no longer listed by the provider
    paused_campaigns: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated)


def sync_error_text(exc: Exception) -> str:
    """The failure in the active language, with the provider's code and own words when it gave them."""
    if isinstance(exc, ProviderError) and exc.error is not None:
        text = exc.error.vi if (get_language() or "vi").startswith("vi") else exc.error.en
        if exc.provider_message and exc.provider_message not in text:
            text = f"{text} ({exc.provider_message})"
        if exc.provider_code:
            text = f"{text} [{exc.provider_code}]"
        return text
    if isinstance(exc, OACredentials.DoesNotExist):
        return _("This OA has no provider credentials yet.")
    return str(exc)


def _sample_data(client: Provider, info: TemplateInfo) -> dict:
    """Sample values of a template ({} where the provider publishes none, as Infobip)."""
    data = client.get_sample_data(info.template_id)
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


@dataclass(frozen=True)
class _Fetched:
    listed: TemplateInfo
    detail: TemplateInfo
    sample: dict


def fetch_templates(client: Provider) -> list[_Fetched]:
    """Everything the provider knows about the OA's templates; ProviderError on any failure."""
    fetched = []
    for listed in client.list_templates():
        detail = client.get_template(listed.template_id)
        fetched.append(_Fetched(listed, detail, _sample_data(client, detail)))
    return fetched


def _clip(value, size: int) -> str:
    return str(value or "")[:size]


def _values_for(item: _Fetched, existing: MessageTemplate | None) -> dict:
    detail, listed = item.detail, item.listed
    status = status_from_provider(detail.status) or status_from_provider(listed.status)
    if status is None:
        # A word we do not know: never treat it as sendable.
        status = Status.DISABLED
    tag = tag_from_provider(detail.tag or (detail.raw or {}).get("tag"))
    if tag is None:
        # Unknown tag: keep what we had, else assume marketing, the tag with the strictest rules.
        tag = existing.tag if existing is not None else Tag.MARKETING
    quality = quality_from_provider(detail.quality or listed.quality)
    if not quality and existing is not None:
        quality = existing.quality  # Infobip publishes no quality; webhooks may have set it
    reason = detail.reason or listed.reason
    if not reason and existing is not None and existing.status == status:
        reason = existing.status_reason  # the provider's list has no reasons; webhooks bring them
    raw = detail.raw or {}
    price = raw.get("price") or raw.get("price_sdt") or (existing.price if existing else "")
    return {
        "name": _clip(detail.name or listed.name or item.listed.template_id, 200),
        "status": status,
        "status_reason": reason or "",
        "tag": tag,
        "quality": quality,
        "params": normalise_params(detail.params),
        "buttons": [b for b in detail.buttons if isinstance(b, dict)],
        "sample_data": item.sample or (existing.sample_data if existing is not None else {}),
        "preview_url": _clip(detail.preview_url, 500),
        "price": _clip(price, 20),
    }


def sync_templates(oa_id: int, *, actor=None, http=None) -> SyncResult:
    """Read the OA's templates from the provider (list, detail, sample data) and store them.

    All or nothing: the provider calls come first; any error leaves every stored template as it was
    and records the error text (active language) on the OA. Success stores everything in one
    transaction, clears the error and sets `templates_synced_at`. Templates the provider no longer
    lists are kept as they are (campaigns and the audit trail point at them). A template that stops
    being sendable pauses its campaigns, as a webhook would. Audited when a person asked for it or
    when anything changed.
    """
    who = actor_name(actor) if actor is not None else SYSTEM_ACTOR
    oa = OfficialAccount.objects.get(pk=oa_id)
    try:
        client = client_for(oa, http=http) if http is not None else client_for(oa)
        fetched = fetch_templates(client)
    except (ProviderError, OACredentials.DoesNotExist, rsa.EncryptionError) as exc:
        return _record_sync_failure(oa_id, exc, who, audited=actor is not None)
    now = timezone.now()
    created, updated, changes, paused = [], [], {}, []
    with transaction.atomic():
        oa = OfficialAccount.objects.select_for_update().get(pk=oa_id)
        stored = {t.template_id: t for t in MessageTemplate.objects.select_for_update().filter(oa=oa)}
        seen = set()
        for item in fetched:
            template_id = _clip(item.listed.template_id, 64)
            if template_id in seen:
                continue
            seen.add(template_id)
            existing = stored.get(template_id)
            values = _values_for(item, existing)
            if existing is None:
                MessageTemplate.objects.create(oa=oa, template_id=template_id, synced_at=now, **values)
                created.append(template_id)
                continue
            previous_status = existing.status
            differs = any(getattr(existing, name) != value for name, value in values.items())
            for name, value in values.items():
                setattr(existing, name, value)
            existing.synced_at = now
            existing.save()
            if differs:
                updated.append(template_id)
            if previous_status != existing.status:
                changes[template_id] = (previous_status, existing.status)
                paused += _after_status_change(existing, previous_status, actor=who, source="sync")
        missing = sorted(set(stored) - seen)
        error_cleared = bool(oa.template_sync_error)
        oa.templates_synced_at = now
        oa.template_sync_error = ""
        oa.save(update_fields=["templates_synced_at", "template_sync_error"])
        if actor is not None or created or updated or error_cleared:
            record_audit_event(
                actor=who,
                action="templates.sync",
                summary=_("Templates synced: %(created)s new, %(updated)s changed, %(total)s listed.")
                % {"created": len(created), "updated": len(updated), "total": len(seen)},
                target=oa,
                details={
                    "created": created,
                    "updated": updated,
                    "status_changes": changes,
                    "not_listed_any_more": missing,
                    "paused_campaigns": paused,
                },
            )
    return SyncResult(
        ok=True,
        created=created,
        updated=updated,
        status_changes=changes,
        missing=missing,
        paused_campaigns=paused,
    )


def _record_sync_failure(oa_id: int, exc: Exception, who: str, *, audited: bool) -> SyncResult:
    text = sync_error_text(exc)
    log.warning("template sync of OA #%s failed: %s", oa_id, exc)
    with transaction.atomic():
        oa = OfficialAccount.objects.select_for_update().get(pk=oa_id)
        changed = oa.template_sync_error != text
        if changed:
            oa.template_sync_error = text
            oa.save(update_fields=["template_sync_error"])
        if changed or audited:
            record_audit_event(
                actor=who,
                action="templates.sync_failed",
                summary=_("Template sync failed: %(error)s") % {"error": text},
                target=oa,
                details={"error": text, "provider_code": str(getattr(exc, "provider_code", "") or "")},
            )
    return SyncResult(ok=False, error=text, provider_code=str(getattr(exc, "provider_code", "") or ""))
