"""The data core of audiences: normalised phones checked by the database, the append-only consent
ledger and do-not-contact list, and the one question the dispatcher asks (`may_send`)."""

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.utils import timezone

from audiences import services
from audiences.models import ConsentEvent, Contact, ContactSource, FollowerStatus, Purpose, Suppression
from compliance import actions
from compliance.models import AuditEvent
from oas.models import OfficialAccount

# Until the shared phone parser exists, fixtures check their own numbers with a plain regex.
NORMALISED = re.compile(r"^84[0-9]{9}$")
PHONE = "84912345678"
ACTOR = "system:test"


def _phone(value: str) -> str:
    assert NORMALISED.fullmatch(value), value
    return value


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


@pytest.fixture
def source(db):
    return ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="front desk", created_by=ACTOR)


@pytest.fixture
def contact(source):
    return services.create_contact(actor=ACTOR, phone=_phone(PHONE), source=source, name="Lan")


def _grant(contact, purpose=Purpose.MARKETING, **extra):
    values = {
        "source": "web form",
        "collector": "shop staff",
        "wording": "Tôi đồng ý nhận tin khuyến mãi qua Zalo.",
        "evidence_text": "form submission #42",
    }
    return services.grant_consent(actor=ACTOR, contact=contact, purpose=purpose, **(values | extra))


def _withdraw(contact, purpose=Purpose.MARKETING, **extra):
    channel = extra.pop("channel", ConsentEvent.Channel.OPT_OUT_REPLY)
    return services.withdraw_consent(actor=ACTOR, contact=contact, purpose=purpose, channel=channel, **extra)


def _audit(action):
    return list(AuditEvent.objects.filter(action=action))


# Phones are normalised in the database -------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["0912345678", "8491234567", "849123456789", "84912a45678", "+8491234567", ""]
)
def test_the_database_refuses_a_phone_that_is_not_normalised(source, bad):
    # The check constraint refuses; PostgreSQL already refuses a 12-character value by its length.
    refused = (IntegrityError, DataError)
    with pytest.raises(refused), transaction.atomic():
        Contact.objects.bulk_create([Contact(phone=bad, source=source)])
    with pytest.raises(refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audiences_contact (phone, name, attributes, source_id, created_at) "
            "VALUES (%s, '', '{}', %s, %s)",
            [bad, source.pk, timezone.now()],
        )
    assert not Contact.objects.exists()


def test_a_normalised_phone_is_stored_once(source):
    Contact.objects.bulk_create([Contact(phone=_phone(PHONE), source=source, attributes={"city": "Huế"})])
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(phone=PHONE, source=source)
    assert Contact.objects.get().attributes == {"city": "Huế"}


def test_services_refuse_an_unnormalised_phone(source):
    with pytest.raises(ValueError, match="normalised"):
        services.create_contact(actor=ACTOR, phone="0912345678", source=source)
    with pytest.raises(ValueError, match="normalised"):
        services.suppress_phone(actor=ACTOR, phone="0912 345 678", reason="x", source="manual")
    assert not AuditEvent.objects.exists()


# The ledgers are append-only -----------------------------------------------------------------------


def test_the_consent_ledger_refuses_edits_and_deletes_through_the_orm(contact):
    event = _grant(contact)
    event.wording = "something else"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(kind=ConsentEvent.Kind.WITHDRAWN)
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).delete()
    assert ConsentEvent.objects.get().wording.startswith("Tôi đồng ý")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audiences_consentevent SET kind = 'withdrawn'",
        "DELETE FROM audiences_consentevent",
        "UPDATE audiences_suppression SET kind = 'lifted'",
        "DELETE FROM audiences_suppression",
    ],
)
def test_the_ledgers_refuse_edits_and_deletes_in_raw_sql(contact, sql):
    _grant(contact)
    services.suppress_phone(actor=ACTOR, phone=PHONE, reason="asked", source="manual")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert ConsentEvent.objects.get().kind == ConsentEvent.Kind.GRANTED
    assert Suppression.objects.get().kind == Suppression.Kind.ADDED


def test_the_suppression_list_refuses_orm_edits(db):
    row = services.suppress_phone(actor=ACTOR, phone=PHONE, reason="asked", source="manual")
    with pytest.raises(PermissionError):
        row.save()
    with pytest.raises(PermissionError):
        row.delete()


