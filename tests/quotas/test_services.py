"""Events, rollups, reviews, violations, guardrail and corrections against PostgreSQL."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign
from oas.models import OfficialAccount
from quotas.models import (
    AutomaticViolation,
    CampaignDailyStats,
    CampaignHourlyStats,
    LevelChange,
    LevelReview,
    OADailyStats,
    OAHourlyStats,
    OAQuotaState,
    Policy,
    QualityAlert,
    QuotaEvent,
    TemplateDailyStats,
)
from quotas.services import levels, policies, rollups
from quotas.services import state as quota_states
from tests.quotas.conftest import make_oa, vn_moment

DAY = date(2026, 11, 2)


def state_of(oa) -> OAQuotaState:
    return OAQuotaState.objects.get(oa=oa)


def send(oa, day, count, hour=10, **extra):
    rollups.record_sent(oa.pk, vn_moment(day, hour), count=count, **extra)


def report(oa, day, count, hour=10, **extra):
    rollups.record_bad_report(oa.pk, vn_moment(day, hour), count=count, **extra)


# --- state ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_oa_gets_the_latest_policy_in_force_at_registration():
    oa = OfficialAccount.objects.create(name="New", zalo_oa_id="new")
    state = quota_states.create_quota_state(oa.pk)
    assert (state.policy.code, state.current_limit) == ("zbs-2026", 20000)


@pytest.mark.django_db
def test_an_oa_registered_before_2026_01_16_gets_the_zns_policy():
    oa = OfficialAccount.objects.create(name="Old", zalo_oa_id="old")
    OfficialAccount.objects.filter(pk=oa.pk).update(created_at=datetime(2025, 6, 1, tzinfo=UTC))
    oa.refresh_from_db()
    assert quota_states.create_quota_state(oa.pk).policy.code == "zns-2024"


@pytest.mark.django_db
def test_reading_the_state_of_an_oa_without_one_is_an_error_and_creates_nothing():
    oa = OfficialAccount.objects.create(name="Bare", zalo_oa_id="bare")
    with pytest.raises(OAQuotaState.DoesNotExist, match=f"OA #{oa.pk} has no quota state"):
        quota_states.quota_state(oa.pk)
    assert not OAQuotaState.objects.filter(oa=oa).exists()


@pytest.mark.django_db
def test_creating_a_state_that_exists_returns_it_unchanged(oa):
    zns = Policy.objects.get(code="zns-2024")
    state = quota_states.create_quota_state(oa, zns, current_limit=500)
    assert (state.policy.code, state.current_limit) == ("zbs-2026", 20000)
    assert OAQuotaState.objects.filter(oa=oa).count() == 1


@pytest.mark.django_db
def test_the_rules_policy_is_built_from_the_row():
    policy = policies.rules_policy(Policy.objects.get(code="zns-2024"))
    assert policy.marketing_min_level == 20000
    assert policy.recipient_marketing_per_month == 4


# --- events and rollups --------------------------------------------------------------------------


@pytest.mark.django_db
def test_recording_sends_bumps_every_rollup(transaction_campaign):
    oa, template = transaction_campaign.oa, transaction_campaign.template
    for _ in range(3):
        send(oa, DAY, 10, campaign_id=transaction_campaign.pk, template_id=template.pk, tag=1)
    report(oa, DAY, 2, hour=11, campaign_id=transaction_campaign.pk, template_id=template.pk)
    daily = OADailyStats.objects.get(oa=oa, day=DAY)
    assert (daily.sent, daily.bad_reports, daily.transactional_sent) == (30, 2, 30)
    hourly = {row.hour: (row.sent, row.bad_reports) for row in OAHourlyStats.objects.filter(oa=oa)}
    assert hourly == {10: (30, 0), 11: (0, 2)}
    assert CampaignDailyStats.objects.get(campaign=transaction_campaign).sent == 30
    assert CampaignHourlyStats.objects.filter(campaign=transaction_campaign).count() == 2
    assert TemplateDailyStats.objects.get(template=template).bad_reports == 2
    assert QuotaEvent.objects.filter(oa=oa).count() == 4


@pytest.mark.django_db
def test_events_are_counted_on_their_vietnam_day(oa):
    rollups.record_sent(oa.pk, datetime(2026, 11, 1, 17, 30, tzinfo=UTC), count=5)
    assert OADailyStats.objects.get(oa=oa).day == date(2026, 11, 2)
    assert OAHourlyStats.objects.get(oa=oa).hour == 0


@pytest.mark.django_db
def test_the_first_send_starts_the_review_clock_the_next_day(oa):
    send(oa, DAY, 1)
    send(oa, DAY + timedelta(days=3), 1)
    state = state_of(oa)
    assert (state.first_send_day, state.review_clock_start) == (DAY, DAY + timedelta(days=1))


@pytest.mark.django_db
def test_rebuilding_the_rollups_reproduces_them_from_the_events(transaction_campaign):
    oa = transaction_campaign.oa
    send(oa, DAY, 7, campaign_id=transaction_campaign.pk, tag=2)
    send(oa, DAY + timedelta(days=1), 3, hour=22, tag=3)
    report(oa, DAY, 1, hour=23)
    before = sorted(OADailyStats.objects.values_list("day", "sent", "bad_reports", "transactional_sent"))
    OADailyStats.objects.update(sent=999)
    OAHourlyStats.objects.all().delete()
    out = StringIO()
    call_command("rebuild_quota_rollups", stdout=out)
    assert (
        sorted(OADailyStats.objects.values_list("day", "sent", "bad_reports", "transactional_sent")) == before
    )
    assert OAHourlyStats.objects.count() == 3
    assert CampaignDailyStats.objects.get().sent == 7
    assert "rebuilt" in out.getvalue()


# --- reviews -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_daily_review_reproduces_the_zbs_first_example(oa):
    send(oa, DAY, 10000)
    send(oa, DAY + timedelta(days=1), 10000)
    send(oa, DAY + timedelta(days=2), 20000)
    for offset in range(1, 7):
        assert levels.review_oa(oa.pk, DAY + timedelta(days=offset)) is None
    review = levels.review_oa(oa.pk, DAY + timedelta(days=7))
    assert (review.decision, review.new_limit, review.window_sent) == ("upgrade", 50000, 40000)
    state = state_of(oa)
    assert quota_states.limit_on(state, DAY + timedelta(days=7)) == 20000
    assert quota_states.limit_on(state, DAY + timedelta(days=8)) == 50000
    assert levels.review_oa(oa.pk, DAY + timedelta(days=8)) is None
    change = LevelChange.objects.get(oa=oa)
    assert (change.reason, change.old_limit, change.new_limit, change.effective_day) == (
        "review_upgrade",
        20000,
        50000,
        DAY + timedelta(days=8),
    )
    assert state_of(oa).review_clock_start == DAY + timedelta(days=8)


@pytest.mark.django_db
def test_the_daily_job_is_idempotent(oa):
    send(oa, DAY, 40000)
    review_day = DAY + timedelta(days=7)
    at = vn_moment(review_day, 0, 1)
    assert levels.run_daily_reviews(at) == 1
    assert levels.run_daily_reviews(at) == 0
    assert LevelReview.objects.filter(oa=oa).count() == 1
    assert state_of(oa).pending_limit == 50000


@pytest.mark.django_db
def test_a_low_window_downgrades_the_next_day_with_the_reason_recorded(oa):
    send(oa, DAY, 1000)
    report(oa, DAY, 10)
    levels.review_oa(oa.pk, DAY + timedelta(days=7))
    levels.review_oa(oa.pk, DAY + timedelta(days=8))
    change = LevelChange.objects.get(oa=oa)
    assert (change.reason, change.new_limit) == ("review_downgrade", 10000)


@pytest.mark.django_db
def test_the_run_quota_jobs_command_runs_both_jobs(oa):
    send(oa, DAY, 40000)
    out = StringIO()
    at = vn_moment(DAY + timedelta(days=7), 0).isoformat()
    call_command("run_quota_jobs", "--hourly", "--daily", "--at", at, stdout=out)
    assert "1 review(s)" in out.getvalue()
    assert "hour 23" in out.getvalue()


# --- violations ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_hourly_check_drops_the_level_on_a_violation_once_a_day(oa):
    report(oa, DAY, 401, hour=9)
    assert levels.run_violation_checks(vn_moment(DAY, 9, 59)) == []  # hour 9 not over yet
    violations = levels.run_violation_checks(vn_moment(DAY, 10, 0))
    assert [(v.hour, v.limit, v.new_limit) for v in violations] == [(9, 20000, 10000)]
    report(oa, DAY, 1000, hour=10)
    assert levels.run_violation_checks(vn_moment(DAY, 11, 0)) == []
    assert levels.run_violation_checks(vn_moment(DAY, 10, 0)) == []
    assert state_of(oa).current_limit == 10000
    assert AutomaticViolation.objects.filter(oa=oa).count() == 1
    assert LevelChange.objects.get(oa=oa).reason == "violation"
    assert QualityAlert.objects.filter(oa=oa, kind="violation").count() == 1


@pytest.mark.django_db
def test_a_violation_the_day_an_upgrade_was_due_cancels_it(oa):
    send(oa, DAY, 40000)
    review_day = DAY + timedelta(days=7)
    levels.run_daily_reviews(vn_moment(review_day, 0))
    report(oa, review_day, 401, hour=23)
    levels.run_daily_reviews(vn_moment(review_day + timedelta(days=1), 0))  # closes hour 23 first
    state = state_of(oa)
    assert state.current_limit == 10000
    assert state.review_clock_start == review_day
    assert state.pending_from_day is None
    assert LevelReview.objects.get(oa=oa, day=review_day).cancelled_by_violation
    assert list(LevelChange.objects.values_list("reason", flat=True)) == ["violation"]


@pytest.mark.django_db
def test_a_violation_at_the_bottom_level_keeps_the_level():
    oa = make_oa(limit=1000)
    report(oa, DAY, 21, hour=5)
    [violation] = levels.run_violation_checks(vn_moment(DAY, 6))
    assert (violation.limit, violation.new_limit) == (1000, 1000)
    assert not LevelChange.objects.filter(oa=oa).exists()


# --- guardrail ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_guardrail_pauses_running_marketing_campaigns_and_alerts(
    marketing_campaign, transaction_campaign
):
    oa = marketing_campaign.oa
    report(oa, DAY, 299)
    marketing_campaign.refresh_from_db()
    assert marketing_campaign.status == Campaign.Status.RUNNING
    report(oa, DAY, 1)  # 300 = 75 % of 2 % of 20,000
    marketing_campaign.refresh_from_db()
    transaction_campaign.refresh_from_db()
    assert marketing_campaign.status == Campaign.Status.PAUSED
    assert "guardrail" in marketing_campaign.pause_reason.lower()
    assert "(300)" in marketing_campaign.pause_reason
    assert transaction_campaign.status == Campaign.Status.RUNNING
    alert = QualityAlert.objects.get(oa=oa, kind="guardrail")
    assert alert.campaigns_paused == 1
    report(oa, DAY, 1)
    assert QualityAlert.objects.filter(oa=oa).count() == 1


@pytest.mark.django_db
def test_the_guardrail_only_alerts_when_set_to_alert_only(marketing_campaign):
    oa = marketing_campaign.oa
    levels.update_guardrail(oa.pk, Decimal("0.5"), "alert")
    report(oa, DAY, 200)
    marketing_campaign.refresh_from_db()
    assert marketing_campaign.status == Campaign.Status.RUNNING
    assert QualityAlert.objects.get(oa=oa).campaigns_paused == 0


@pytest.mark.django_db
def test_pausing_a_campaign_that_is_not_running_does_nothing(marketing_campaign):
    from campaigns.services import pause_campaign

    Campaign.objects.filter(pk=marketing_campaign.pk).update(status=Campaign.Status.COMPLETED)
    assert pause_campaign(marketing_campaign.pk, "why") is False


# --- corrections -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manual_correction_needs_a_written_reason(oa, quality_admin):
    with pytest.raises(levels.CorrectionRejected):
        levels.correct_level(oa.pk, 50000, "   ", quality_admin)
    with pytest.raises(levels.CorrectionRejected):
        levels.correct_level(oa.pk, 12345, "typo", quality_admin)
    change = levels.correct_level(oa.pk, 50000, "Zalo support raised the level (ticket 42)", quality_admin)
    assert (change.reason, change.changed_by, change.new_limit) == ("manual", quality_admin, 50000)
    assert state_of(oa).current_limit == 50000


@pytest.mark.django_db
def test_the_hourly_check_is_a_backstop_for_the_guardrail_and_pauses_after_a_violation(marketing_campaign):
    oa = marketing_campaign.oa
    # Rollups written without going through record_bad_report (as after a rebuild): 401 > 400.
    OADailyStats.objects.create(oa=oa, day=DAY, sent=1000, bad_reports=401)
    OAHourlyStats.objects.create(oa=oa, day=DAY, hour=8, sent=1000, bad_reports=401)
    [violation] = levels.run_violation_checks(vn_moment(DAY, 9))
    marketing_campaign.refresh_from_db()
    assert marketing_campaign.status == Campaign.Status.PAUSED
    kinds = set(QualityAlert.objects.filter(oa=oa).values_list("kind", flat=True))
    assert kinds == {"guardrail", "violation"}
    assert violation.new_limit == 10000


event_strategy = st.tuples(
    st.sampled_from(["sent", "bad"]),
    st.integers(min_value=0, max_value=3 * 24 * 60 - 1),  # minute within three days
    st.integers(min_value=1, max_value=50),
    st.sampled_from([None, 1, 2, 3]),
    st.booleans(),  # through the campaign
)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event_strategy, max_size=30))
def test_incremental_rollups_equal_the_rebuilt_ones(transaction_campaign, events):
    oa = transaction_campaign.oa
    QuotaEvent.objects.all().delete()
    rollups.rebuild_rollups()
    start = vn_moment(DAY, 0)
    for kind, minute, count, tag, with_campaign in events:
        record = rollups.record_sent if kind == "sent" else rollups.record_bad_report
        campaign = transaction_campaign if with_campaign else None
        record(
            oa.pk,
            start + timedelta(minutes=minute),
            count=count,
            tag=tag,
            campaign_id=campaign and campaign.pk,
            template_id=campaign and campaign.template_id,
        )

    def snapshot():
        return {
            model.__name__: sorted(
                tuple(row) for row in model.objects.values_list(*[f.attname for f in model._meta.fields][1:])
            )
            for model in rollups.ROLLUP_MODELS
        }

    incremental = snapshot()
    rollups.rebuild_rollups()
    assert snapshot() == incremental


def test_every_level_change_and_setting_lands_in_the_audit_log(oa, quality_admin):
    from compliance.integrity import verify_audit_log
    from compliance.models import AuditEvent

    levels.correct_level(oa.pk, 10000, "Agreed with Zalo support", quality_admin)
    levels.update_guardrail(oa.pk, Decimal("0.5"), "alert", actor=quality_admin)
    events = list(AuditEvent.objects.values_list("action", "actor", "target_id"))
    assert events == [
        ("oa.level_change", "user:quality", str(oa.pk)),
        ("oa.guardrail", "user:quality", str(oa.pk)),
    ]
    assert "Agreed with Zalo support" in AuditEvent.objects.get(action="oa.level_change").description
    assert verify_audit_log().intact
