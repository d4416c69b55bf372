"""Contact lists and segments: the audited services (audiences.lists) and their pages, per role."""

from io import BytesIO

import pytest
from django.urls import reverse

from audiences import imports, lists, services
from audiences.models import ContactList, ContactListMember, ContactSource, Purpose, Segment
from compliance import actions
from compliance.models import AuditEvent
from oas.models import OfficialAccount

ACTOR = "system:test"


@pytest.fixture
def source(db):
    return ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="desk", created_by=ACTOR)


@pytest.fixture
def contacts(source):
    made = [
        services.create_contact(actor=ACTOR, phone=f"849120000{n:02d}", source=source, name=f"Khách {n}")
        for n in range(3)
    ]
    services.grant_consent(
        actor=ACTOR,
        contact=made[0],
        purpose=Purpose.MARKETING,
        source="web",
        collector="staff",
        wording="Đồng ý",
        evidence_text="form 1",
    )
    return made


def _actions(action):
    return AuditEvent.objects.filter(action=action)


# Services ------------------------------------------------------------------------------------------


def test_create_rename_delete_a_list_audited(contacts):
    contact_list = lists.create_list(actor=ACTOR, name=" VIP ", description="best")
    assert contact_list.name == "VIP"
    with pytest.raises(lists.InvalidInput) as refused:
        lists.create_list(actor=ACTOR, name="vip")
    assert refused.value.field == "name"
    with pytest.raises(lists.InvalidInput):
        lists.create_list(actor=ACTOR, name="  ")
    lists.update_list(actor=ACTOR, contact_list=contact_list, name="VIP 2026", description="best")
    lists.update_list(
        actor=ACTOR, contact_list=contact_list, name="VIP 2026", description="best"
    )  # no change
    assert _actions(actions.CONTACT_LIST_UPDATE).get().details["fields"] == "name"
    lists.add_members(actor=ACTOR, contact_list=contact_list, contact_ids=[c.pk for c in contacts])
    lists.delete_list(actor=ACTOR, contact_list=contact_list)
    assert not ContactList.objects.exists() and not ContactListMember.objects.exists()
    assert _actions(actions.CONTACT_LIST_DELETE).get().details["members"] == 3
    assert _actions(actions.CONTACT_LIST_CREATE).count() == 1


def test_members_by_ids_once_each_and_unknown_ids_add_nothing(contacts):
    contact_list = lists.create_list(actor=ACTOR, name="L")
    assert lists.add_members(actor=ACTOR, contact_list=contact_list, contact_ids=[contacts[0].pk]) == 1
    assert (
        lists.add_members(actor=ACTOR, contact_list=contact_list, contact_ids=[c.pk for c in contacts]) == 2
    )
    with pytest.raises(lists.InvalidInput, match="#999999"):
        lists.add_members(actor=ACTOR, contact_list=contact_list, contact_ids=[contacts[0].pk, 999999])
    assert contact_list.members.count() == 3
    assert lists.remove_members(actor=ACTOR, contact_list=contact_list, contact_ids=[contacts[1].pk]) == 1
    assert _actions(actions.CONTACT_LIST_REMOVE_MEMBERS).get().details["removed"] == 1
    assert [e.details["added"] for e in _actions(actions.CONTACT_LIST_ADD_MEMBERS).order_by("seq")] == [1, 2]


def test_pasted_phones_each_refused_line_with_its_reason(contacts):
    contact_list = lists.create_list(actor=ACTOR, name="L")
    text = "0912 000 000\n\n+84 912-000-001\nabc\n0912000000\n0987 654 321\n024 3826 1234\n"
    result = lists.add_pasted_phones(actor=ACTOR, contact_list=contact_list, text=text)
    assert result.added == 0 and not contact_list.members.exists()  # a refused line: nothing added
    refused = {line: reason for line, _text, reason in result.refused}
    assert sorted(refused) == [4, 5, 6, 7]
    assert "line 1" in refused[5] and "No contact" in refused[6]
    assert [text for line, text, _reason in result.refused if line == 6] == ["0987***321"]
    result = lists.add_pasted_phones(actor=ACTOR, contact_list=contact_list, text=text, skip_refused=True)
    assert (result.added, result.already) == (2, 0)
    assert set(contact_list.members.values_list("contact_id", flat=True)) == {contacts[0].pk, contacts[1].pk}
    with pytest.raises(lists.InvalidInput):
        lists.add_pasted_phones(actor=ACTOR, contact_list=contact_list, text="\n \n")


