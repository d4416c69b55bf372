"""The campaign's options reach Infobip as Infobip defines them (ZaloMessageOptions), per message."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from campaigns import dispatch, mapping
from campaigns.models import CampaignMessage
from tests.campaigns.test_dispatch_paths import UNLIMITED, build_campaign, drain, ours

S = CampaignMessage.State
AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def campaign(**fields):
    values = {
        "pk": 7, "time_zone": "Asia/Ho_Chi_Minh", "delivery_days": [], "delivery_from_hour": None,
        "delivery_from_minute": None, "delivery_to_hour": None, "delivery_to_minute": None,
        "validity_period_amount": None, "validity_period_time_unit": "HOURS", "platform_entity_id": "",
        "platform_application_id": "",
    }  # fmt: skip
    return SimpleNamespace(**{**values, **fields})


def window(days, start, end):
    return campaign(
        delivery_days=days, delivery_from_hour=start[0], delivery_from_minute=start[1],
        delivery_to_hour=end[0], delivery_to_minute=end[1],
    )  # fmt: skip


def utc(days, start, end):
    return {
        "days": days,
        "from": dict(zip(("hour", "minute"), start, strict=True)),
        "to": dict(zip(("hour", "minute"), end, strict=True)),
    }


@pytest.mark.parametrize(
    ("days", "start", "end", "expected"),
    [
        # 08:00-20:00 Vietnam time is 01:00-13:00 UTC the same day.
        (["MONDAY"], (8, 0), (20, 0), utc(["MONDAY"], (1, 0), (13, 0))),
        # 03:00-06:30 Vietnam time is 20:00-23:30 UTC the day before (Monday -> Sunday).
        (["MONDAY", "FRIDAY"], (3, 0), (6, 30), utc(["SUNDAY", "THURSDAY"], (20, 0), (23, 30))),
        # 02:00-07:00 ends at midnight UTC: Infobip's last minute of the day.
        (["TUESDAY"], (2, 0), (7, 0), utc(["MONDAY"], (19, 0), (23, 59))),
        # 06:00-12:00 Vietnam time straddles midnight UTC: no single Infobip window (we enforce it).
        (["MONDAY"], (6, 0), (12, 0), None),
    ],
)
def test_the_delivery_window_is_sent_in_utc_with_its_days_shifted(days, start, end, expected):
    options = mapping.infobip_message_options(window(days, start, end), AT)
    assert options.get("deliveryTimeWindow") == expected


def test_no_window_no_platform_no_validity_sends_only_the_campaign_reference():
    assert mapping.infobip_message_options(campaign(), AT) == {"campaignReferenceId": "campaign-7"}


def test_platform_and_validity_use_infobips_names():
    options = mapping.infobip_message_options(
        campaign(platform_entity_id="ent-1", validity_period_amount=36), AT
    )
    assert options["platform"] == {"entityId": "ent-1"}
    assert options["validityPeriod"] == {"amount": 36, "timeUnit": "HOURS"}


@pytest.mark.django_db(transaction=True)
def test_an_infobip_campaign_with_every_option_is_accepted_by_the_strict_sandbox(quality_admin, sb):
    sb.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    built = build_campaign(
        5, quality_admin=quality_admin, provider="infobip", sb=sb,
        platform_entity_id="entity-1", platform_application_id="app-1",
        validity_period_amount=2, validity_period_time_unit="HOURS",
        sms_failover_enabled=True, sms_failover_sender="ZaloAdmin", sms_failover_text="Chào {{name}}",
        sms_failover_mapping={"name": {"source": "field", "key": "name"}},
    )  # fmt: skip
    assert dispatch.start_campaign(built.pk).started
    assert drain(built).kind == "done"
    accepted = CampaignMessage.objects.filter(campaign=built, state=S.ACCEPTED).count()
    assert accepted == 5
    legs = ours(sb, built)
    assert len([leg for leg in legs if leg["channel"] == "phone"]) == 5
    # Infobip was told how to fail over: a message the sandbox failed on Zalo got its SMS leg.
    failed_on_zalo = [leg for leg in legs if leg["channel"] == "phone" and leg.get("status") != "DELIVERED"]
    assert len([leg for leg in legs if leg["channel"] == "sms"]) <= len(failed_on_zalo)


@pytest.mark.django_db(transaction=True)
def test_a_template_the_provider_disabled_pauses_its_campaigns_with_the_reason(quality_admin, sb, settings):
    from campaigns.models import Campaign

    settings.DISPATCH_BATCH_SIZE = 5
    sb.oa("demo-oa-1", policy_overrides=UNLIMITED, initial_limit=10**9)
    built = build_campaign(20, quality_admin=quality_admin)
    assert dispatch.start_campaign(built.pk).started
    sb.template("100001", status="DISABLE")  # Zalo now answers -146 (disabled for low quality)
    drain(built)
    built.refresh_from_db()
    assert built.status == Campaign.Status.PAUSED
    assert "TEMPLATE_DISABLED_LOW_QUALITY" in built.pause_reason and "in a row" not in built.pause_reason
    # Paused after the first refused batch: the rest was never tried.
    assert CampaignMessage.objects.filter(campaign=built, state=S.QUEUED).count() >= 10
