"""Data-subject requests: export everything held about a phone, and erase a person.

Deadlines: a request is due `settings.DATA_REQUEST_DEADLINE_HOURS[kind]` hours after it was
received; both default to 72 h (Decree 13/2023/ND-CP: Art. 14 provision of data, Art. 16 erasure).

Erasure keeps what must stay verifiable and removes the person:

- the contact row stays (the consent ledger references it) with name and attributes cleared, the
  phone replaced by a random pseudonym (`x` + 10 hex digits, unlinkable) and `erased_at` set;
- follower statuses are deleted; current grants get a withdrawal (channel `data_request`);
- the append-only ledgers are not edited, except the two redactions their triggers allow: a
  suppression row's plain phone is blanked (its `phone_hash` keeps it matching) and a consent
  event's free-text evidence is blanked (its SHA-256 stays, so the evidence can still be checked);
- the phone is put on the do-not-contact list first, so it is never contacted again (matched by
  its keyed digest, `audiences.models.phone_digest`);
- the audit log is never touched: it names phones masked only, so its chain still verifies.
"""

import json
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audiences.models import (
    PHONE_PATTERN,
    ConsentEvent,
    Contact,
    DataRequest,
    FollowerStatus,
    Purpose,
    Suppression,
    phone_digest,
)
from audiences.services import current_consent, mask_phone, suppress_phone, withdraw_consent
from campaigns.models import CampaignMessage, CampaignMessageEvent
from compliance import actions
from compliance.services import actor_name, record_audit_event

_PHONE = re.compile(PHONE_PATTERN)


def _checked_phone(phone) -> str:
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
        raise ValueError("the phone must be normalised: 84 followed by 9 digits")
    return phone


def deadline_hours(kind: str) -> int:
    return settings.DATA_REQUEST_DEADLINE_HOURS[kind]


def deadline_for(kind: str, received_at):
    if kind not in DataRequest.Kind.values:
        raise ValueError(f"unknown data request kind {kind!r}")
    return received_at + timedelta(hours=deadline_hours(kind))


def receive_request(*, actor, phone: str, kind: str, received_at=None) -> DataRequest:
    """Record a request as received (its deadline runs from `received_at`, default now)."""
    actor = actor_name(actor)
    phone = _checked_phone(phone)
    received_at = received_at or timezone.now()
    with transaction.atomic():
        request = DataRequest.objects.create(
            phone_hash=phone_digest(phone),
            phone_masked=mask_phone(phone),
            kind=kind,
            received_at=received_at,
            deadline=deadline_for(kind, received_at),
            received_by=actor,
            contact=Contact.objects.filter(phone=phone).first(),
        )
        record_audit_event(
            actor=actor,
            action=actions.DATA_REQUEST_RECEIVE,
            target=request,
            details={
                "request_id": request.pk,
                "kind": kind,
                "phone": request.phone_masked,
                "deadline": request.deadline.isoformat(),
            },
        )
    return request


def open_requests():
    """Requests still to answer, the most urgent first."""
    return DataRequest.objects.filter(status=DataRequest.Status.OPEN).order_by("deadline", "id")


def _request_for(*, actor, phone, kind, request):
    if request is None:
        return receive_request(actor=actor, phone=phone, kind=kind)
    if request.kind != kind or request.phone_hash != phone_digest(phone):
        raise ValueError("the data request is about another phone or of another kind")
    if request.status != DataRequest.Status.OPEN:
        raise ValueError("the data request is already completed")
    return request


def _complete(request, actor, contact):
    request.status = DataRequest.Status.COMPLETED
    request.completed_at = timezone.now()
    request.handled_by = actor
    request.contact = contact or request.contact
    request.save(update_fields=["status", "completed_at", "handled_by", "contact"])


# Export --------------------------------------------------------------------------------------------


def collect_person(phone: str) -> dict:
    """Everything held about the phone in audiences (no audit entry: `export_person` is the
    audited way). JSON-ready except datetimes (see `export_json`)."""
    phone = _checked_phone(phone)
    digest = phone_digest(phone)
    contact = Contact.objects.filter(phone=phone).select_related("source").first()
    data = {
        "phone": phone,
        "contact": None,
        "follower_statuses": [],
        "consent_events": [],
        "suppressions": [
            {
                "kind": row.kind,
                "reason": row.reason,
                "source": row.source,
                "occurred_at": row.occurred_at,
                "recorded_by": row.recorded_by,
            }
            for row in Suppression.objects.filter(phone_hash=digest).order_by("occurred_at", "id")
        ],
        "data_requests": [
            {
                "id": row.pk,
                "kind": row.kind,
                "received_at": row.received_at,
                "deadline": row.deadline,
                "status": row.status,
                "completed_at": row.completed_at,
            }
            for row in DataRequest.objects.filter(phone_hash=digest).order_by("received_at", "id")
        ],
    }
    if contact is None:
        return data
    data["contact"] = {
        "id": contact.pk,
        "phone": contact.phone,
        "name": contact.name,
        "attributes": contact.attributes,
        "source": {"kind": contact.source.kind, "label": contact.source.label},
        "created_at": contact.created_at,
    }
    data["follower_statuses"] = [
        {"oa_id": row.oa_id, "oa": row.oa.name, "status": row.status, "updated_at": row.updated_at}
        for row in FollowerStatus.objects.filter(contact=contact).select_related("oa").order_by("oa_id")
    ]
    data["consent_events"] = [
        {
            "purpose": event.purpose,
            "kind": event.kind,
            "occurred_at": event.occurred_at,
            "recorded_at": event.recorded_at,
            "recorded_by": event.recorded_by,
            "source": event.source,
            "collector": event.collector,
            "wording": event.wording,
            "evidence_text": event.evidence_text,
            "evidence_file_name": event.evidence_file_name,
            "evidence_sha256": event.evidence_sha256,
            "channel": event.channel,
        }
        for event in ConsentEvent.objects.filter(contact=contact).order_by("occurred_at", "id")
    ]
    return data


