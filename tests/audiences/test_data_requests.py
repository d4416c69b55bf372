"""Data-subject requests (issue 11): export everything held about a phone, erase a person while the
ledgers and the audit chain stay verifiable, each request with its legal deadline."""

import json
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audiences import data_requests, services
from audiences.models import (
    ConsentEvent,
    Contact,
    ContactSource,
    DataRequest,
    FollowerStatus,
    Purpose,
    Suppression,
)
from compliance import actions
from compliance.integrity import verify_audit_log
from compliance.models import AuditEvent
from oas.models import OfficialAccount

PHONE = "84912345678"
NAME = "Nguyễn Thị Lan"
ACTOR = "system:test"


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


@pytest.fixture
def person(db, oa):
    source = ContactSource.objects.create(
        kind=ContactSource.Kind.MANUAL, label="front desk", created_by=ACTOR
    )
    contact = services.create_contact(
        actor=ACTOR, phone=PHONE, source=source, name=NAME, attributes={"city": "Huế", "owner": NAME}
    )
    services.set_follower_status(actor=ACTOR, contact=contact, oa=oa, status=FollowerStatus.Status.FOLLOWS)
    services.grant_consent(
        actor=ACTOR,
        contact=contact,
        purpose=Purpose.MARKETING,
        source="web form",
        collector="shop staff",
        wording="Tôi đồng ý nhận tin khuyến mãi qua Zalo.",
        evidence_text=f"signed by {NAME}, {PHONE}",
    )
    services.suppress_phone(actor=ACTOR, phone=PHONE, reason="asked on the phone", source="manual")
    services.lift_suppression(actor=ACTOR, phone=PHONE, reason="asked again")
    return contact


def test_the_export_holds_everything_about_the_phone(person):
    data = data_requests.export_person(PHONE, actor=ACTOR)
    assert data["contact"]["name"] == NAME and data["contact"]["attributes"]["city"] == "Huế"
    assert [row["status"] for row in data["follower_statuses"]] == ["follows"]
    assert [event["kind"] for event in data["consent_events"]] == ["granted"]
    assert data["consent_events"][0]["evidence_text"].startswith("signed by")
    assert [row["kind"] for row in data["suppressions"]] == ["added", "lifted"]
    request = DataRequest.objects.get()
    assert request.status == DataRequest.Status.COMPLETED and request.handled_by == ACTOR
    assert data["data_requests"][0]["id"] == request.pk
    document = json.loads(data_requests.export_json(data))
    assert document["phone"] == PHONE and document["request_id"] == request.pk
    assert AuditEvent.objects.filter(action=actions.DATA_REQUEST_EXPORT).count() == 1


def test_each_request_has_its_deadline(db, settings):
    received = timezone.now() - timedelta(hours=80)
    late = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="erasure", received_at=received)
    assert late.deadline == received + timedelta(hours=72)
    assert late.is_overdue()
    settings.DATA_REQUEST_DEADLINE_HOURS = {**settings.DATA_REQUEST_DEADLINE_HOURS, "export": 24}
    fresh = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="export")
    assert fresh.deadline - fresh.received_at == timedelta(hours=24) and not fresh.is_overdue()
    assert list(data_requests.open_requests()) == [late, fresh]
    data_requests.export_person(PHONE, actor=ACTOR, request=fresh)
    assert list(data_requests.open_requests()) == [late]


def _every_audiences_row() -> str:
    dump = []
    with connection.cursor() as cursor:
        tables = [
            name for name in connection.introspection.table_names(cursor) if name.startswith("audiences_")
        ]
        for table in tables:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names from introspection
            dump.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(dump)


def test_erasure_removes_the_person_and_keeps_the_ledgers_and_the_audit_log_verifiable(person, oa):
    assert PHONE in _every_audiences_row() and NAME in _every_audiences_row()
    request = data_requests.erase_person(PHONE, ACTOR)

    dump = _every_audiences_row()
    assert PHONE not in dump
    assert NAME not in dump and "Huế" not in dump
    contact = Contact.objects.get(pk=person.pk)
    assert contact.erased_at and contact.name == "" and contact.attributes == {}
    assert not FollowerStatus.objects.exists()
    # The consent ledger keeps its rows (grant with its evidence digest, and a withdrawal).
    kinds = list(
        ConsentEvent.objects.filter(contact=contact).values_list("kind", "channel", "evidence_sha256")
    )
    assert kinds[0][0] == "granted" and len(kinds[0][2]) == 64
    assert kinds[1][:2] == ("withdrawn", "data_request")
    # Never contacted again, also once imported again under the same phone.
    assert not services.may_send(PHONE, Purpose.TRANSACTIONAL, oa)
    assert services.current_suppression(PHONE).source == Suppression.Source.DATA_REQUEST
    assert request.status == DataRequest.Status.COMPLETED and request.phone_masked == "0912***678"
    assert verify_audit_log().intact
    erase = AuditEvent.objects.get(action=actions.DATA_REQUEST_ERASE)
    assert erase.details["suppressions"] == 3 and PHONE not in json.dumps(erase.details)
    assert not AuditEvent.objects.filter(details__icontains=PHONE).exists()


def test_the_ledgers_still_refuse_every_other_edit(person):
    data_requests.erase_person(PHONE, ACTOR)
    for sql in (
        "UPDATE audiences_suppression SET phone = '84999999999'",
        "UPDATE audiences_suppression SET phone = '', kind = 'lifted'",
        "UPDATE audiences_consentevent SET evidence_text = '', wording = 'x'",
        "UPDATE audiences_consentevent SET evidence_text = 'forged'",
        "DELETE FROM audiences_suppression",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)


def test_erasing_an_unknown_phone_still_suppresses_it(db, oa):
    data_requests.erase_person(PHONE, ACTOR)
    assert PHONE not in _every_audiences_row()
    assert services.may_send(PHONE, Purpose.TRANSACTIONAL, oa).reason_code == services.REFUSED_SUPPRESSED


def test_a_request_is_answered_once(person):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="erasure")
    data_requests.erase_person(PHONE, ACTOR, request=request)
    with pytest.raises(ValueError):
        data_requests.erase_person(PHONE, ACTOR, request=request)
