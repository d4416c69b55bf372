"""The data-subject request pages (issue 11): the register with its deadlines, the export download,
the erasure behind its confirmation, for compliance auditors only."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audiences import data_requests, services
from audiences.models import ConsentEvent, Contact, ContactSource, DataRequest, FollowerStatus, Purpose
from compliance import actions
from compliance.integrity import verify_audit_log
from compliance.models import AuditEvent
from oas.models import OfficialAccount
from zalo_admin.lib.phones import REASONS

ACTOR = "system:test"
PHONE = "84912345678"
NATIONAL = "0912345678"
MASKED = "0912***678"
NAME = "Nguyễn Thị Lan"
LIST = reverse("audiences:data_requests")


@pytest.fixture
def person(db):
    oa = OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")
    source = ContactSource.objects.create(
        kind=ContactSource.Kind.MANUAL, label="front desk", created_by=ACTOR
    )
    contact = services.create_contact(
        actor=ACTOR, phone=PHONE, source=source, name=NAME, attributes={"city": "Huế"}
    )
    services.set_follower_status(actor=ACTOR, contact=contact, oa=oa, status=FollowerStatus.Status.FOLLOWS)
    services.grant_consent(
        actor=ACTOR,
        contact=contact,
        purpose=Purpose.MARKETING,
        source="web form",
        collector="shop staff",
        wording="Tôi đồng ý nhận tin khuyến mãi qua Zalo.",
        evidence_text="form submission #42",
    )
    return contact


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _detail(data_request) -> str:
    return reverse("audiences:data_request", args=[data_request.pk])


def _received_field(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _audit(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# --- registering ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"phone": "024 3826 4567", "kind": "export"}, "phone", REASONS["landline"]),
        ({"phone": "0912 345 67a", "kind": "export"}, "phone", REASONS["letters"]),
        ({"phone": "", "kind": "erasure"}, "phone", REASONS["empty"]),
        ({"phone": NATIONAL, "kind": "forget-me"}, "kind", "Select a valid choice"),
        ({"phone": NATIONAL, "kind": "export", "received_at": "yesterday"}, "received_at", "Enter a valid"),
    ],
)
def test_registering_bad_input_changes_nothing(client, auditor, data, field, message):
    client.force_login(auditor)
    data.setdefault("received_at", _received_field(timezone.now()))
    response = client.post(LIST, data)
    html = _html(response)
    assert field in response.context["form"].errors
    assert str(message) in html
    assert not DataRequest.objects.exists()
    assert not _audit(actions.DATA_REQUEST_RECEIVE)


def test_a_request_received_in_the_future_is_refused_and_a_valid_phone_is_not_written_back(client, auditor):
    client.force_login(auditor)
    tomorrow = _received_field(timezone.now() + timedelta(days=1))
    html = _html(client.post(LIST, {"phone": "0912 345 678", "kind": "export", "received_at": tomorrow}))
    assert "A request cannot be received in the future." in html
    assert "345" not in html.split('name="phone"')[1].split(">")[0]  # the input carries no value
    assert not DataRequest.objects.exists()


def test_a_refused_phone_stays_in_the_field_to_be_corrected(client, auditor):
    client.force_login(auditor)
    html = _html(client.post(LIST, {"phone": "0912 345 67a", "kind": "export", "received_at": ""}))
    assert 'value="0912 345 67a"' in html


def test_registering_records_the_request_with_its_deadline_and_audit_entry(client, auditor, person):
    client.force_login(auditor)
    received = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 08:30 in Vietnam
    response = client.post(
        LIST, {"phone": "+84 912 345 678", "kind": "erasure", "received_at": "2026-03-02T08:30"}
    )
    request = DataRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == _detail(request)
    assert (request.kind, request.status, request.contact) == ("erasure", "open", person)
    assert request.received_at == received
    assert request.deadline == received + timedelta(hours=72)
    assert request.received_by == f"user:{auditor.username}"
    [entry] = _audit(actions.DATA_REQUEST_RECEIVE)
    assert entry.details["phone"] == MASKED and PHONE not in json.dumps(entry.details)
    html = _html(client.get(response["Location"]))
    assert "answer it by 2026-03-05 08:30 (Vietnam time)" in html
    assert 'data-testid="deadline">2026-03-05 08:30<' in html


def test_the_register_form_defaults_to_now_in_vietnam_time(client, auditor):
    client.force_login(auditor)
    before = _received_field(timezone.now())
    html = _html(client.get(LIST))
    after = _received_field(timezone.now())
    shown = html.split('name="received_at"')[1].split(">")[0]
    assert f'value="{before}"' in shown or f'value="{after}"' in shown
    assert '<input type="datetime-local" name="received_at"' in html


# --- the register -------------------------------------------------------------------------------------


def test_the_list_shows_open_requests_first_by_deadline_with_time_left_or_overdue(client, auditor, settings):
    settings.DATA_REQUEST_DEADLINE_HOURS = {"export": 72, "erasure": 24}
    now = timezone.now()
    late = data_requests.receive_request(
        actor=ACTOR, phone="84987654321", kind="erasure", received_at=now - timedelta(hours=30)
    )
    soon = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="export", received_at=now)
    fixed = data_requests.receive_request(
        actor=ACTOR, phone="84903123456", kind="export", received_at=datetime(2026, 1, 1, 17, 5, tzinfo=UTC)
    )
    answered = data_requests.receive_request(actor=ACTOR, phone="84938765432", kind="export")
    data_requests.export_person("84938765432", actor=ACTOR, request=answered)
    client.force_login(auditor)
    response = client.get(LIST)
    html = _html(response).replace("\xa0", " ")
    assert [row.pk for row in response.context["open_requests"]] == [fixed.pk, late.pk, soon.pk]
    assert [row.pk for row in response.context["answered"].object_list] == [answered.pk]
    open_table = html.split('data-testid="open-requests"')[1].split("</table>")[0]
    assert (
        open_table.index(f"#{fixed.pk}<")
        < open_table.index(f"#{late.pk}<")
        < open_table.index(f"#{soon.pk}<")
    )
    row = lambda request: html.split(f'data-testid="request-{request.pk}"')[1].split("</tr>")[0]  # noqa: E731
    # Received 2026-01-01 17:05 UTC = 2026-01-02 00:05 in Vietnam; an export is due 72 h later.
    assert "2026-01-02 00:05" in row(fixed) and 'data-testid="deadline">2026-01-05 00:05<' in row(fixed)
    assert 'data-testid="overdue"' in row(late) and "Overdue by 6" in row(late)
    assert 'data-testid="time-left"' in row(soon) and "2 days, 23 hours left" in row(soon)
    assert 'data-testid="answered-on-time"' in row(answered) and ACTOR in row(answered)
    for masked in ("0987***321", MASKED, "0903***456", "0938***432"):
        assert masked in html
    assert "within 72 hours" in html and "within 24 hours" in html


# --- export -----------------------------------------------------------------------------------------


def test_opening_an_export_request_changes_nothing(client, auditor, person):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="export")
    client.force_login(auditor)
    html = _html(client.get(_detail(request)))
    assert 'data-testid="prepare-export"' in html
    _html(client.get(_detail(request)))
    request.refresh_from_db()
    assert request.status == DataRequest.Status.OPEN
    assert not _audit(actions.DATA_REQUEST_EXPORT)


def test_an_export_needs_the_request_s_own_number(client, auditor, person):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="export")
    client.force_login(auditor)
    html = _html(client.post(_detail(request), {"phone": "0987 654 321"}))
    assert f"This is not the number of this request ({MASKED})." in html
    html = _html(client.post(_detail(request), {"phone": "0912 345"}))
    assert str(REASONS["too_short"]) in html
    request.refresh_from_db()
    assert request.status == DataRequest.Status.OPEN
    assert not _audit(actions.DATA_REQUEST_EXPORT)


def test_the_export_downloads_everything_uncached_and_is_audited_once(client, auditor, person):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="export")
    client.force_login(auditor)
    response = client.post(_detail(request), {"phone": "0912.345.678"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="data-request-{request.pk}-export.json"'
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content.decode())
    assert data["phone"] == PHONE and data["request_id"] == request.pk
    assert data["contact"]["name"] == NAME and data["contact"]["attributes"] == {"city": "Huế"}
    assert [event["evidence_text"] for event in data["consent_events"]] == ["form submission #42"]
    assert [row["status"] for row in data["follower_statuses"]] == ["follows"]
    request.refresh_from_db()
    assert request.status == DataRequest.Status.COMPLETED
    assert request.handled_by == f"user:{auditor.username}"
    [entry] = _audit(actions.DATA_REQUEST_EXPORT)
    assert entry.actor == f"user:{auditor.username}"
    assert entry.details == {"request_id": request.pk, "phone": MASKED}
    # Answered: a second POST does nothing, and the page says where the answer is recorded.
    again = client.post(_detail(request), {"phone": NATIONAL})
    assert again.status_code == 302 and again["Location"] == _detail(request)
    assert len(_audit(actions.DATA_REQUEST_EXPORT)) == 1
    html = _html(client.get(_detail(request)))
    assert "already answered" in html
    assert f"recorded in the audit log as entry {entry.seq}" in html
    assert 'data-testid="prepare-export"' not in html
    assert NATIONAL not in html and PHONE not in html


# --- erasure ----------------------------------------------------------------------------------------


def test_the_erasure_page_spells_out_the_consequences(client, auditor, person):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="erasure")
    client.force_login(auditor)
    html = _html(client.get(_detail(request)))
    assert 'data-testid="erasure-consequences"' in html
    assert "replaced by a random pseudonym" in html and "This cannot be undone." in html
    assert "its hash chain still verifies" in html


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"phone": NATIONAL}, "Tick the box to confirm the erasure."),
        ({"phone": NATIONAL, "confirm": ""}, "Tick the box to confirm the erasure."),
        ({"phone": "0987 654 321", "confirm": "on"}, f"This is not the number of this request ({MASKED})."),
        ({"confirm": "on"}, REASONS["empty"]),
    ],
)
def test_an_erasure_without_confirmation_changes_nothing(client, auditor, person, data, error):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="erasure")
    client.force_login(auditor)
    html = _html(client.post(_detail(request), data))
    assert str(error) in html
    assert NATIONAL not in html and PHONE not in html  # the typed number is not written back
    person.refresh_from_db()
    assert (person.phone, person.name, person.erased_at) == (PHONE, NAME, None)
    assert FollowerStatus.objects.filter(contact=person).exists()
    request.refresh_from_db()
    assert request.status == DataRequest.Status.OPEN
    assert not _audit(actions.DATA_REQUEST_ERASE)


def test_a_confirmed_erasure_erases_and_shows_what_stays_verifiable(client, auditor, person):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="erasure")
    client.force_login(auditor)
    response = client.post(_detail(request), {"phone": "0912 345 678", "confirm": "on"})
    assert response.status_code == 302 and response["Location"] == _detail(request)
    person.refresh_from_db()
    assert person.phone != PHONE and person.name == "" and person.attributes == {}
    assert person.erased_at is not None
    assert not Contact.objects.filter(phone=PHONE).exists()
    assert not FollowerStatus.objects.filter(contact=person).exists()
    assert ConsentEvent.objects.filter(contact=person).count() == 2  # the grant, and its withdrawal
    [entry] = _audit(actions.DATA_REQUEST_ERASE)
    assert entry.actor == f"user:{auditor.username}" and entry.details["contact_id"] == person.pk
    assert verify_audit_log(record=False).intact

    verify_audit_log()  # a recorded verification, as the nightly job leaves
    html = _html(client.get(response["Location"]))
    assert "the person&#x27;s data is erased" in html
    outcome = html.split('data-testid="erasure-outcome"')[1]
    assert f"Contact #{person.pk}: name and attributes removed" in outcome
    assert (
        "keeps its 2 events" in outcome and "fingerprints (SHA-256) kept and still verifiable: 1." in outcome
    )
    assert "do-not-contact list: 1 entry" in outcome and "plain numbers left: 0" in outcome
    assert f"audit log as entry {entry.seq}" in outcome and entry.hash in outcome
    assert "intact" in outcome and reverse("compliance:index") in outcome
    assert 'data-testid="erase"' not in html
    assert NAME not in html and NATIONAL not in html and PHONE not in html
    # Answered: posting again erases nothing more.
    client.post(_detail(request), {"phone": NATIONAL, "confirm": "on"})
    assert len(_audit(actions.DATA_REQUEST_ERASE)) == 1


def test_an_erasure_for_a_number_without_contact_still_suppresses_it(client, auditor, db):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="erasure")
    client.force_login(auditor)
    response = client.post(_detail(request), {"phone": NATIONAL, "confirm": "on"})
    assert response.status_code == 302
    assert services.current_suppression(PHONE) is not None
    html = _html(client.get(_detail(request)))
    assert "there was no contact to pseudonymise" in html and "do-not-contact list: 1 entry" in html


# --- access -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("auditor", True), ("superuser", True), ("marketer", False), ("quality_admin", False)],
)
def test_only_compliance_auditors_handle_data_requests(client, role_users, person, role, allowed):
    request = data_requests.receive_request(actor=ACTOR, phone=PHONE, kind="erasure")
    client.force_login(role_users[role])
    index = _html(client.get(reverse("audiences:index")))
    assert ('data-testid="data-requests-link"' in index) is allowed
    assert (LIST in index) is allowed
    expected = 200 if allowed else 403
    assert client.get(LIST).status_code == expected
    assert client.get(_detail(request)).status_code == expected
    if not allowed:
        assert client.post(_detail(request), {"phone": NATIONAL, "confirm": "on"}).status_code == 403
        assert client.post(LIST, {"phone": NATIONAL, "kind": "export", "received_at": ""}).status_code == 403
        person.refresh_from_db()
        assert person.phone == PHONE and DataRequest.objects.count() == 1


def test_a_missing_request_is_404(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("audiences:data_request", args=[999999])).status_code == 404
    assert (
        client.post(reverse("audiences:data_request", args=[999999]), {"phone": NATIONAL}).status_code == 404
    )
