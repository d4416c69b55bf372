import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from compliance.models import AuditEvent
from compliance.services import record_audit_event, verify_audit_chain
from oas.models import OfficialAccount


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


def test_events_form_an_intact_chain(oa):
    first = record_audit_event(
        actor="quality", action="oa.kill_switch", summary="stop", target=oa, details={"why": "x"}
    )
    second = record_audit_event(actor="quality", action="oa.resume", summary="resume", target=oa)
    assert second.prev_hash == first.hash
    assert (first.target_type, first.target_id) == ("oas.officialaccount", str(oa.pk))
    assert verify_audit_chain().intact
    assert verify_audit_chain().checked == 2


def test_the_database_refuses_to_edit_or_delete_an_event(oa):
    event = record_audit_event(actor="quality", action="oa.kill_switch", summary="stop", target=oa)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary="nothing happened")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).summary == "stop"


def _bypass_triggers(sql, params):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE compliance_auditevent ENABLE TRIGGER USER")


def test_an_edit_made_behind_the_applications_back_is_detected(oa):
    record_audit_event(actor="a", action="x.one", summary="one")
    victim = record_audit_event(actor="a", action="x.two", summary="two", details={"amount": 5})
    record_audit_event(actor="a", action="x.three", summary="three")
    _bypass_triggers(
        "UPDATE compliance_auditevent SET details = %s WHERE id = %s", ['{"amount": 500}', victim.pk]
    )
    result = verify_audit_chain()
    assert (result.intact, result.first_broken_id) == (False, victim.pk)
    with pytest.raises(CommandError, match=f"NOT intact at entry #{victim.pk}"):
        call_command("verify_audit_log")


def test_a_deleted_entry_is_detected(oa):
    for number in range(3):
        record_audit_event(actor="a", action="x", summary=str(number))
    middle = AuditEvent.objects.order_by("id")[1]
    _bypass_triggers("DELETE FROM compliance_auditevent WHERE id = %s", [middle.pk])
    result = verify_audit_chain()
    assert not result.intact
    assert "link broken" in result.reason


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    errors = []

    def write(worker):
        try:
            for number in range(10):
                record_audit_event(actor=f"worker-{worker}", action="x", summary=str(number))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify_audit_chain()
    assert (result.intact, result.checked) == (True, 40)
