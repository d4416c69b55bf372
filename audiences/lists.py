"""Static contact lists and saved segments: the audited writers.

Lists hold existing contacts (a list never creates a contact: contacts come with their source and
consent evidence from imports or manual entry). Members are added set-based, by contact ids, by an
import (the contacts that import created) or by pasted phones, one per line, parsed strictly
(`zalo_admin.lib.phones`); adding an existing member changes nothing. Segment definitions are
validated by `audiences.segments.validate`, whose `SegmentError` names every bad filter part.
Every change writes its audit entry in the same transaction.
"""

from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audiences.models import Contact, ContactImport, ContactList, ContactListMember, Segment
from audiences.segments import validate
from compliance import actions
from compliance.services import actor_name, record_audit_event
from teams.defaults import default_team_pk
from zalo_admin.lib.phones import PhoneRejected, mask_phone, parse_vietnamese_mobile

MAX_PASTED_LINES = 10000
BATCH = 5000


class InvalidInput(ValueError):
    """Refused input, with the form field it belongs to."""

    def __init__(self, field_name: str, message):
        self.field = field_name
        self.message = str(message)
        super().__init__(f"{field_name}: {self.message}")


def _clean_name(name) -> str:
    name = str(name or "").strip()
    if not name:
        raise InvalidInput("name", _("A name is required."))
    if len(name) > 120:
        raise InvalidInput("name", _("At most 120 characters."))
    return name


def _unique(model, name, team_id, exclude_pk=None):
    # Within the team only: another team's names are not for this team to learn.
    rows = model.objects.filter(name__iexact=name, team_id=team_id)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    if rows.exists():
        raise InvalidInput("name", _("Another one already has this name."))


# Lists ---------------------------------------------------------------------------------------------


def create_list(*, actor, name: str, description: str = "", team=None) -> ContactList:
    """A new list in `team` (by default the default team, `teams.defaults`)."""
    actor = actor_name(actor)
    name = _clean_name(name)
    team_id = team.pk if team is not None else default_team_pk()
    with transaction.atomic():
        _unique(ContactList, name, team_id)
        try:
            with transaction.atomic():
                contact_list = ContactList.objects.create(
                    name=name, description=str(description or "").strip(), created_by=actor, team_id=team_id
                )
        except IntegrityError:  # a concurrent create of the same name
            raise InvalidInput("name", _("Another one already has this name.")) from None
        record_audit_event(
            actor=actor,
            action=actions.CONTACT_LIST_CREATE,
            target=contact_list,
            details={"list_id": contact_list.pk, "name": name},
        )
    return contact_list


def update_list(*, actor, contact_list: ContactList, name: str, description: str = "") -> ContactList:
    actor = actor_name(actor)
    name = _clean_name(name)
    description = str(description or "").strip()
    with transaction.atomic():
        locked = ContactList.objects.select_for_update().get(pk=contact_list.pk)
        _unique(ContactList, name, locked.team_id, exclude_pk=locked.pk)
        changed = [
            field_name
            for field_name, value in (("name", name), ("description", description))
            if getattr(locked, field_name) != value
        ]
        if not changed:
            return locked
        locked.name, locked.description = name, description
        locked.save(update_fields=[*changed, "updated_at"])
        record_audit_event(
            actor=actor,
            action=actions.CONTACT_LIST_UPDATE,
            target=locked,
            details={"list_id": locked.pk, "name": name, "fields": ", ".join(changed)},
        )
    return locked


def delete_list(*, actor, contact_list: ContactList) -> None:
    """Delete the list and its memberships (the contacts stay); refused while a segment uses it."""
    actor = actor_name(actor)
    with transaction.atomic():
        locked = ContactList.objects.select_for_update().get(pk=contact_list.pk)
        users = segments_using_list(locked.pk)
        if users:
            raise InvalidInput(
                "list",
                _("Segments use this list: %(names)s. Change them first.")
                % {"names": ", ".join(segment.name for segment in users)},
            )
        members = locked.members.count()
        record_audit_event(
            actor=actor,
            action=actions.CONTACT_LIST_DELETE,
            target=locked,
            details={"list_id": locked.pk, "name": locked.name, "members": members},
        )
        locked.delete()


def segments_using_list(list_id: int) -> list[Segment]:
    return [
        segment
        for segment in Segment.objects.order_by("name")
        if any(
            rule.get("field") == "list" and rule.get("list") == list_id
            for rule in (segment.definition or {}).get("rules", [])
        )
    ]


