"""Each alert kind from its real trigger: the quotas, oas and campaigns services announce, alerts
records one Alert per occurrence (in the announcer's transaction) and nothing twice."""

import pytest
from django.utils import timezone

from alerts.models import Alert, Kind
from alerts.services import alert_text, alert_title
from campaigns import dispatch
from campaigns.models import Campaign, CampaignDispatch
from campaigns.services import pause_campaign
from oas.models import MessageTemplate, OACredentials
from oas.services import template_events, tokens
from providers.base import ProviderError
from quotas.models import OADailyStats
from quotas.services import levels
from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET


def kinds():
    return sorted(Alert.objects.values_list("kind", flat=True))


def make_campaign(oa, *, status=Campaign.Status.RUNNING, tag=MessageTemplate.Tag.MARKETING, name="Tết sale"):
    template = MessageTemplate.objects.create(
        oa=oa,
        template_id=f"t-{name}",
        name=f"Template {name}",
        tag=tag,
        status=MessageTemplate.Status.ENABLED,
    )
    return Campaign.objects.create(oa=oa, template=template, name=name, status=status)


def test_a_guardrail_trip_alerts_once_per_day_and_counts_the_marketing_campaigns_it_paused(oa, today):
    campaign = make_campaign(oa)
    OADailyStats.objects.create(oa=oa, day=today, sent=10000, bad_reports=350)  # 75 % of 400 is 300
    assert levels.apply_guardrail(oa.pk, today)
    assert levels.apply_guardrail(oa.pk, today)  # bad reports keep tripping it: still one alert
    guardrail = Alert.objects.get(kind=Kind.GUARDRAIL)
    assert guardrail.oa_id == oa.pk and guardrail.params["campaigns_paused"] == 1
    assert "Quality guardrail" in guardrail.message
    assert alert_title(guardrail) == f"Guardrail tripped on {oa.name}"
    assert "1 marketing campaign paused." in alert_text(guardrail)
    paused = Alert.objects.get(kind=Kind.CAMPAIGN_PAUSED)
    assert paused.campaign_id == campaign.pk and paused.message == guardrail.message


def test_an_automatic_violation_alerts_with_the_level_change_it_made(oa, today):
    levels.apply_violation(oa.pk, today, 10, 500)
    assert kinds() == [Kind.LEVEL_CHANGE, Kind.VIOLATION]
    change = Alert.objects.get(kind=Kind.LEVEL_CHANGE)
    assert (change.params["old_limit"], change.params["new_limit"]) == (20000, 10000)
    assert alert_title(change) == f"{oa.name}: daily limit 20,000 → 10,000"
    assert alert_text(change).startswith("Automatic violation")
    assert levels.apply_violation(oa.pk, today, 11, 900) is None  # once a day
    assert Alert.objects.count() == 2


def test_a_manual_correction_alerts_a_level_change_with_its_written_reason(oa, quality_admin):
    levels.correct_level(oa.pk, 50000, "Zalo support raised the limit", quality_admin)
    [alert] = Alert.objects.all()
    assert alert.kind == Kind.LEVEL_CHANGE and alert.message == "Zalo support raised the limit"
    assert alert_text(alert) == "Manual correction Zalo support raised the limit"


def test_a_template_that_can_no_longer_send_alerts_with_its_reason(oa):
    template = MessageTemplate.objects.create(
        oa=oa,
        template_id="77",
        name="Receipt",
        tag=MessageTemplate.Tag.TRANSACTION,
        status=MessageTemplate.Status.DISABLED,
        status_reason="spam",
    )
    template_events.record_status_change(
        template, MessageTemplate.Status.ENABLED, actor="system:test", source="t"
    )
    [alert] = Alert.objects.all()
    assert alert.kind == Kind.TEMPLATE_DISABLED
    assert alert_title(alert) == f"Template Receipt of {oa.name} can no longer send"
    assert "spam" in alert.message


def test_an_oa_whose_refresh_token_zalo_refuses_alerts_that_it_needs_reauthorisation(sb, oa):
    OACredentials.objects.filter(oa=oa).update(
        app_id=DEMO_APP_ID, access_expires_at=timezone.now() - timezone.timedelta(minutes=1)
    )
    creds = OACredentials.objects.get(oa=oa)
    creds.app_secret, creds.refresh_token = DEMO_APP_SECRET, "a-refresh-token-zalo-never-issued"
    creds.save()
    with pytest.raises(ProviderError):
        tokens.refresh_access_token(oa.pk)
    [alert] = Alert.objects.all()
    assert alert.kind == Kind.REAUTHORISATION and "token refresh refused" in alert.message
    assert alert_title(alert) == f"{oa.name} needs re-authorisation"


def test_every_pause_of_a_campaign_is_an_alert_and_finishing_is_one(oa):
    campaign = make_campaign(oa, tag=MessageTemplate.Tag.TRANSACTION)
    assert pause_campaign(campaign.pk, "Checking the offer", actor="system:test")
    assert not pause_campaign(campaign.pk, "again", actor="system:test")  # nothing paused: no alert
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    assert pause_campaign(campaign.pk, "Second look", actor="system:test")
    assert [a.message for a in Alert.objects.filter(kind=Kind.CAMPAIGN_PAUSED).order_by("pk")] == [
        "Checking the offer",
        "Second look",
    ]
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    CampaignDispatch.objects.create(campaign=campaign, started_at=timezone.now())
    assert dispatch.maybe_complete(campaign.pk)
    finished = Alert.objects.get(kind=Kind.CAMPAIGN_FINISHED)
    assert finished.campaign_id == campaign.pk
    assert alert_title(finished) == "Campaign Tết sale finished"
    assert "0 accepted or delivered" in alert_text(finished)
