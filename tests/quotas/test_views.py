"""The quality pages: overview, per-OA page with charts and forecast, corrections and guardrail by role."""

import json

import pytest
from django.urls import reverse

from quotas.charts import load_oa_quality
from quotas.models import LevelChange, OAQuotaState, Policy, QualityAlert
from quotas.services import levels, rollups
from tests.quotas.conftest import vn_moment
from zalo_admin.lib import dates

ROLES = ("marketer", "quality_admin", "auditor", "superuser")
VIEWERS = {"marketer", "quality_admin", "superuser"}
MANAGERS = {"quality_admin", "superuser"}


@pytest.mark.parametrize("role", ROLES)
def test_the_per_oa_page_is_open_to_those_who_see_quality(client, role_users, oa, role):
    client.force_login(role_users[role])
    response = client.get(reverse("quotas:oa_detail", args=[oa.pk]))
    assert response.status_code == (200 if role in VIEWERS else 403)


@pytest.mark.parametrize("role", ROLES)
def test_only_quality_admins_may_correct_a_level(client, role_users, oa, role):
    client.force_login(role_users[role])
    response = client.post(
        reverse("quotas:correct_level", args=[oa.pk]), {"new_limit": "50000", "reason": "Zalo ticket 7"}
    )
    assert response.status_code == (302 if role in MANAGERS else 403)
    assert OAQuotaState.objects.get(oa=oa).current_limit == (50000 if role in MANAGERS else 20000)


