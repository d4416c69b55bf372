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
    ContactFacts,
    ContactList,
    ContactListMember,
    FollowerStatus,
    Purpose,
    Segment,
    Suppression,
    SuppressionState,
    phone_digest,
)
from audiences.segments import FACTS, FACTS_FIELDS, compile_definition, facts_available
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


def _audience_parts(list_ids, segment_ids):
    list_ids = sorted({int(pk) for pk in list_ids})
    segment_ids = sorted({int(pk) for pk in segment_ids})
    known_lists = set(ContactList.objects.filter(pk__in=list_ids).values_list("pk", flat=True))
    segments = list(Segment.objects.filter(pk__in=segment_ids))
    missing = [f"list #{pk}" for pk in list_ids if pk not in known_lists] + [
        f"segment #{pk}" for pk in sorted(set(segment_ids) - {segment.pk for segment in segments})
    ]
    if missing:
        raise ValueError(f"unknown {', '.join(missing)}")
    return list_ids, segments


def _union(list_ids, segments, base: str | None, pk: str) -> Q | None:
    parts = []
    if list_ids:
        members = ContactListMember.objects.filter(contact_list_id__in=list_ids).values("contact_id")
        parts.append(Q(**{f"{pk}__in": members}))
    now = timezone.now()
    parts.extend(compile_definition(segment.definition, now=now, base=base) for segment in segments)
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def audience_contacts(*, list_ids=(), segment_ids=(), base: str | None = None) -> QuerySet[Contact]:
    """The contacts of the union of the lists and segments, each once (a contact is one phone),
    never an erased contact. Unknown ids raise ValueError; nothing chosen gives no contact.

    One query: the lists are one `IN (SELECT contact_id …)` on their members, each segment its
    compiled filter (`audiences.segments`; on PostgreSQL consent, follower status and do-not-contact
    come from the contact's facts row, a one-to-one join), OR-ed; no join can repeat a contact.
    `base=segments.CONTACT` reads the source tables instead (the reference the facts are tested
    against)."""
    list_ids, segments = _audience_parts(list_ids, segment_ids)
    combined = _union(list_ids, segments, base, "pk")
    if combined is None:
        return Contact.objects.none()
    return Contact.objects.filter(erased_at__isnull=True).filter(combined)


def audience_facts(*, list_ids=(), segment_ids=()) -> QuerySet[ContactFacts] | None:
    """The audience as ContactFacts rows, when the facts can answer it (PostgreSQL, and some segment
    rule reads consent, follower status or do-not-contact): a count then reads one narrow table
    instead of a million contacts plus semi-joins. None otherwise (the contacts are counted)."""
    if not facts_available():
        return None
    list_ids, segments = _audience_parts(list_ids, segment_ids)
    if not any(rule["field"] in FACTS_FIELDS for segment in segments for rule in segment.definition["rules"]):
        return None
    combined = _union(list_ids, segments, FACTS, "contact_id")
    return ContactFacts.objects.filter(erased=False).filter(combined)


# The hash tables of a count over a million contacts (a consent or follower set of ~700,000 ids)
# need more than PostgreSQL's default 4 MB, or a hashed subplan under OR falls back to one lookup
# per contact (seconds instead of a fraction): raised for the counting transaction only.
COUNT_WORK_MEM = "64MB"


def count_contacts(queryset: QuerySet) -> int:
    """`queryset.count()` with the working memory a large count needs (PostgreSQL: SET LOCAL)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{COUNT_WORK_MEM}'")
                # A million-row count passes the JIT threshold, and compiling costs ~150 ms of a
                # sub-second count that runs once; the plan itself is the same.
                cursor.execute("SET LOCAL jit = off")
        return queryset.count()


def audience_count(*, list_ids=(), segment_ids=(), base: str | None = None) -> int:
    """How many contacts `audience_contacts` gives (one COUNT query; over the facts when they
    answer it, `audience_facts`; `base=segments.CONTACT` counts from the source tables)."""
    facts = audience_facts(list_ids=list_ids, segment_ids=segment_ids) if base is None else None
    if facts is not None:
        return count_contacts(facts)
    return count_contacts(audience_contacts(list_ids=list_ids, segment_ids=segment_ids, base=base))


def segment_contacts(definition: dict, *, base: str | None = None) -> QuerySet[Contact]:
    """The (not erased) contacts of a validated definition: the builder's preview."""
    return Contact.objects.filter(erased_at__isnull=True).filter(compile_definition(definition, base=base))


def segment_count(definition: dict, *, base: str | None = None) -> int:
    """How many contacts `segment_contacts` gives: over the facts on PostgreSQL when a rule reads
    consent, follower status or do-not-contact (one narrow table), else over the contacts."""
    if (
        base is None
        and facts_available()
        and any(rule["field"] in FACTS_FIELDS for rule in definition["rules"])
    ):
        return count_contacts(
            ContactFacts.objects.filter(erased=False).filter(compile_definition(definition, base=FACTS))
        )
    return count_contacts(segment_contacts(definition, base=base))


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
