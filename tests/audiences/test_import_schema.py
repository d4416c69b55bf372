"""What the contact import's merge writes into (migration 0006): no index nor foreign key that
nothing reads, while the ones that keep the data right and the segment counts fast stay."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audiences.models import ConsentEvent, ContactConsentState, Purpose, SuppressionState

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
def test_ledger_keeps_its_contact_key_and_one_index_by_contact():
    assert _foreign_keys("audiences_consentevent") == {"audiences_contact"}
    by_contact = [sql for sql in _indexes("audiences_consentevent").values() if "(contact_id" in sql]
    assert by_contact == [sql for sql in by_contact if "(contact_id, purpose, occurred_at)" in sql]
    assert len(by_contact) == 1


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