def export_person(phone: str, *, actor, request: DataRequest | None = None) -> dict:
    """Answer an export request (a new one is recorded when none is given): the data, audited."""
    actor = actor_name(actor)
    phone = _checked_phone(phone)
    with transaction.atomic():
        request = _request_for(actor=actor, phone=phone, kind=DataRequest.Kind.EXPORT, request=request)
        data = collect_person(phone)
        contact = Contact.objects.filter(phone=phone).first()
        _complete(request, actor, contact)
        record_audit_event(
            actor=actor,
            action=actions.DATA_REQUEST_EXPORT,
            target=request,
            details={"request_id": request.pk, "phone": request.phone_masked},
        )
    data["exported_at"] = request.completed_at
    data["request_id"] = request.pk
    return data


def export_json(data: dict) -> bytes:
    """The export as a downloadable UTF-8 JSON document."""
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


# Erasure -------------------------------------------------------------------------------------------


def _pseudonym() -> str:
    while True:
        candidate = "x" + secrets.token_hex(5)
        if not Contact.objects.filter(phone=candidate).exists():
            return candidate


ERASED = "RECIPIENT_ERASED"


def _redact_campaign_messages(phone: str, contact, pseudonym: str, actor: str) -> int:
    """The person's campaign message rows keep their state, times and codes (the campaign's figures
    and the tracking id, which does not contain the phone, stay verifiable) but lose the phone (the
    contact's pseudonym instead) and the rendered template data (names, orders...). A row not yet
    sent (queued, or claimed by a worker that has not sent it: its send is conditional on the claim)
    fails as erased, in the same statement, with its timeline entry: it is never sent."""
    rows = CampaignMessage.objects.filter(phone=phone)
    if contact is not None:
        rows = CampaignMessage.objects.filter(Q(phone=phone) | Q(contact_id=contact.pk))
    now = timezone.now()
    for state in (CampaignMessage.State.QUEUED, CampaignMessage.State.CLAIMED):
        waiting = list(rows.filter(state=state).values_list("pk", flat=True))
        stopped = CampaignMessage.objects.filter(pk__in=waiting, state=state).update(
            state=CampaignMessage.State.FAILED, failed_at=now, error_code=ERASED, updated_at=now,
            claimed_by="", lease_until=None,
        )  # fmt: skip
        if stopped:
            CampaignMessageEvent.objects.bulk_create(
                CampaignMessageEvent(
                    message_id=pk, from_state=state, to_state=CampaignMessage.State.FAILED, at=now,
                    error_code=ERASED, detail="recipient erased (data request)", actor=actor[:150],
                )
                for pk in rows.filter(pk__in=waiting, error_code=ERASED).values_list("pk", flat=True)
            )  # fmt: skip
    return rows.update(phone=pseudonym, template_data={}, updated_at=now)


def erase_person(phone: str, actor, *, request: DataRequest | None = None) -> DataRequest:
    """Answer an erasure request (a new one is recorded when none is given); see the module text."""
    actor = actor_name(actor)
    phone = _checked_phone(phone)
    digest = phone_digest(phone)
    with transaction.atomic():
        request = _request_for(actor=actor, phone=phone, kind=DataRequest.Kind.ERASURE, request=request)
        suppress_phone(
            actor=actor,
            phone=phone,
            reason=f"erasure request #{request.pk}",
            source=Suppression.Source.DATA_REQUEST,
        )
        contact = Contact.objects.select_for_update().filter(phone=phone).first()
        if contact is not None:
            for purpose in Purpose.values:
                if current_consent(contact, purpose).granted:
                    withdraw_consent(
                        actor=actor,
                        contact=contact,
                        purpose=purpose,
                        channel=ConsentEvent.Channel.DATA_REQUEST,
                    )
            ConsentEvent.objects.filter(contact=contact).exclude(evidence_text="").update(evidence_text="")
            FollowerStatus.objects.filter(contact=contact).delete()
            contact.phone = _pseudonym()
            contact.name = ""
            contact.attributes = {}
            contact.erased_at = timezone.now()
            contact.save(update_fields=["phone", "name", "attributes", "erased_at"])
        redacted = Suppression.objects.filter(phone_hash=digest).exclude(phone="").update(phone="")
        messages = _redact_campaign_messages(
            phone, contact, contact.phone if contact else _pseudonym(), actor
        )
        _complete(request, actor, contact)
        record_audit_event(
            actor=actor,
            action=actions.DATA_REQUEST_ERASE,
            target=request,
            details={
                "request_id": request.pk,
                "contact_id": contact.pk if contact else None,
                "phone": request.phone_masked,
                "suppressions": redacted,
                "campaign_messages": messages,
            },
        )
    return request