def test_anonymous_users_are_sent_to_login_from_every_quality_page(client, oa):
    for name, args in (
        ("quotas:oa_detail", [oa.pk]),
        ("quotas:correct_level", [oa.pk]),
        ("quotas:update_guardrail", [oa.pk]),
        ("quotas:resolve_alert", [1]),
    ):
        response = client.post(reverse(name, args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_a_correction_without_a_reason_is_refused(client, quality_admin, oa):
    client.force_login(quality_admin)
    response = client.post(
        reverse("quotas:correct_level", args=[oa.pk]), {"new_limit": "50000", "reason": "  "}
    )
    assert response.status_code == 400
    assert not LevelChange.objects.exists()


def test_a_correction_is_shown_in_the_level_history_with_its_reason(client, quality_admin, oa):
    client.force_login(quality_admin)
    client.post(
        reverse("quotas:correct_level", args=[oa.pk]), {"new_limit": "unrestricted", "reason": "Bank OA"}
    )
    html = client.get(reverse("quotas:oa_detail", args=[oa.pk])).content.decode()
    assert "Bank OA" in html
    assert OAQuotaState.objects.get(oa=oa).current_limit is None


def test_the_correction_form_is_not_shown_to_marketers(client, marketer, oa):
    client.force_login(marketer)
    html = client.get(reverse("quotas:oa_detail", args=[oa.pk])).content.decode()
    assert 'data-testid="correction-form"' not in html


def test_the_per_oa_page_renders_charts_without_inline_scripts(client, marketer, oa):
    rollups.record_sent(oa.pk, vn_moment(dates.today_in_vietnam()), count=50)
    client.force_login(marketer)
    response = client.get(reverse("quotas:oa_detail", args=[oa.pk]))
    html = response.content.decode()
    for chart in ("volume-chart", "quality-chart"):
        assert f'data-chart="{chart}"' in html
        figure = json.loads(html.split(f'id="{chart}" type="application/json">')[1].split("</script>")[0])
        assert figure["empty"] is False
    assert "<script>" not in html


def test_the_forecast_form_projects_the_level(client, marketer, oa):
    client.force_login(marketer)
    response = client.get(
        reverse("quotas:oa_detail", args=[oa.pk]), {"planned_daily_volume": 10000, "days": 20}
    )
    assert response.status_code == 200
    forecast = response.context["forecast"]
    assert len(forecast.days) == 20
    assert forecast.next_upgrade_limit == 50000
    assert 'data-testid="forecast"' in response.content.decode()


def test_the_overview_lists_oas_and_open_alerts(client, quality_admin, oa):
    today = dates.today_in_vietnam()
    rollups.record_bad_report(oa.pk, vn_moment(today), count=300)
    client.force_login(quality_admin)
    response = client.get(reverse("quotas:index"))
    html = response.content.decode()
    assert oa.name in html
    assert 'data-testid="alerts"' in html
    alert = QualityAlert.objects.get()
    client.post(reverse("quotas:resolve_alert", args=[alert.pk]))
    alert.refresh_from_db()
    assert alert.resolved_by == quality_admin


def test_the_guardrail_settings_are_saved_per_oa(client, quality_admin, oa):
    client.force_login(quality_admin)
    response = client.post(
        reverse("quotas:update_guardrail", args=[oa.pk]), {"share_percent": "50", "action": "alert"}
    )
    assert response.status_code == 302
    state = OAQuotaState.objects.get(oa=oa)
    assert (str(state.guardrail_share), state.guardrail_action) == ("0.500", "alert")


def test_the_policies_page_lists_both_policies(client, marketer):
    client.force_login(marketer)
    html = client.get(reverse("quotas:policies")).content.decode()
    assert "zns-2024" in html and "zbs-2026" in html


def test_the_volume_chart_follows_the_limit_history(client, quality_admin, oa):
    levels.correct_level(oa.pk, 50000, "raised", quality_admin)
    limits = load_oa_quality(oa.pk).charts["sent_vs_limit"]["data"][1]["y"]
    assert limits[-3:] == [20000, 20000, 50000]


def test_a_quality_admin_adds_a_policy_version_in_the_admin_without_a_deploy(client, quality_admin):
    quality_admin.is_staff = True
    quality_admin.save()
    client.force_login(quality_admin)
    response = client.post(
        reverse("admin:quotas_policy_add"),
        {
            "code": "zbs-2027",
            "name": "ZBS rules 2027",
            "effective_from": "2027-01-01",
            "levels": "[2000, 10000, 20000, 50000, 100000, null]",
            "starting_level": "20000",
            "penalty_zone": "2000",
            "recipient_marketing_per_day": "1",
            "recipient_marketing_per_month": "20",
            "marketing_quota_months": "2",
            "first_marketing_month_bonus": "0",
            "high_max_rate": "0.001",
            "medium_max_rate": "0.004",
            "review_window_days": "7",
            "wait_days": "7",
            "upgrade_multiplier": "2",
            "violation_rate": "0.02",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = Policy.objects.get(code="zbs-2027").to_rules()
    assert policy.levels[-1] is None
    assert policy.recipient_marketing_per_month == 20


def test_the_admin_refuses_a_policy_with_levels_out_of_order(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:quotas_policy_add"),
        {
            "code": "broken",
            "name": "Broken",
            "effective_from": "2027-01-01",
            "levels": "[5000, 1000, null]",
            "starting_level": "5000",
            "penalty_zone": "1000",
            "marketing_quota_months": "2",
            "first_marketing_month_bonus": "0",
            "high_max_rate": "0.001",
            "medium_max_rate": "0.005",
            "review_window_days": "7",
            "wait_days": "7",
            "upgrade_multiplier": "2",
            "violation_rate": "0.02",
        },
    )
    assert response.status_code == 200
    assert not Policy.objects.filter(code="broken").exists()


def test_marketers_cannot_open_the_policy_admin(client, marketer):
    marketer.is_staff = True
    marketer.save()
    client.force_login(marketer)
    assert client.get(reverse("admin:quotas_policy_changelist")).status_code == 403


def test_todays_bad_reports_chart_shows_the_violation_threshold_of_todays_limit(oa):
    threshold = load_oa_quality(oa.pk).charts["bad_reports_today"]["data"][2]
    assert threshold["y"] == [400.0] * 24  # 2 % of 20,000


# --- reads never write --------------------------------------------------------------------------


def test_no_quality_page_nor_the_oa_page_creates_a_quota_state(client, quality_admin, oa):
    from oas.models import OfficialAccount

    bare = OfficialAccount.objects.create(name="No state", zalo_oa_id="no-state")  # made outside the service
    client.force_login(quality_admin)
    before = OAQuotaState.objects.count()
    assert client.get(reverse("quotas:index")).status_code == 200
    assert client.get(reverse("quotas:policies")).status_code == 200
    forecast = {"planned_daily_volume": 500, "days": 30}
    assert client.get(reverse("quotas:oa_detail", args=[oa.pk]), forecast).status_code == 200
    assert client.get(reverse("quotas:oa_detail", args=[bare.pk])).status_code == 404
    assert client.get(reverse("oas:detail", args=[oa.pk])).status_code == 200
    page = client.get(reverse("oas:detail", args=[bare.pk]))
    assert page.status_code == 200 and 'data-testid="current-limit">—<' in page.content.decode()
    assert client.get(reverse("oas:edit", args=[bare.pk])).status_code == 200
    assert OAQuotaState.objects.count() == before
    assert not OAQuotaState.objects.filter(oa=bare).exists()


def test_the_data_migration_gives_every_oa_without_one_a_quota_state(oa):
    from datetime import UTC, datetime
    from importlib import import_module

    from django.apps import apps

    from oas.models import OfficialAccount

    old = OfficialAccount.objects.create(name="Old", zalo_oa_id="old")
    OfficialAccount.objects.filter(pk=old.pk).update(created_at=datetime(2025, 6, 1, tzinfo=UTC))
    new = OfficialAccount.objects.create(name="New", zalo_oa_id="new")
    kept = OAQuotaState.objects.get(oa=oa)
    import_module("quotas.migrations.0006_create_missing_quota_states").create_missing_states(apps, None)
    rows = OAQuotaState.objects.select_related("policy")
    states = {row.oa_id: (row.policy.code, row.current_limit) for row in rows}
    assert states == {
        oa.pk: (kept.policy.code, kept.current_limit),
        old.pk: ("zns-2024", 5000),
        new.pk: ("zbs-2026", 20000),
    }