def test_an_incomplete_ledger_event_is_refused_by_the_database(contact):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentEvent.objects.create(
            contact=contact, purpose=Purpose.MARKETING, kind="granted", occurred_at=now, recorded_by=ACTOR
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentEvent.objects.create(
            contact=contact, purpose=Purpose.MARKETING, kind="withdrawn", occurred_at=now, recorded_by=ACTOR
        )


# Grants keep their evidence ------------------------------------------------------------------------


def test_a_grant_keeps_the_wording_and_the_sha256_of_its_evidence(contact):
    text_grant = _grant(contact)
    assert text_grant.evidence_sha256 == hashlib.sha256(b"form submission #42").hexdigest()
    scan = io.BytesIO(b"%PDF-1.4 signed form")
    scan.name = "consent-lan.pdf"
    file_grant = _grant(contact, Purpose.CUSTOMER_CARE, evidence_text="", evidence_file=scan)
    assert file_grant.evidence_file_name == "consent-lan.pdf"
    assert file_grant.evidence_sha256 == hashlib.sha256(b"%PDF-1.4 signed form").hexdigest()
    assert file_grant.wording == "Tôi đồng ý nhận tin khuyến mãi qua Zalo."


@pytest.mark.parametrize(
    "change, match",
    [
        ({"evidence_text": ""}, "evidence"),
        ({"wording": " "}, "wording"),
        ({"collector": ""}, "collector"),
        ({"purpose": "newsletter"}, "purpose"),
        ({"occurred_at": timezone.now() + timedelta(days=1)}, "future"),
    ],
)
def test_an_incomplete_grant_is_refused_and_records_nothing(contact, change, match):
    with pytest.raises(ValueError, match=match):
        _grant(contact, **change)
    assert not ConsentEvent.objects.exists()
    assert not _audit(actions.CONSENT_GRANT)


def test_a_withdrawal_needs_a_known_channel(contact):
    with pytest.raises(ValueError, match="channel"):
        _withdraw(contact, channel="carrier pigeon")


# Current consent is derived from the ledger ----------------------------------------------------------


def test_a_marketing_grant_allows_marketing(contact, oa):
    assert services.current_consent(contact, Purpose.MARKETING).status == "none"
    _grant(contact)
    assert services.current_consent(contact, Purpose.MARKETING).granted
    decision = services.may_send(PHONE, Purpose.MARKETING, oa)
    assert decision.allowed and decision.reason_code == services.ALLOWED_CONSENT


def test_marketing_without_consent_is_refused_with_its_reason(contact, oa):
    decision = services.may_send(PHONE, Purpose.MARKETING, oa)
    assert not decision.allowed
    assert decision.reason_code == services.REFUSED_NO_CONSENT
    assert "consent" in decision.reason_text


def test_a_withdrawal_after_a_grant_wins_at_once(contact, oa):
    _grant(contact)
    assert services.may_send(PHONE, Purpose.MARKETING, oa).allowed
    _withdraw(contact)
    state = services.current_consent(contact, Purpose.MARKETING)
    assert state.status == ConsentEvent.Kind.WITHDRAWN
    assert state.event.channel == ConsentEvent.Channel.OPT_OUT_REPLY
    decision = services.may_send(PHONE, Purpose.MARKETING, oa)
    assert (decision.allowed, decision.reason_code) == (False, services.REFUSED_WITHDRAWN)
    assert ConsentEvent.objects.count() == 2  # the grant is still there, never edited


def test_a_withdrawal_at_the_same_instant_as_a_grant_wins(contact, oa):
    moment = timezone.now() - timedelta(minutes=1)
    _withdraw(contact, occurred_at=moment)
    _grant(contact, occurred_at=moment)
    assert services.current_consent(contact, Purpose.MARKETING).status == ConsentEvent.Kind.WITHDRAWN


def test_a_grant_after_a_withdrawal_allows_again(contact, oa):
    _grant(contact, occurred_at=timezone.now() - timedelta(days=2))
    _withdraw(contact, occurred_at=timezone.now() - timedelta(days=1))
    assert not services.may_send(PHONE, Purpose.MARKETING, oa).allowed
    _grant(contact)
    assert services.may_send(PHONE, Purpose.MARKETING, oa).allowed


def test_a_backdated_grant_does_not_undo_a_later_withdrawal(contact, oa):
    _withdraw(contact)
    _grant(contact, occurred_at=timezone.now() - timedelta(days=30))
    assert services.may_send(PHONE, Purpose.MARKETING, oa).reason_code == services.REFUSED_WITHDRAWN


@pytest.mark.parametrize("purpose", [Purpose.TRANSACTIONAL, Purpose.CUSTOMER_CARE])
def test_transactional_and_customer_care_need_no_marketing_consent(contact, oa, purpose):
    decision = services.may_send(PHONE, purpose, oa)
    assert (decision.allowed, decision.reason_code) == (True, services.ALLOWED_NO_OBJECTION)
    _withdraw(contact)  # withdrawing marketing leaves the other purposes alone
    assert services.may_send(PHONE, purpose, oa).allowed
    assert not services.may_send(PHONE, Purpose.MARKETING, oa).allowed


@pytest.mark.parametrize("purpose", [Purpose.TRANSACTIONAL, Purpose.CUSTOMER_CARE])
def test_a_withdrawal_for_transactional_or_customer_care_refuses_that_purpose(contact, oa, purpose):
    _grant(contact)
    _withdraw(contact, purpose, channel=ConsentEvent.Channel.DATA_REQUEST)
    assert services.may_send(PHONE, purpose, oa).reason_code == services.REFUSED_WITHDRAWN
    assert services.may_send(PHONE, Purpose.MARKETING, oa).allowed


def test_a_marketing_grant_does_not_count_for_another_purpose(contact):
    _grant(contact)
    assert services.current_consent(contact, Purpose.CUSTOMER_CARE).status == "none"


def test_a_phone_without_contact_gets_transactional_but_not_marketing(oa):
    other = _phone("84987654321")
    assert services.may_send(other, Purpose.TRANSACTIONAL, oa).allowed
    assert services.may_send(other, Purpose.MARKETING, oa).reason_code == services.REFUSED_NO_CONSENT


def test_an_unnormalised_phone_is_refused_with_its_reason(db, oa):
    decision = services.may_send("0912345678", Purpose.TRANSACTIONAL, oa)
    assert (decision.allowed, decision.reason_code) == (False, services.REFUSED_INVALID_PHONE)


# Suppression beats consent -------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", Purpose.values)
def test_suppression_beats_consent_for_every_purpose(contact, oa, purpose):
    _grant(contact, purpose)
    services.suppress_phone(actor=ACTOR, phone=PHONE, reason="STOP reply", source="provider_feedback")
    decision = services.may_send(PHONE, purpose, oa)
    assert (decision.allowed, decision.reason_code) == (False, services.REFUSED_SUPPRESSED)
    assert "do-not-contact" in decision.reason_text


def test_suppressing_twice_keeps_one_row_and_lifting_appends_one(contact, oa):
    _grant(contact)
    first = services.suppress_phone(actor=ACTOR, phone=PHONE, reason="asked", source="manual")
    assert services.suppress_phone(actor=ACTOR, phone=PHONE, reason="again", source="opt_out_reply") == first
    lifted = services.lift_suppression(actor="user:dpo", phone=PHONE, reason="customer asked back in writing")
    assert lifted.kind == Suppression.Kind.LIFTED
    assert services.current_suppression(PHONE) is None
    assert services.may_send(PHONE, Purpose.MARKETING, oa).allowed
    assert Suppression.objects.count() == 2
    with pytest.raises(ValueError, match="not on the do-not-contact list"):
        services.lift_suppression(actor=ACTOR, phone=PHONE, reason="again")
    services.suppress_phone(actor=ACTOR, phone=PHONE, reason="asked again", source="manual")
    assert not services.may_send(PHONE, Purpose.MARKETING, oa).allowed


def test_a_phone_may_be_suppressed_before_it_is_a_contact(oa):
    services.suppress_phone(actor=ACTOR, phone="84987654321", reason="data request", source="data_request")
    assert (
        services.may_send("84987654321", Purpose.TRANSACTIONAL, oa).reason_code == services.REFUSED_SUPPRESSED
    )


# Every change is audited -----------------------------------------------------------------------------


def test_every_change_writes_its_audit_entry_with_the_phone_masked(contact, oa):
    (created,) = _audit(actions.CONTACT_CREATE)
    assert created.target_id == str(contact.pk) and created.details["phone"] == "0912***678"

    services.set_follower_status(actor=ACTOR, contact=contact, oa=oa, status=FollowerStatus.Status.FOLLOWS)
    services.set_follower_status(actor=ACTOR, contact=contact, oa=oa, status=FollowerStatus.Status.FOLLOWS)
    services.set_follower_status(actor=ACTOR, contact=contact, oa=oa, status="does_not_follow")
    follows = _audit(actions.CONTACT_FOLLOWER_STATUS)
    assert [(e.details["from"], e.details["to"]) for e in follows] == [
        ("unknown", "follows"),
        ("follows", "does_not_follow"),
    ]
    assert FollowerStatus.objects.get().status == "does_not_follow"

    grant = _grant(contact)
    withdrawal = _withdraw(contact)
    (granted,) = _audit(actions.CONSENT_GRANT)
    assert (granted.target_type, granted.target_id) == ("audiences.consentevent", str(grant.pk))
    assert granted.details["evidence_sha256"] == grant.evidence_sha256
    (withdrawn,) = _audit(actions.CONSENT_WITHDRAW)
    assert withdrawn.target_id == str(withdrawal.pk) and withdrawn.details["channel"] == "opt_out_reply"

    services.suppress_phone(actor="user:marketer", phone=PHONE, reason="asked", source="manual")
    services.lift_suppression(actor="user:dpo", phone=PHONE, reason="asked back")
    (added,) = _audit(actions.SUPPRESSION_ADD)
    (lifted,) = _audit(actions.SUPPRESSION_LIFT)
    assert (added.actor, lifted.actor) == ("user:marketer", "user:dpo")
    assert PHONE not in str([e.details for e in AuditEvent.objects.all()])
    assert all(e.description and "%(" not in e.description for e in AuditEvent.objects.all())


def test_may_send_records_nothing(contact, oa):
    before = AuditEvent.objects.count()
    services.may_send(PHONE, Purpose.MARKETING, oa)
    assert AuditEvent.objects.count() == before