def test_members_from_an_import(db, tmp_path, settings):
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"
    item = imports.create_import(
        actor=ACTOR, uploaded_file=BytesIO(b"phone,name\n0912345678,A\n0987654321,B\n"), original_name="c.csv"
    )
    item = imports.map_columns(item, actor=ACTOR, phone="phone", name="name")
    contact_list = lists.create_list(actor=ACTOR, name="From import")
    with pytest.raises(lists.InvalidInput):
        lists.add_import_members(actor=ACTOR, contact_list=contact_list, contact_import=item)
    imports.run_import(item.pk)
    item.refresh_from_db()
    assert lists.add_import_members(actor=ACTOR, contact_list=contact_list, contact_import=item) == 2
    assert lists.add_import_members(actor=ACTOR, contact_list=contact_list, contact_import=item) == 0
    assert set(contact_list.members.values_list("source_import_id", flat=True)) == {item.pk}


def test_segments_audited_and_a_used_list_cannot_be_deleted(contacts):
    contact_list = lists.create_list(actor=ACTOR, name="L")
    segment = lists.create_segment(
        actor=ACTOR,
        name="In L",
        definition={"rules": [{"field": "list", "op": "member", "list": contact_list.pk}]},
    )
    with pytest.raises(lists.InvalidInput, match="In L"):
        lists.delete_list(actor=ACTOR, contact_list=contact_list)
    lists.update_segment(
        actor=ACTOR,
        segment=segment,
        name="In L",
        definition={"match": "any", "rules": [{"field": "suppression", "op": "suppressed"}]},
    )
    assert _actions(actions.SEGMENT_UPDATE).get().details["fields"] == "definition"
    lists.delete_list(actor=ACTOR, contact_list=contact_list)
    lists.delete_segment(actor=ACTOR, segment=segment)
    assert not Segment.objects.exists() and _actions(actions.SEGMENT_DELETE).count() == 1


# Pages ---------------------------------------------------------------------------------------------


@pytest.fixture
def filled(contacts):
    contact_list = lists.create_list(actor=ACTOR, name="Khách VIP")
    lists.add_members(actor=ACTOR, contact_list=contact_list, contact_ids=[c.pk for c in contacts[:2]])
    segment = lists.create_segment(
        actor=ACTOR,
        name="Marketing",
        definition={"rules": [{"field": "consent", "op": "granted", "purpose": "marketing"}]},
    )
    return contact_list, segment


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.parametrize("role", ["marketer", "auditor", "superuser"])
def test_lists_and_segments_show_masked_phones(client, role_users, filled, role):
    contact_list, segment = filled
    client.force_login(role_users[role])
    index = _html(client.get(reverse("audiences:lists")))
    assert 'data-testid="list-count">2<' in index and 'data-testid="segment-count">1<' in index
    for url in (
        reverse("audiences:list", args=[contact_list.pk]),
        reverse("audiences:segment", args=[segment.pk]),
    ):
        html = _html(client.get(url))
        assert "0912***000" in html
        assert "0912000000" not in html and "84912000000" not in html and "912 000 000" not in html


