"""The campaign analytics rollups: kept as messages move (dispatch transitions, reports), equal to
what the rebuild computes from the rows, and to the figures worked out by hand."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from campaigns import analytics_rollups, reports
from campaigns.analytics_rollups import latency_bucket
from campaigns.models import (
    CampaignAudienceSource,
    CampaignLatencyCount,
    CampaignMessage,
    CampaignSourceStats,
    CampaignStateCount,
)
from tests.campaigns import analytics_scenario
from zalo_admin.lib.dates import vietnam_day, vietnam_hour

S = CampaignMessage.State
pytestmark = pytest.mark.django_db


def snapshot(campaign_id) -> dict:
    """Every rollup of the campaign, zero counters left out."""
    sources = {s.pk: str(s) for s in CampaignAudienceSource.objects.filter(campaign_id=campaign_id)}
    return {
        "states": {
            r.state: r.count for r in CampaignStateCount.objects.filter(campaign_id=campaign_id) if r.count
        },
        "latency": {
            r.bucket: r.count for r in CampaignLatencyCount.objects.filter(campaign_id=campaign_id) if r.count
        },
        "sources": {
            (sources.get(r.source_key, "unknown"), r.day, r.hour): (r.sent, r.bad_reports)
            for r in CampaignSourceStats.objects.filter(campaign_id=campaign_id)
            if r.sent or r.bad_reports
        },
        "recipients": {
            str(s): s.recipients for s in CampaignAudienceSource.objects.filter(campaign_id=campaign_id)
        },
    }


@pytest.fixture
def scenario(quality_admin):
    return analytics_scenario.build(quality_admin)


def test_the_latency_buckets_take_their_upper_bound_inclusively():
    assert latency_bucket(timedelta(seconds=-2)) == 0
    assert latency_bucket(timedelta(seconds=5)) == 0
    assert latency_bucket(timedelta(seconds=5, microseconds=1)) == 1
    assert latency_bucket(timedelta(minutes=1)) == 2
    assert latency_bucket(timedelta(hours=6)) == 6
    assert latency_bucket(timedelta(days=3)) == 7


def test_each_recipient_gets_the_first_list_then_the_first_segment_as_its_source(scenario):
    by_phone_index = {
        i: str(CampaignMessage.objects.get(pk=pk).audience_source) for i, pk in scenario.ids.items()
    }
    a, b, vip = scenario.list_a.name, scenario.list_b.name, scenario.segment.name
    assert by_phone_index == {
        0: f"list {a} (khach_tet.csv)",  # also in the segment: the list wins
        1: f"list {a} (khach_tet.csv)",
        2: f"list {a} (khach_tet.csv)",
        3: f"list {a}",  # also in list B: the lower list id wins; added by hand
        4: f"list {b}",
        5: f"segment {vip}",
        6: f"segment {vip}",
    }


def test_the_incremental_rollups_hold_the_hand_computed_figures(scenario):
    a, b, vip = scenario.list_a.name, scenario.list_b.name, scenario.segment.name
    day, hour = vietnam_day(scenario.t1), vietnam_hour(scenario.t1)
    assert snapshot(scenario.campaign.pk) == {
        # p0 p1 p2 p5 p6 delivered, p3 never reported, p4 refused by the provider
        "states": {S.DELIVERED: 5, S.ACCEPTED: 1, S.FAILED: 1},
        # 3 s, 40 s, 10 min, 30 min, 2 h
        "latency": {0: 1, 2: 1, 4: 1, 5: 1, 6: 1},
        "sources": {
            (f"list {a} (khach_tet.csv)", day, hour): (3, 1),  # p1's two bad reports count once
            (f"list {a}", day, hour): (1, 0),
            (f"segment {vip}", day, hour): (2, 1),  # p6 counted once its report proved the send
        },
        "recipients": {f"list {a} (khach_tet.csv)": 3, f"list {a}": 1, f"list {b}": 1, f"segment {vip}": 2},
    }


def test_the_rebuild_from_the_message_rows_equals_the_incremental_rollups(scenario):
    incremental = snapshot(scenario.campaign.pk)
    CampaignAudienceSource.objects.filter(campaign=scenario.campaign).update(recipients=0)
    written = analytics_rollups.rebuild()
    assert snapshot(scenario.campaign.pk) == incremental
    assert written == {"states": 3, "latency": 5, "sources": 3}


def test_the_rebuild_repairs_rows_written_behind_the_dispatcher_back(scenario):
    """Rows inserted straight into the table (a bulk load) are counted only by the rebuild."""
    CampaignMessage.objects.filter(pk=scenario.ids[3]).update(
        state=S.DELIVERED, delivered_at=scenario.t1 + timedelta(seconds=70)
    )
    before = snapshot(scenario.campaign.pk)
    assert before["states"][S.ACCEPTED] == 1
    call_command("rebuild_campaign_analytics", "--campaign", str(scenario.campaign.pk))
    after = snapshot(scenario.campaign.pk)
    assert after["states"] == {S.DELIVERED: 6, S.FAILED: 1}
    assert after["latency"] == {0: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1}  # 70 s: up to 5 min


def test_the_bad_report_code_is_the_one_the_reports_write():
    assert analytics_rollups.BAD_REPORT_CODE == reports.BAD_REPORT


def test_the_rebuild_command_refuses_a_bad_campaign_id_in_one_line(capsys):
    for value in ("abc", "999999"):
        with pytest.raises(SystemExit) as exit_info:
            call_command("rebuild_campaign_analytics", "--campaign", value)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("rebuild_campaign_analytics: ") and "\n" not in err
