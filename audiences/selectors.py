"""Read models of the audience pages: counts, the contact list and one contact's evidence.

Read-only (a GET never writes). Counts are aggregate queries: the current consent of a purpose is
the latest ledger event (same order as `audiences.services.current_consent`), the current
suppression of a phone its latest row, both found by a correlated subquery, never a Python loop.
"""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from audiences.models import ConsentEvent, Contact, FollowerStatus, Purpose, Suppression, phone_digest
from audiences.services import current_suppression


def _latest_consent_kind(purpose: str) -> Subquery:
    return Subquery(
        ConsentEvent.objects.filter(contact=OuterRef("pk"), purpose=purpose)
        .order_by("-occurred_at", "-kind", "-id")  # at the same instant a withdrawal wins
        .values("kind")[:1]
    )


@dataclass(frozen=True)
class PurposeCounts:
    purpose: str
    label: str
    granted: int
    withdrawn: int


def consent_counts() -> list[PurposeCounts]:
    """Contacts whose current consent is granted / withdrawn, per purpose (one query)."""
    annotated = Contact.objects.annotate(
        **{f"consent_{purpose}": _latest_consent_kind(purpose) for purpose in Purpose.values}
    )
    aggregates = {}
    for purpose in Purpose.values:
        for kind in ConsentEvent.Kind.values:
            aggregates[f"{purpose}__{kind}"] = Count("pk", filter=Q(**{f"consent_{purpose}": kind}))
    totals = annotated.aggregate(**aggregates)
    return [
        PurposeCounts(
            purpose=purpose,
            label=str(label),
            granted=totals[f"{purpose}__{ConsentEvent.Kind.GRANTED}"],
            withdrawn=totals[f"{purpose}__{ConsentEvent.Kind.WITHDRAWN}"],
        )
        for purpose, label in Purpose.choices
    ]


def suppressed_rows() -> QuerySet[Suppression]:
    """The rows that suppress a phone now: each phone's latest row, when it is `added`."""
    latest = Subquery(
        Suppression.objects.filter(phone_hash=OuterRef("phone_hash"))
        .order_by("-occurred_at", "-id")
        .values("id")[:1]
    )
    # Matched by digest like `current_suppression`: an erased person's rows keep it, not the phone.
    return Suppression.objects.filter(kind=Suppression.Kind.ADDED, pk=latest)


def suppression_count() -> int:
    return suppressed_rows().count()


def contact_count() -> int:
    return Contact.objects.count()


def contacts(phone: str = "") -> QuerySet[Contact]:
    """The contact list, by phone; `phone` (normalised, already parsed) narrows it to one number."""
    rows = Contact.objects.order_by("phone", "id")
    return rows.filter(phone=phone) if phone else rows


@dataclass(frozen=True)
class ContactEvidence:
    follower_statuses: list[FollowerStatus]
    consent_events: list[ConsentEvent]
    suppression_history: list[Suppression]
    suppressed: Suppression | None


def contact_evidence(contact: Contact) -> ContactEvidence:
    """Everything the detail page shows besides the contact itself, oldest ledger entries first."""
    history = list(
        Suppression.objects.filter(phone_hash=phone_digest(contact.phone)).order_by("occurred_at", "id")
    )
    return ContactEvidence(
        follower_statuses=list(contact.follower_statuses.select_related("oa").order_by("oa__name", "oa_id")),
        consent_events=list(contact.consent_events.order_by("occurred_at", "id")),
        suppression_history=history,
        suppressed=current_suppression(contact.phone),
    )