def test_quality_admins_see_counts_only(client, quality_admin, filled):
    contact_list, segment = filled
    client.force_login(quality_admin)
    html = _html(client.get(reverse("audiences:lists")))
    assert 'data-testid="list-count">2<' in html
    assert reverse("audiences:list", args=[contact_list.pk]) not in html
    assert client.get(reverse("audiences:list", args=[contact_list.pk])).status_code == 403
    assert client.get(reverse("audiences:segment", args=[segment.pk])).status_code == 403
    assert client.get(reverse("audiences:segment_create")).status_code == 403


def test_auditors_cannot_edit(client, auditor, filled):
    contact_list, _segment = filled
    client.force_login(auditor)
    html = _html(client.get(reverse("audiences:list", args=[contact_list.pk])))
    assert 'data-testid="delete-list"' not in html
    response = client.post(reverse("audiences:list_delete", args=[contact_list.pk]))
    assert response.status_code == 403 and ContactList.objects.exists()


def test_a_marketer_creates_a_list_and_pastes_phones(client, marketer, contacts):
    client.force_login(marketer)
    response = client.post(reverse("audiences:list_create"), {"name": ""})
    assert "A name is required" in _html(response) or "This field is required" in response.content.decode()
    response = client.post(reverse("audiences:list_create"), {"name": "Hội chợ", "description": ""})
    contact_list = ContactList.objects.get(name="Hội chợ")
    assert response.status_code == 302
    assert _actions(actions.CONTACT_LIST_CREATE).get().actor == "user:marketer"
    url = reverse("audiences:list_add", args=[contact_list.pk])
    html = _html(client.post(url, {"phones": "0912000000\nabc\n0912000001"}))
    assert 'data-testid="refused-lines"' in html and "<td>2</td>" in html
    assert not contact_list.members.exists()
    response = client.post(url, {"phones": "0912000000\nabc\n0912000001", "skip_refused": "on"})
    assert contact_list.members.count() == 2
    response = client.post(url, {"phones": "0912000002"})
    assert response.status_code == 302 and contact_list.members.count() == 3
    response = client.post(
        reverse("audiences:list_remove", args=[contact_list.pk]), {"contact": [contacts[2].pk]}
    )
    assert response.status_code == 302 and contact_list.members.count() == 2


def test_the_segment_builder_counts_saves_and_names_bad_parts(client, marketer, contacts):
    client.force_login(marketer)
    oa = OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")
    url = reverse("audiences:segment_create")
    html = _html(client.get(url))
    assert 'name="rule-0-condition"' in html and "<template data-rule-template>" in html
    html = _html(client.post(url, {"action": "add_row", "rows": "1", "rule-0-condition": ""}))
    assert 'name="rule-1-condition"' in html
    bad = {
        "action": "count",
        "rows": "2",
        "rule-0-condition": "consent.granted",
        "rule-0-purpose": "",
        "rule-1-condition": "follower.follows",
        "rule-1-oa": str(oa.pk),
    }
    html = _html(client.post(url, bad))
    assert "Filter 1, purpose:" in html and 'data-testid="segment-count"' not in html
    good = {**bad, "rule-0-purpose": "marketing", "rule-1-condition": "", "name": ""}
    html = _html(client.post(url, good))
    assert 'data-testid="segment-count">1<' in html and "0912***000" in html
    assert not Segment.objects.exists()  # counting saves nothing
    html = _html(client.post(url, {**good, "action": "save"}))
    assert "A name is required" in html and not Segment.objects.exists()
    removed = {
        **good,
        "action": "save",
        "name": "Đồng ý",
        "rows": "2",
        "rule-1-condition": "suppression.suppressed",
    }
    removed["rule-1-remove"] = "1"
    response = client.post(url, removed)
    segment = Segment.objects.get()
    assert response.status_code == 302 and segment.definition["rules"] == [
        {"field": "consent", "op": "granted", "purpose": "marketing"}
    ]
    edit = _html(client.get(reverse("audiences:segment_edit", args=[segment.pk])))
    assert 'value="consent.granted" selected' in edit
    response = client.post(reverse("audiences:segment_delete", args=[segment.pk]))
    assert response.status_code == 302 and not Segment.objects.exists()
