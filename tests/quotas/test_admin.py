"""The Django admin changes nothing in place: policies get new versions, the rest is read-only or
goes through the audited services, and nothing is deleted. Through the real admin URLs."""

import json
from datetime import date

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from compliance.models import AuditEvent
from oas.models import OfficialAccount
from providers.models import ProviderAlert, WebhookEvent
from quotas.models import OAQuotaState, Policy, QualityAlert
from quotas.services import levels, policies

POLICY_FIELDS = [field.name for field in Policy._meta.concrete_fields if not field.primary_key]


def policy_row(policy: Policy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def policy_form(policy: Policy, **changes) -> dict:
    """The policy's change form as the admin renders it, with `changes` typed in."""
    data = {}
    for name, value in {**policy_row(policy), **changes}.items():
        if name == "levels":
            data[name] = value if isinstance(value, str) else json.dumps(value)
        elif value is None:
            data[name] = ""
        else:
            data[name] = str(value)
    return data


@pytest.fixture
def admin_client(client, quality_admin):
    assert not quality_admin.is_staff  # the admin site is open to quality admins without staff status
    client.force_login(quality_admin)
    return client


# --- policies ----------------------------------------------------------------------------------


def test_a_policy_edit_makes_a_new_version_and_leaves_the_old_row_unchanged(admin_client, oa, quality_admin):
    old = Policy.objects.get(code="zbs-2026")
    before = policy_row(old)
    page = admin_client.get(reverse("admin:quotas_policy_change", args=[old.pk])).content.decode()
    assert "Saving makes a new version of this policy" in page
    response = admin_client.post(
        reverse("admin:quotas_policy_change", args=[old.pk]),
        policy_form(old, levels=[2000, 10000, 20000, 50000, None], medium_max_rate="0.004"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    old.refresh_from_db()
    assert policy_row(old) == before  # not one number changed in place
    new = Policy.objects.get(code="zbs-2026-v2")
    assert new.pk != old.pk
    assert new.levels == [2000, 10000, 20000, 50000, None]
    assert str(new.medium_max_rate.normalize()) == "0.004"
    assert new.effective_from == old.effective_from
    # OAs on the old version stay on it; a new OA gets the latest version in force.
    assert OAQuotaState.objects.get(oa=oa).policy_id == old.pk
    assert policies.policy_for_new_oa(OfficialAccount(created_at=timezone.now())) == new

    event = AuditEvent.objects.get(action="policy.new_version")
    assert event.actor == f"user:{quality_admin.username}"
    assert (event.target_type, event.target_id) == ("quotas.policy", str(new.pk))
    assert event.details["previous"] == "zbs-2026"
    assert set(event.details["changed"]) == {"levels", "medium_max_rate"}


def test_editing_a_version_again_makes_the_next_version(admin_client):
    old = Policy.objects.get(code="zns-2024")
    url = reverse("admin:quotas_policy_change", args=[old.pk])
    assert admin_client.post(url, policy_form(old, penalty_zone="400")).status_code == 302
    v2 = Policy.objects.get(code="zns-2024-v2")
    v2_url = reverse("admin:quotas_policy_change", args=[v2.pk])
    assert admin_client.post(v2_url, policy_form(v2, penalty_zone="300")).status_code == 302
    assert Policy.objects.get(code="zns-2024-v3").penalty_zone == 300
    assert Policy.objects.get(code="zns-2024").penalty_zone == 500
    assert Policy.objects.get(code="zns-2024-v2").penalty_zone == 400


def test_a_new_code_typed_in_the_form_names_the_new_version(admin_client):
    old = Policy.objects.get(code="zbs-2026")
    response = admin_client.post(
        reverse("admin:quotas_policy_change", args=[old.pk]),
        policy_form(old, code="zbs-2027", effective_from="2027-01-01", penalty_zone="2000"),
    )
    assert response.status_code == 302
    assert Policy.objects.get(code="zbs-2027").effective_from == date(2027, 1, 1)
    assert Policy.objects.get(pk=old.pk).code == "zbs-2026"


def test_saving_an_unchanged_policy_makes_no_version(admin_client):
    old = Policy.objects.get(code="zbs-2026")
    response = admin_client.post(reverse("admin:quotas_policy_change", args=[old.pk]), policy_form(old))
    assert response.status_code == 302
    assert Policy.objects.count() == 2
    assert not AuditEvent.objects.filter(action__startswith="policy.").exists()


def test_an_invalid_policy_edit_changes_nothing(admin_client):
    old = Policy.objects.get(code="zbs-2026")
    before = policy_row(old)
    response = admin_client.post(
        reverse("admin:quotas_policy_change", args=[old.pk]), policy_form(old, levels="[5000, 1000]")
    )
    assert response.status_code == 200  # the form again, with the error
    assert policy_row(Policy.objects.get(pk=old.pk)) == before
    assert Policy.objects.count() == 2


def test_adding_a_policy_in_the_admin_is_audited(admin_client, quality_admin):
    template = Policy.objects.get(code="zbs-2026")
    response = admin_client.post(
        reverse("admin:quotas_policy_add"),
        policy_form(template, code="zbs-2028", name="ZBS 2028", effective_from="2028-01-01"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = Policy.objects.get(code="zbs-2028")
    event = AuditEvent.objects.get(action="policy.create")
    assert (event.actor, event.target_id) == (f"user:{quality_admin.username}", str(added.pk))


# --- OA quota state ----------------------------------------------------------------------------


def test_the_oa_quota_state_cannot_be_changed_in_the_admin(admin_client, oa):
    state = OAQuotaState.objects.get(oa=oa)

    def fields(state):
        return (state.policy_id, state.guardrail_share, state.guardrail_action, state.review_clock_start)

    before = fields(state)
    url = reverse("admin:quotas_oaquotastate_change", args=[oa.pk])
    response = admin_client.post(
        url,
        {
            "oa": oa.pk,
            "policy": Policy.objects.get(code="zns-2024").pk,
            "review_clock_start": "2020-01-01",
            "guardrail_share": "0.5",
            "guardrail_action": "alert",
        },
    )
    assert response.status_code == 403
    state.refresh_from_db()
    assert fields(state) == before

    page = admin_client.get(url).content.decode()  # read-only, pointing to the audited forms
    assert reverse("oas:edit", args=[oa.pk]) in page
    assert reverse("quotas:oa_detail", args=[oa.pk]) in page
    assert admin_client.get(reverse("admin:quotas_oaquotastate_add")).status_code == 403


def test_the_level_history_cannot_be_changed_in_the_admin(admin_client, oa, quality_admin):
    change = levels.correct_level(oa.pk, 50000, "Zalo ticket 9", quality_admin)
    response = admin_client.post(
        reverse("admin:quotas_levelchange_change", args=[change.pk]),
        {"oa": oa.pk, "effective_day": "2020-01-01", "new_limit": "1000", "reason": "manual"},
    )
    assert response.status_code == 403
    change.refresh_from_db()
    assert (change.new_limit, change.note) == (50000, "Zalo ticket 9")


# --- alerts ------------------------------------------------------------------------------------


def test_an_alert_is_marked_as_handled_through_the_audited_service(admin_client, oa, quality_admin):
    alert = QualityAlert.objects.create(oa=oa, day=date(2026, 3, 1), kind="guardrail", message="75 %")
    response = admin_client.post(
        reverse("admin:quotas_qualityalert_changelist"),
        {"action": "mark_handled", "_selected_action": [alert.pk], "index": 0},
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.resolved_by == quality_admin
    event = AuditEvent.objects.get(action="quality_alert.resolve")
    assert (event.actor, event.target_id) == (f"user:{quality_admin.username}", str(alert.pk))


def test_an_alert_cannot_be_edited_in_place(admin_client, oa):
    alert = QualityAlert.objects.create(oa=oa, day=date(2026, 3, 1), kind="guardrail", message="75 %")
    response = admin_client.post(
        reverse("admin:quotas_qualityalert_change", args=[alert.pk]),
        {
            "oa": oa.pk,
            "day": "2026-03-01",
            "kind": "guardrail",
            "message": "edited",
            "campaigns_paused": "0",
            "resolved_at_0": "2026-03-02",
            "resolved_at_1": "10:00:00",
        },
    )
    assert response.status_code == 403
    alert.refresh_from_db()
    assert (alert.message, alert.resolved_at) == ("75 %", None)


# --- nothing is deleted, not even by a superuser ------------------------------------------------


@pytest.fixture
def admin_rows(oa, quality_admin):
    change = levels.correct_level(oa.pk, 50000, "Zalo ticket 9", quality_admin)
    return {
        "quotas_policy": Policy.objects.get(code="zbs-2026"),
        "quotas_oaquotastate": OAQuotaState.objects.get(oa=oa),
        "quotas_levelchange": change,
        "quotas_qualityalert": QualityAlert.objects.create(oa=oa, day=date(2026, 3, 1), kind="guardrail"),
        "providers_provideralert": ProviderAlert.objects.create(oa=oa, kind="reauthorisation", message="x"),
        "providers_webhookevent": WebhookEvent.objects.create(
            provider="zalo", event_name="user_feedback", unique_key="k1", raw_body="{}"
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "quotas_policy",
        "quotas_oaquotastate",
        "quotas_levelchange",
        "quotas_qualityalert",
        "providers_provideralert",
        "providers_webhookevent",
    ],
)
def test_delete_pages_answer_403_even_to_a_superuser(client, superuser, admin_rows, name):
    client.force_login(superuser)
    row = admin_rows[name]
    url = reverse(f"admin:{name}_delete", args=[row.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert type(row).objects.filter(pk=row.pk).exists()
    changelist = client.get(reverse(f"admin:{name}_changelist"))
    assert "delete_selected" not in changelist.content.decode()


# --- Django's users and groups: staff only ------------------------------------------------------


def test_quality_admins_without_staff_status_never_reach_users_and_groups(client, quality_admin):
    # Even a quality admin given Django's permissions on users and groups: staff status is required.
    codenames = ["view_user", "change_user", "delete_user", "view_group", "change_group"]
    quality_admin.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(quality_admin)
    group = Group.objects.first()
    for url in (
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[quality_admin.pk]),
        reverse("admin:auth_group_change", args=[group.pk]),
        reverse("admin:auth_group_changelist"),
    ):
        assert client.get(url).status_code == 403, url
    response = client.post(
        reverse("admin:auth_user_change", args=[quality_admin.pk]),
        {"username": quality_admin.username, "is_staff": "on", "is_superuser": "on"},
    )
    assert response.status_code == 403
    quality_admin.refresh_from_db()
    assert not quality_admin.is_staff and not quality_admin.is_superuser
    app_list = client.get(reverse("admin:index")).context["app_list"]
    assert "auth" not in [app["app_label"] for app in app_list]

    quality_admin.is_staff = True  # staff keep Django's permissions
    quality_admin.save()
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
