"""Teams: the one scoping function per model, creation in the creator's team, the admin's querysets,
and a member of team B getting 404 (not 403) on team A's campaign page, kill switch and export."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from audiences.lists import add_members, create_list, create_segment
from audiences.models import Contact, ContactImport, ContactList, ContactSource, Segment
from campaigns.models import Campaign, CampaignMessage, LogExport
from compliance import actions
from compliance.models import AuditEvent
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import QualityAlert
from teams import scoping, services
from teams.models import Membership, Team
from zalo_admin.roles import COMPLIANCE_AUDITOR, MARKETER, QUALITY_ADMIN

PASSWORD = "teams-password"


@pytest.fixture
def two_teams(db):
    return Team.objects.create(name="Team A"), Team.objects.create(name="Team B")


def _user(django_user_model, name, role, team, all_teams=False):
    user = django_user_model.objects.create_user(username=name, password=PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    Membership.objects.create(user=user, team=team, all_teams=all_teams)
    return user


@pytest.fixture
def people(two_teams, django_user_model):
    team_a, team_b = two_teams
    return {
        "marketer_a": _user(django_user_model, "m-a", MARKETER, team_a),
        "marketer_b": _user(django_user_model, "m-b", MARKETER, team_b),
        "quality_b": _user(django_user_model, "q-b", QUALITY_ADMIN, team_b),
        "auditor_b": _user(django_user_model, "a-b", COMPLIANCE_AUDITOR, team_b),
        "auditor_all": _user(django_user_model, "a-all", COMPLIANCE_AUDITOR, team_b, all_teams=True),
    }


@pytest.fixture
def world(two_teams):
    """One OA per team with a template, a campaign with a message, a list with a contact, a
    segment, an import and a quality alert."""
    rows = {}
    for team in two_teams:
        key = team.name[-1].lower()
        oa = OfficialAccount.objects.create(name=f"OA {key}", zalo_oa_id=f"oa-{key}", team=team)
        template = MessageTemplate.objects.create(
            oa=oa, template_id=f"t-{key}", name="T", tag=MessageTemplate.Tag.TRANSACTION
        )
        campaign = Campaign.objects.create(oa=oa, template=template, name=f"Campaign {key}")
        message = CampaignMessage.objects.create(
            campaign=campaign, phone=f"8491234500{ord(key) % 10}", tracking_id=f"t-{key}"
        )
        source = ContactSource.objects.create(
            kind=ContactSource.Kind.MANUAL, label=key, created_by="system:t"
        )
        contact = Contact.objects.create(phone=f"8491234560{ord(key) % 10}", source=source)
        contact_list = create_list(actor="system:test", name=f"List {key}", team=team)
        add_members(actor="system:test", contact_list=contact_list, contact_ids=[contact.pk])
        segment = create_segment(
            actor="system:test",
            name=f"Segment {key}",
            team=team,
            definition={"rules": [{"field": "consent", "op": "granted", "purpose": "marketing"}]},
        )
        import_source = ContactSource.objects.create(
            kind=ContactSource.Kind.IMPORT, label=key, created_by="t"
        )
        contact_import = ContactImport.objects.create(
            source=import_source, file_path="/nonexistent", file_sha256="0" * 64, original_name="x.csv",
            encoding="utf-8", delimiter=",", created_by="system:test", team=team,
        )  # fmt: skip
        alert = QualityAlert.objects.create(oa=oa, day="2026-01-01", kind=QualityAlert.Kind.GUARDRAIL)
        rows[key] = {
            "team": team, "oa": oa, "template": template, "campaign": campaign, "message": message,
            "contact": contact, "contact_list": contact_list, "segment": segment,
            "contact_import": contact_import, "alert": alert,
        }  # fmt: skip
    return rows


MODELS = {
    "oa": OfficialAccount,
    "template": MessageTemplate,
    "campaign": Campaign,
    "message": CampaignMessage,
    "contact_list": ContactList,
    "segment": Segment,
    "contact_import": ContactImport,
    "contact": Contact,
    "alert": QualityAlert,
}


@pytest.mark.parametrize("name", MODELS)
def test_visible_keeps_the_rows_of_the_users_teams_for_every_model(people, world, name):
    model = MODELS[name]
    mine, theirs = world["a"][name], world["b"][name]
    shown = set(scoping.visible(people["marketer_a"], model).values_list("pk", flat=True))
    assert mine.pk in shown
    assert theirs.pk not in shown
    # A member of team B sees team B's row only; the all-teams auditor sees both.
    assert theirs.pk in set(scoping.visible(people["marketer_b"], model).values_list("pk", flat=True))
    assert {mine.pk, theirs.pk} <= set(
        scoping.visible(people["auditor_all"], model).values_list("pk", flat=True)
    )


def test_a_model_without_a_team_path_is_refused_rather_than_shown_whole(people):
    with pytest.raises(LookupError, match="auth.group has no team path"):
        scoping.visible(people["marketer_a"], Group)


def test_superusers_see_every_team_and_a_user_in_no_team_sees_nothing(world, django_user_model):
    root = django_user_model.objects.create_superuser(username="root-teams", password=PASSWORD)
    assert scoping.visible(root, Campaign).count() == 2
    loner = django_user_model.objects.create_user(username="loner", password=PASSWORD)
    assert not scoping.visible(loner, Campaign).exists()
    assert not scoping.creation_teams(loner).exists()


def test_a_contact_no_team_reaches_is_everyones_and_a_listed_one_only_its_teams(people, world):
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="walk-in", created_by="t")
    walk_in = Contact.objects.create(phone="84912349999", source=source)
    assert scoping.visible(people["marketer_a"], Contact).filter(pk=walk_in.pk).exists()
    assert scoping.visible(people["marketer_b"], Contact).filter(pk=walk_in.pk).exists()
    add_members(actor="system:test", contact_list=world["b"]["contact_list"], contact_ids=[walk_in.pk])
    assert not scoping.visible(people["marketer_a"], Contact).filter(pk=walk_in.pk).exists()


def test_membership_changes_are_audited_and_take_effect(people, two_teams):
    team_a, _team_b = two_teams
    auditor = people["auditor_b"]
    assert not scoping.sees_all_teams(auditor)
    membership, changed = services.add_member(actor="system:test", user=auditor, team=team_a)
    assert changed
    assert services.set_all_teams(actor="system:test", membership=membership, all_teams=True)
    assert scoping.sees_all_teams(auditor)
    assert not services.set_all_teams(actor="system:test", membership=membership, all_teams=True)
    services.remove_member(actor="system:test", membership=membership)
    assert not scoping.sees_all_teams(auditor)
    logged = list(AuditEvent.objects.filter(action__startswith="team.").values_list("action", flat=True))
    assert logged == [actions.TEAM_MEMBER_ADD, actions.TEAM_MEMBER_UPDATE, actions.TEAM_MEMBER_REMOVE]


# --- pages: 404 for another team's objects, creation in the creator's team -----------------------


def test_a_marketer_of_team_b_gets_404_on_team_as_campaign_page_and_not_in_the_list(client, people, world):
    campaign = world["a"]["campaign"]
    client.force_login(people["marketer_b"])
    assert client.get(reverse("campaigns:detail", args=[campaign.pk])).status_code == 404
    assert client.get(reverse("campaigns:progress", args=[campaign.pk])).status_code == 404
    listing = client.get(reverse("campaigns:index")).content.decode()
    assert "Campaign b" in listing and "Campaign a" not in listing
    client.force_login(people["marketer_a"])
    assert client.get(reverse("campaigns:detail", args=[campaign.pk])).status_code == 200


def test_the_kill_switch_of_another_teams_oa_is_404_and_stops_nothing(client, people, world):
    oa = world["a"]["oa"]
    for who in ("marketer_b", "quality_b"):
        client.force_login(people[who])
        response = client.post(
            reverse("oas:stop", args=[oa.pk]), {"reason": "Stopping another team OA for the test"}
        )
        assert response.status_code == 404
        response = client.post(
            reverse("quotas:portfolio_stop", args=[oa.pk]),
            {"reason": "Stopping another team OA for the test"},
        )
        assert response.status_code == 404
    oa.refresh_from_db()
    assert not oa.sending_stopped
    assert not AuditEvent.objects.filter(action=actions.OA_KILL_SWITCH).exists()
    client.force_login(people["marketer_a"])
    client.post(reverse("oas:stop", args=[oa.pk]), {"reason": "Stopping our own OA for the test"})
    oa.refresh_from_db()
    assert oa.sending_stopped


def test_the_message_log_export_holds_only_the_teams_rows_and_others_exports_are_404(client, people, world):
    client.force_login(people["marketer_b"])
    body = b"".join(client.get(reverse("campaigns:logs_csv")).streaming_content).decode()
    assert world["b"]["message"].tracking_id in body
    assert world["a"]["message"].tracking_id not in body
    # Naming team A's OA in the filter gives nothing either.
    body = b"".join(
        client.get(reverse("campaigns:logs_csv"), {"oa": world["a"]["oa"].pk}).streaming_content
    ).decode()
    assert world["a"]["message"].tracking_id not in body
    export = LogExport.objects.create(requested_by=people["marketer_a"], requested_by_name="user:m-a")
    assert client.get(reverse("campaigns:log_export", args=[export.pk])).status_code == 404
    client.force_login(people["auditor_all"])
    assert client.get(reverse("campaigns:log_export", args=[export.pk])).status_code == 200


def test_a_new_list_and_a_new_oa_go_to_the_team_chosen_among_the_creators_own(
    client, people, two_teams, django_user_model
):
    team_a, team_b = two_teams
    marketer = people["marketer_a"]
    client.force_login(marketer)
    response = client.post(reverse("audiences:list_create"), {"name": "Fresh", "team": team_a.pk})
    assert response.status_code == 302
    assert ContactList.objects.get(name="Fresh").team == team_a
    # Another team's id is not a choice.
    response = client.post(reverse("audiences:list_create"), {"name": "Sneaky", "team": team_b.pk})
    assert response.status_code == 200
    assert not ContactList.objects.filter(name="Sneaky").exists()
    # The same name in another team is another list (names are unique per team).
    create_list(actor="system:test", name="Fresh", team=team_b)
    quality = _user(django_user_model, "q-ab", QUALITY_ADMIN, team_b)
    Membership.objects.create(user=quality, team=team_a)
    client.force_login(quality)
    response = client.post(
        reverse("oas:create"),
        {
            "name": "New OA",
            "zalo_oa_id": "new-oa",
            "provider": "zalo",
            "policy": "zns-2024",
            "app_id": "new-app",
            "app_secret": "new-app-secret",
            "oa_secret_key": "new-webhook-key",
            "team": team_a.pk,
        },  # fmt: skip
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert OfficialAccount.objects.get(zalo_oa_id="new-oa").team == team_a


def test_a_campaign_cannot_use_another_teams_list(people, world):
    from campaigns import composer

    marketer = people["marketer_a"]
    Membership.objects.create(user=marketer, team=world["b"]["team"])  # sees both lists
    scoping.forget_scope(marketer)
    data = {
        "oa": str(world["a"]["oa"].pk),
        "template": str(world["a"]["template"].pk),
        "audience_lists": [str(world["b"]["contact_list"].pk)],
    }
    errors: dict = {}
    composer._audience(_Query(data), errors, world["a"]["oa"], marketer)
    assert "audience_lists" in errors and "Team A" in errors["audience_lists"][0]


class _Query(dict):
    def getlist(self, key):
        value = self.get(key, [])
        return value if isinstance(value, list) else [value]


# --- the admin ---------------------------------------------------------------------------------------


def test_the_admin_lists_only_the_teams_quality_alerts(client, people, world):
    quality = people["quality_b"]
    client.force_login(quality)
    page = client.get("/admin/quotas/qualityalert/")
    assert page.status_code == 200
    assert f"/admin/quotas/qualityalert/{world['b']['alert'].pk}/" in page.content.decode()
    assert f"/admin/quotas/qualityalert/{world['a']['alert'].pk}/" not in page.content.decode()
    assert client.get(f"/admin/quotas/qualityalert/{world['a']['alert'].pk}/change/").status_code == 302