def _touch(contact_list: ContactList) -> None:
    ContactList.objects.filter(pk=contact_list.pk).update(updated_at=timezone.now())


def _insert_members(contact_list, contact_ids, actor, source_import=None) -> int:
    rows = [
        ContactListMember(
            contact_list_id=contact_list.pk,
            contact_id=contact_id,
            added_by=actor,
            source_import=source_import,
        )
        for contact_id in contact_ids
    ]
    before = ContactListMember.objects.filter(contact_list=contact_list).count()
    for start in range(0, len(rows), BATCH):
        ContactListMember.objects.bulk_create(rows[start : start + BATCH], ignore_conflicts=True)
    return ContactListMember.objects.filter(contact_list=contact_list).count() - before


def add_members(*, actor, contact_list: ContactList, contact_ids) -> int:
    """Add contacts by id (unknown and erased ids refused: nothing is added); returns how many were
    new to the list."""
    actor = actor_name(actor)
    wanted = sorted({int(contact_id) for contact_id in contact_ids})
    if not wanted:
        raise InvalidInput("contacts", _("Choose at least one contact."))
    with transaction.atomic():
        locked = ContactList.objects.select_for_update().get(pk=contact_list.pk)
        found = set()
        for start in range(0, len(wanted), BATCH):
            found.update(
                Contact.objects.filter(
                    pk__in=wanted[start : start + BATCH], erased_at__isnull=True
                ).values_list("pk", flat=True)
            )
        missing = [contact_id for contact_id in wanted if contact_id not in found]
        if missing:
            raise InvalidInput(
                "contacts",
                _("No such contact: %(ids)s.") % {"ids": ", ".join(f"#{pk}" for pk in missing[:10])},
            )
        added = _insert_members(locked, wanted, actor)
        _audit_added(actor, locked, added, "contact ids")
    return added


