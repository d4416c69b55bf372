"""Template sync: read an OA's templates from its provider (list, detail, sample data) and store them,
on demand (the Sync button) and hourly (oas.jobs).

Status changes found by a sync are handled as a webhook's would be (template_events).
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas.models import MessageTemplate, OACredentials, OfficialAccount
from oas.services.accounts import provider_error_text
from oas.services.clients import OAClient, client_for
from oas.services.template_events import record_status_change
from oas.template_rules import (
    normalise_params,
    quality_from_provider,
    status_from_provider,
    tag_from_provider,
)
from providers.base import ProviderError, TemplateInfo
from zalo_admin.lib import rsa

log = logging.getLogger(__name__)

Status = MessageTemplate.Status
Tag = MessageTemplate.Tag

SYSTEM_ACTOR = "system:template-sync"


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


def sync_error_text(exc: Exception) -> str:
    """The failure in the active language, with the provider's code and own words when it gave them."""
    if isinstance(exc, ProviderError) and exc.error is not None:
        text = provider_error_text(exc)
        return f"{text} [{exc.provider_code}]" if exc.provider_code else text
    if isinstance(exc, OACredentials.DoesNotExist):
        return _("This OA has no provider credentials yet.")
    return str(exc)


def _sample_data(client: OAClient, info: TemplateInfo) -> dict:
    """Sample values of a template ({} where the provider publishes none, as Infobip)."""
    data = client.get_sample_data(info.template_id)
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


@dataclass(frozen=True)
class _Fetched:
    listed: TemplateInfo
    detail: TemplateInfo
    sample: dict


def fetch_templates(client: OAClient) -> list[_Fetched]:
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
                paused += record_status_change(existing, previous_status, actor=who, source="sync")
        missing = sorted(set(stored) - seen)
        error_cleared = bool(oa.template_sync_error)
        oa.templates_synced_at = now
        oa.template_sync_error = ""
        oa.save(update_fields=["templates_synced_at", "template_sync_error"])
        if actor is not None or created or updated or error_cleared:
            record_audit_event(
                actor=who,
                action=actions.TEMPLATES_SYNC,
                target=oa,
                details={
                    "created_count": len(created),
                    "updated_count": len(updated),
                    "total": len(seen),
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
    with translation.override("en"):
        audited_text = sync_error_text(exc)
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
                action=actions.TEMPLATES_SYNC_FAILED,
                target=oa,
                # The log stays in one language: the error as English prose, whatever the reader's.
                details={
                    "error": audited_text,
                    "provider_code": str(getattr(exc, "provider_code", "") or ""),
                },
            )
    return SyncResult(ok=False, error=text, provider_code=str(getattr(exc, "provider_code", "") or ""))
