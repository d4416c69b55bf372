"""Read models of the audience pages (counts, the contact list, one contact's evidence) and of the
campaign builder (`audience_contacts`, `audience_count`: lists and segments, deduplicated).

Read-only (a GET never writes). Counts are aggregate queries: the current consent of a purpose is
read from the trigger-kept `ContactConsentState` (the latest ledger event, in the order of
`audiences.services.current_consent`), the current suppression of a phone is its latest row.
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from audiences.models import (
    ConsentEvent,
    Contact,
    ContactConsentState,
    ContactList,
    ContactListMember,
    FollowerStatus,
    Purpose,
    Segment,
    Suppression,
    SuppressionState,
    phone_digest,
)
from audiences.segments import compile_definition
from audiences.services import current_suppression


@dataclass(frozen=True)
class PurposeCounts:
    purpose: str
    label: str
    granted: int
    withdrawn: int


def consent_counts() -> list[PurposeCounts]:
    """Contacts whose current consent is granted / withdrawn, per purpose (one grouped query over
    the trigger-kept `ContactConsentState`, which holds each contact's latest ledger event)."""
    totals = {
        (row["purpose"], row["granted"]): row["n"]
        for row in ContactConsentState.objects.values("purpose", "granted").annotate(n=Count("id"))
    }
    return [
        PurposeCounts(
            purpose=purpose,
            label=str(label),
            granted=totals.get((purpose, True), 0),
            withdrawn=totals.get((purpose, False), 0),
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


# Audiences: lists and segments ---------------------------------------------------------------------


def audience_contacts(*, list_ids=(), segment_ids=()) -> QuerySet[Contact]:
    """The contacts of the union of the lists and segments, each once (a contact is one phone),
    never an erased contact. Unknown ids raise ValueError; nothing chosen gives no contact.

    One query: the lists are one `IN (SELECT contact_id …)` on their members, each segment its
    compiled filter (`audiences.segments`), OR-ed; there is no join that could repeat a contact."""
    list_ids = sorted({int(pk) for pk in list_ids})
    segment_ids = sorted({int(pk) for pk in segment_ids})
    known_lists = set(ContactList.objects.filter(pk__in=list_ids).values_list("pk", flat=True))
    segments = list(Segment.objects.filter(pk__in=segment_ids))
    missing = [f"list #{pk}" for pk in list_ids if pk not in known_lists] + [
        f"segment #{pk}" for pk in sorted(set(segment_ids) - {segment.pk for segment in segments})
    ]
    if missing:
        raise ValueError(f"unknown {', '.join(missing)}")
    parts = []
    if list_ids:
        parts.append(
            Q(pk__in=ContactListMember.objects.filter(contact_list_id__in=list_ids).values("contact_id"))
        )
    now = timezone.now()
    parts.extend(compile_definition(segment.definition, now=now) for segment in segments)
    if not parts:
        return Contact.objects.none()
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return Contact.objects.filter(erased_at__isnull=True).filter(combined)


# The hash tables of a count over a million contacts (a consent or follower set of ~700,000 ids)
# need more than PostgreSQL's default 4 MB, or a hashed subplan under OR falls back to one lookup
# per contact (seconds instead of a fraction): raised for the counting transaction only.
COUNT_WORK_MEM = "64MB"


def count_contacts(queryset: QuerySet[Contact]) -> int:
    """`queryset.count()` with the working memory a large count needs (PostgreSQL: SET LOCAL)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{COUNT_WORK_MEM}'")
                # A million-row count passes the JIT threshold, and compiling costs ~150 ms of a
                # sub-second count that runs once; the plan itself is the same.
                cursor.execute("SET LOCAL jit = off")
        return queryset.count()


def audience_count(*, list_ids=(), segment_ids=()) -> int:
    """How many contacts `audience_contacts` gives (one COUNT query)."""
    return count_contacts(audience_contacts(list_ids=list_ids, segment_ids=segment_ids))


def segment_contacts(definition: dict) -> QuerySet[Contact]:
    """The (not erased) contacts of a validated definition: the builder's count and preview."""
    return Contact.objects.filter(erased_at__isnull=True).filter(compile_definition(definition))


def lists_with_counts() -> QuerySet[ContactList]:
    """Every list with `member_count`: its members that are not erased (one query)."""
    return ContactList.objects.annotate(
        member_count=Count("members", filter=Q(members__contact__erased_at__isnull=True))
    ).order_by("name", "id")


def list_members(contact_list: ContactList) -> QuerySet[ContactListMember]:
    return (
        ContactListMember.objects.filter(contact_list=contact_list, contact__erased_at__isnull=True)
        .select_related("contact")
        .order_by("-added_at", "-id")
    )


def suppressed_among(phones) -> set[str]:
    """The phones of `phones` (normalised) that are on the do-not-contact list now, matched by
    digest like `current_suppression` (so an erased person's entry still counts): set-based, for
    a pre-flight over many recipients."""
    by_digest = {phone_digest(phone): phone for phone in phones}
    digests = list(by_digest)
    found = set()
    for start in range(0, len(digests), 5000):
        found.update(
            SuppressionState.objects.filter(
                phone_hash__in=digests[start : start + 5000], suppressed=True
            ).values_list("phone_hash", flat=True)
        )
    return {by_digest[digest] for digest in found}