def add_import_members(*, actor, contact_list: ContactList, contact_import: ContactImport) -> int:
    """Add every (not erased) contact the import created, in one INSERT … SELECT."""
    actor = actor_name(actor)
    if contact_import.status != ContactImport.Status.DONE:
        raise InvalidInput("contact_import", _("Only a finished import can fill a list."))
    if contact_import.team_id != contact_list.team_id:
        raise InvalidInput("contact_import", _("Only an import of the list's own team can fill it."))
    with transaction.atomic():
        locked = ContactList.objects.select_for_update().get(pk=contact_list.pk)
        before = ContactListMember.objects.filter(contact_list=locked).count()
        stamp = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO audiences_contactlistmember
                    (contact_list_id, contact_id, added_at, added_by, source_import_id)
                SELECT %s, c.id, %s, %s, %s FROM audiences_contact c
                WHERE c.source_id = %s AND c.erased_at IS NULL
                ON CONFLICT (contact_list_id, contact_id) DO NOTHING
                """,
                [locked.pk, stamp, actor, contact_import.pk, contact_import.source_id],
            )
        added = ContactListMember.objects.filter(contact_list=locked).count() - before
        _audit_added(actor, locked, added, f"import #{contact_import.pk}")
    return added


@dataclass
class PastedPhones:
    """What a paste of phones gave: the contacts found, and every refused line with its reason."""

    contact_ids: list[int] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (line number, text, reason)
    added: int = 0
    already: int = 0


def parse_pasted_phones(text: str) -> PastedPhones:
    """One phone per line; blank lines are skipped. A line is refused when the parser refuses it,
    when it repeats an earlier line's number, or when no contact has the number (those two are
    reported with the number masked)."""
    result = PastedPhones()
    lines = str(text or "").splitlines()
    if len(lines) > MAX_PASTED_LINES:
        raise InvalidInput("phones", _("At most %(limit)s lines at a time.") % {"limit": MAX_PASTED_LINES})
    by_phone: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            phone = parse_vietnamese_mobile(raw)
        except PhoneRejected as rejected:
            result.refused.append((number, raw.strip(), str(rejected.message)))
            continue
        if phone in by_phone:
            result.refused.append(
                (
                    number,
                    mask_phone(phone),
                    str(_("The same number as line %(line)s.") % {"line": by_phone[phone]}),
                )
            )
            continue
        by_phone[phone] = number
    if not by_phone and not result.refused:
        raise InvalidInput("phones", _("Paste at least one phone number, one per line."))
    phones = list(by_phone)
    known: dict[str, int] = {}
    for start in range(0, len(phones), BATCH):
        known.update(
            Contact.objects.filter(
                phone__in=phones[start : start + BATCH], erased_at__isnull=True
            ).values_list("phone", "pk")
        )
    for phone, number in by_phone.items():
        if phone in known:
            result.contact_ids.append(known[phone])
        else:
            result.refused.append((number, mask_phone(phone), str(_("No contact has this number."))))
    result.refused.sort()
    return result


def add_pasted_phones(
    *, actor, contact_list: ContactList, text: str, skip_refused: bool = False
) -> PastedPhones:
    """Add the contacts of pasted phones. With a refused line nothing is added unless
    `skip_refused` (then the valid lines are added and the refused ones reported)."""
    actor = actor_name(actor)
    result = parse_pasted_phones(text)
    if result.refused and not skip_refused:
        return result
    if not result.contact_ids:
        return result
    with transaction.atomic():
        locked = ContactList.objects.select_for_update().get(pk=contact_list.pk)
        result.added = _insert_members(locked, result.contact_ids, actor)
        result.already = len(result.contact_ids) - result.added
        _audit_added(actor, locked, result.added, "pasted phones")
    return result


def _audit_added(actor, contact_list, added, source) -> None:
    if added:
        _touch(contact_list)
        record_audit_event(
            actor=actor,
            action=actions.CONTACT_LIST_ADD_MEMBERS,
            target=contact_list,
            details={"list_id": contact_list.pk, "added": added, "source": source},
        )


def remove_members(*, actor, contact_list: ContactList, contact_ids) -> int:
    actor = actor_name(actor)
    wanted = sorted({int(contact_id) for contact_id in contact_ids})
    if not wanted:
        raise InvalidInput("contacts", _("Choose at least one member to remove."))
    with transaction.atomic():
        locked = ContactList.objects.select_for_update().get(pk=contact_list.pk)
        removed = 0
        for start in range(0, len(wanted), BATCH):
            removed += ContactListMember.objects.filter(
                contact_list=locked, contact_id__in=wanted[start : start + BATCH]
            ).delete()[0]
        if removed:
            _touch(locked)
            record_audit_event(
                actor=actor,
                action=actions.CONTACT_LIST_REMOVE_MEMBERS,
                target=locked,
                details={"list_id": locked.pk, "removed": removed},
            )
    return removed


# Segments ------------------------------------------------------------------------------------------


def create_segment(*, actor, name: str, definition, description: str = "", team=None) -> Segment:
    """A new segment in `team` (by default the default team). Raises InvalidInput (name) or
    SegmentError (the definition, naming each bad part)."""
    actor = actor_name(actor)
    name = _clean_name(name)
    cleaned = validate(definition)
    team_id = team.pk if team is not None else default_team_pk()
    with transaction.atomic():
        _unique(Segment, name, team_id)
        segment = Segment.objects.create(
            name=name,
            description=str(description or "").strip(),
            definition=cleaned,
            created_by=actor,
            team_id=team_id,
        )
        record_audit_event(
            actor=actor,
            action=actions.SEGMENT_CREATE,
            target=segment,
            details={
                "segment_id": segment.pk,
                "name": name,
                "rules": len(cleaned["rules"]),
                "definition": cleaned,
            },
        )
    return segment


def update_segment(*, actor, segment: Segment, name: str, definition, description: str = "") -> Segment:
    actor = actor_name(actor)
    name = _clean_name(name)
    description = str(description or "").strip()
    cleaned = validate(definition)
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        _unique(Segment, name, locked.team_id, exclude_pk=locked.pk)
        values = {"name": name, "description": description, "definition": cleaned}
        changed = [field_name for field_name, value in values.items() if getattr(locked, field_name) != value]
        if not changed:
            return locked
        for field_name in changed:
            setattr(locked, field_name, values[field_name])
        locked.updated_by = actor
        locked.save(update_fields=[*changed, "updated_by", "updated_at"])
        record_audit_event(
            actor=actor,
            action=actions.SEGMENT_UPDATE,
            target=locked,
            details={
                "segment_id": locked.pk,
                "name": name,
                "fields": ", ".join(changed),
                "definition": cleaned,
            },
        )
    return locked


def delete_segment(*, actor, segment: Segment) -> None:
    actor = actor_name(actor)
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        record_audit_event(
            actor=actor,
            action=actions.SEGMENT_DELETE,
            target=locked,
            details={"segment_id": locked.pk, "name": locked.name, "definition": locked.definition},
        )
        locked.delete()
