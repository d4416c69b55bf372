"""Campaign analytics and OA bad-report attribution: the figures against the hand-computed scenario
(tests/campaigns/analytics_scenario.py), CSV downloads, empty states, and no read of the message
table on any of these pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import analytics
from campaigns.models import Campaign
from oas.models import MessageTemplate
from tests.campaigns import analytics_scenario
from zalo_admin.lib.dates import VIETNAM, vietnam_hour

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(quality_admin):
    return analytics_scenario.build(quality_admin)


def test_the_funnel_counts_each_step(scenario):
    stages = {stage.key: stage.count for stage in analytics.funnel(scenario.campaign)}
    assert stages == {
        "targeted": None,  # no pre-flight recorded in this scenario
        "eligible": 7,
        "sent": 6,  # p4 refused; p6 counted once its delivery report proved the send
        "delivered": 5,
        "failed": 1,
        "unconfirmed": 0,
        "bad_reports": 2,
        "failed_over": 0,
        "expired": 0,
        "waiting": 0,
    }


def test_the_latency_chart_puts_each_delivery_in_its_bucket(scenario):
    figure = analytics.latency_figure(scenario.campaign.pk)
    assert figure["data"][0]["y"] == [1, 0, 1, 0, 1, 1, 1, 0]  # 3 s, 40 s, 10 min, 30 min, 2 h
    assert figure["data"][0]["x"][0] == "up to 5 s" and figure["data"][0]["x"][-1] == "over 6 h"
    assert figure["table"]["rows"][0] == ["up to 5 s", 1, analytics.rate(1, 5)]


def test_the_hourly_chart_shows_sends_and_bad_reports_in_vietnam_hours(scenario):
    figure = analytics.hourly_figure(scenario.campaign.pk)
    sent, bad = figure["data"][0], figure["data"][1]
    assert sum(sent["y"]) == 6 and sum(bad["y"]) == 2
    assert all(len(x) == 11 and x[2] == "/" and x[8:] == ":00" for x in sent["x"])  # "DD/MM HH:00"
    first_hour = figure["table"]["rows"][0][0]  # the table spells the day out: "YYYY-MM-DD HH:00"
    assert first_hour[:10] == scenario.t1.astimezone(VIETNAM).date().isoformat()
    assert first_hour[11:13] == f"{vietnam_hour(scenario.t1):02d}"
    # contiguous hours from the first send to the last bad report (no gap hidden)
    assert len(sent["x"]) == len(set(sent["x"]))


def test_the_sources_of_the_campaign_are_worst_first_with_their_rates(scenario):
    report = analytics.campaign_analytics(scenario.campaign)
    rows = [
        (r.label, r.detail, r.recipients, r.sent, r.bad_reports, r.rate, r.share_of_bad)
        for r in report.sources
    ]
    a, b, vip = scenario.list_a.name, scenario.list_b.name, scenario.segment.name
    assert rows == [
        (f"Segment: {vip}", "", 2, 2, 1, analytics.rate(1, 2), analytics.rate(1, 2)),  # 50 %
        (f"List: {a}", "import file khach_tet.csv", 3, 3, 1, analytics.rate(1, 3), analytics.rate(1, 2)),
        (f"List: {a}", "members added by hand or from a pasted list", 1, 1, 0, 0, 0),
    ]
    # list B's one recipient was refused by the provider: its source has no send row at all
    assert b not in " ".join(r[0] for r in rows)
    by_hour = {row.label[:2]: (row.sent, row.bad_reports) for row in report.send_hours if row.sent}
    assert by_hour == {f"{vietnam_hour(scenario.t1):02d}": (6, 2)}


def test_the_oa_attribution_names_the_campaign_template_source_and_hour(scenario, quality_admin):
    second = analytics_scenario.build(quality_admin, oa=scenario.oa, name="Flash sale")
    report = analytics.oa_attribution(scenario.oa.pk, days=7)
    assert (report.sent, report.bad_reports) == (12, 4)
    assert sorted((r.label, r.sent, r.bad_reports) for r in report.campaigns) == [
        ("Flash sale", 6, 2),
        ("Tết orders", 6, 2),
    ]
    assert [(r.sent, r.bad_reports) for r in report.templates] == [(6, 2), (6, 2)]  # one template each
    assert [r.bad_reports for r in report.sources] == [1, 1, 1, 1, 0, 0]  # 2 campaigns x 3 source lines
    assert report.sources[0].label.startswith("Segment: ")
    assert report.sources[0].share_of_bad == 25
    assert second.campaign.pk != scenario.campaign.pk


def test_the_pages_answer_with_their_charts_and_never_read_the_message_table(scenario, client, quality_admin):
    client.force_login(quality_admin)
    for url in (
        reverse("campaigns:analytics", args=[scenario.campaign.pk]),
        reverse("campaigns:oa_attribution", args=[scenario.oa.pk]) + "?days=30",
    ):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        assert not [q["sql"] for q in queries if '"campaigns_campaignmessage"' in q["sql"]], url
        html = response.content.decode()
        assert 'data-chart="send-hour-chart"' in html
    html = client.get(reverse("campaigns:analytics", args=[scenario.campaign.pk])).content.decode()
    assert 'data-stage="delivered"' in html and "khach_tet.csv" in html


def test_each_table_downloads_as_csv(scenario, client, quality_admin):
    client.force_login(quality_admin)
    response = client.get(reverse("campaigns:analytics_csv", args=[scenario.campaign.pk, "sources"]))
    body = b"".join(response.streaming_content).decode("utf-8")
    assert response["Content-Type"].startswith("text/csv") and body.startswith("\ufeffAudience source,")
    assert "khach_tet.csv" in body
    response = client.get(
        reverse("campaigns:oa_attribution_csv", args=[scenario.oa.pk, "send-hours"]) + "?days=90"
    )
    assert (
        'filename="oa-' in response["Content-Disposition"] and "-90d.csv" in response["Content-Disposition"]
    )
    assert (
        client.get(reverse("campaigns:analytics_csv", args=[scenario.campaign.pk, "nope"])).status_code == 404
    )


def test_a_campaign_not_started_shows_what_will_appear(client, quality_admin, db):
    from oas.models import OfficialAccount

    oa = OfficialAccount.objects.create(name="Quiet OA", zalo_oa_id="quiet-1")
    template = MessageTemplate.objects.create(oa=oa, template_id="1", name="T", tag=1)
    campaign = Campaign.objects.create(oa=oa, template=template, name="Draft")
    client.force_login(quality_admin)
    html = client.get(reverse("campaigns:analytics", args=[campaign.pk])).content.decode()
    assert "Not started yet." in html and "No delivery report yet." in html
    html = client.get(reverse("campaigns:oa_attribution", args=[oa.pk]) + "?days=abc").content.decode()
    assert "No bad report in this period." in html and "last 7 days" in html
