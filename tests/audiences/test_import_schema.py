"""What the contact import's merge writes into (migrations 0006, 0007): no index nor foreign key that
nothing reads, keys checked set-based by triggers, cheap check constraints that refuse the same
rows, while what keeps the data right and the segment counts fast stays."""

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from audiences.models import (
    ConsentEvent,
    Contact,
    ContactConsentState,
    ContactFacts,
    ContactSource,
    Purpose,
    SuppressionState,
)

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL schema")


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def _foreign_keys(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = %s::regclass",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_contact_indexes_are_the_ones_read():
    definitions = _indexes("audiences_contact")
    assert not [name for name, sql in definitions.items() if "varchar_pattern_ops" in sql]
    assert "UNIQUE" in definitions["audiences_contact_phone_key"]
    assert definitions["audiences_contact_attributes_gin"].endswith("USING gin (attributes jsonb_path_ops)")
    assert definitions["audiences_contact_sent"].endswith("WHERE (last_sent_at IS NOT NULL)")
    assert definitions["audiences_contact_bad_report"].endswith("WHERE (last_bad_report_at IS NOT NULL)")
    # A full index on either time would take an entry for every imported contact.
    assert not [sql for sql in definitions.values() if "(last_sent_at)" in sql and "WHERE" not in sql]
    assert not [sql for sql in definitions.values() if "(last_bad_report_at)" in sql and "WHERE" not in sql]


@pytest.mark.django_db
def test_ledger_and_contacts_check_their_keys_set_based_and_keep_one_index_by_contact():
    # The ledger's and the contacts' foreign keys are statement-level trigger checks (migration
    # 0007): a deferred key costs a check per row at commit.
    assert _foreign_keys("audiences_consentevent") == set()
    assert "audiences_contactsource" not in _foreign_keys("audiences_contact")
    ledger = _indexes("audiences_consentevent")
    by_contact = [sql for sql in ledger.values() if "(contact_id" in sql]
    assert by_contact == [sql for sql in by_contact if "(contact_id, purpose, occurred_at)" in sql]
    assert len(by_contact) == 1
    assert not [sql for sql in ledger.values() if sql.endswith("(occurred_at)")]


def _check_definition(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [name])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_checks_of_imported_rows_use_no_bounded_regex_repetition():
    # '{64}' made PostgreSQL's regex engine cost 7 µs a ledger row; the checks say the same thing.
    for name in ("audiences_consent_event_complete", "audiences_contact_phone_normalised"):
        definition = _check_definition(name)
        assert "{64}" not in definition and "{9}" not in definition, definition


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sha256",
    ["a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 63 + "\n", ""],
)
def test_a_grant_with_a_malformed_digest_is_still_refused(sha256):
    source = ContactSource.objects.create(kind="manual", label="desk", created_by="system:test")
    contact = Contact.objects.create(phone="84912345678", source=source)
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():  # 65 characters: varchar(64)
        ConsentEvent.objects.create(
            contact=contact,
            purpose=Purpose.MARKETING,
            kind="granted",
            wording="Đồng ý",
            evidence_sha256=sha256,
            occurred_at=timezone.now(),
            recorded_by="system:test",
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "phone", ["8491234567", "849123456789", "84912345a78", "85912345678", "8491234567\n"]
)
def test_a_malformed_phone_is_still_refused(phone):
    source = ContactSource.objects.create(kind="manual", label="desk", created_by="system:test")
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():  # 12 characters: varchar(11)
        Contact.objects.create(phone=phone, source=source)


@pytest.mark.django_db
def test_a_contact_of_no_source_is_refused_and_a_named_source_cannot_be_deleted():
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(phone="84912345678", source_id=987654321)
    source = ContactSource.objects.create(kind="manual", label="desk", created_by="system:test")
    contact = Contact.objects.create(phone="84912345678", source=source)
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(source_id=987654321)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audiences_contactsource WHERE id = %s", [source.pk])
    assert Contact.objects.filter(pk=contact.pk, source=source).exists()


@pytest.mark.django_db
def test_a_contact_with_ledger_rows_cannot_be_deleted():
    source = ContactSource.objects.create(kind="manual", label="desk", created_by="system:test")
    contact = Contact.objects.create(phone="84912345678", source=source)
    ConsentEvent.objects.create(
        contact=contact,
        purpose=Purpose.MARKETING,
        kind="withdrawn",
        channel="manual",
        occurred_at=timezone.now(),
        recorded_by="system:test",
    )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audiences_contact WHERE id = %s", [contact.pk])
    other = Contact.objects.create(phone="84912345679", source=source)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audiences_contact WHERE id = %s", [other.pk])  # no ledger: allowed
    assert not ContactFacts.objects.filter(contact_id=other.pk).exists()
    assert ContactFacts.objects.filter(contact_id=contact.pk).exists()


@pytest.mark.django_db
def test_state_tables_have_no_foreign_keys_nor_unused_indexes():
    assert _foreign_keys("audiences_contactconsentstate") == set()
    assert _foreign_keys("audiences_suppressionstate") == set()
    consent = _indexes("audiences_contactconsentstate")
    assert sorted(consent) == [
        "audiences_consent_granted",
        "audiences_consent_state_once",
        "audiences_consent_withdrawn",
        "audiences_contactconsentstate_pkey",
    ]
    assert not [name for name in _indexes("audiences_suppressionstate") if "suppression_id" in name]


@pytest.mark.django_db
def test_a_ledger_event_of_no_contact_is_still_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's keys are checked at commit
        ConsentEvent.objects.create(
            contact_id=987654321,
            purpose=Purpose.MARKETING,
            kind="withdrawn",
            channel="manual",
            occurred_at=timezone.now(),
            recorded_by="system:test",
        )


def test_the_relations_stay_known_to_django():
    contact = ContactConsentState._meta.get_field("contact")
    event = ContactConsentState._meta.get_field("event")
    suppression = SuppressionState._meta.get_field("suppression")
    assert (contact.db_constraint, event.db_constraint, suppression.db_constraint) == (False, False, False)
    assert contact.related_model.__name__ == "Contact"
    assert event.related_model is ConsentEvent
