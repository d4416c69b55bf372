"""The portfolio (/quality/): every OA with its figures and attention reasons, worked out by hand;
sorting and filtering by query parameters; a fixed number of queries; the kill switch from it."""

from datetime import timedelta

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from campaigns.models import Campaign
from compliance.models import AuditEvent
from oas.models import MessageTemplate, OfficialAccount
from quotas import portfolio
from quotas.services import reservations, rollups
from tests.quotas.conftest import make_oa, vn_moment
from zalo_admin.lib import dates

pytestmark = pytest.mark.django_db


@pytest.fixture
def board():
    """Five OAs on zns-2024 (violation threshold 2 % of the limit, guardrail at 75 % of it)."""
    today = dates.today_in_vietnam()
    calm = make_oa(name="Calm", policy_code="zns-2024", limit=5000)
    rollups.record_sent(calm.pk, vn_moment(today - timedelta(days=2)), count=7000, tag=1)
    rollups.record_bad_report(calm.pk, vn_moment(today - timedelta(days=2)), count=3)
    rollups.record_sent(calm.pk, vn_moment(today, 8), count=1200, tag=1)
    reservations.reserve(calm, 1200, 1, now=vn_moment(today, 8))
    hot = make_oa(name="Hot", policy_code="zns-2024", limit=2000)  # threshold 40, guardrail 30
    rollups.record_sent(hot.pk, vn_moment(today, 8), count=900, tag=1)
    rollups.record_bad_report(hot.pk, vn_moment(today, 9), count=35)
    over = make_oa(name="Over", policy_code="zns-2024", limit=500)  # threshold 10
    rollups.record_bad_report(over.pk, vn_moment(today, 9), count=12)
    low = make_oa(name="Low", policy_code="zns-2024", limit=5000)
    rollups.record_sent(low.pk, vn_moment(today - timedelta(days=3)), count=1000, tag=1)
    rollups.record_bad_report(low.pk, vn_moment(today - timedelta(days=3)), count=10)  # 1 %: LOW
    MessageTemplate.objects.create(
        oa=low, template_id="9001", name="Promo", tag=3, status=MessageTemplate.Status.ENABLED, quality="LOW"
    )
    MessageTemplate.objects.create(oa=low, template_id="9002", name="Old", tag=1, status="DISABLE")
    low.sending_stopped, low.stop_reason = True, "Complaints from the shop"
    low.save(update_fields=["sending_stopped", "stop_reason"])
    fresh = OfficialAccount.objects.create(name="Fresh", zalo_oa_id="oa-fresh")
    return {"calm": calm, "hot": hot, "over": over, "low": low, "fresh": fresh}


def rows_by_name():
    return {row.oa.name: row for row in portfolio.portfolio_rows()}


def test_each_oa_gets_its_figures_and_reasons(board):
    rows = rows_by_name()
    calm = rows["Calm"]
    assert (calm.limit, calm.level, calm.levels, calm.tier) == (5000, 3, 8, "HIGH")
    assert (calm.sent_today, calm.remaining_today, calm.bad_today) == (1200, 3800, 0)
    assert (calm.violation_threshold, calm.guardrail_threshold) == (100, 75)
    assert calm.reasons == [] and calm.attention == 0

    hot = rows["Hot"]
    assert hot.bad_today == 35 and hot.bad_percent_of_threshold == 87  # 35 / 40
    assert [r.code for r in hot.reasons] == ["guardrail", "alerts"]  # the guardrail tripped: one alert
    assert hot.attention == portfolio.ACT_NOW
    assert hot.reasons[0].text == "35 bad reports today: at the guardrail line (30)"

    over = rows["Over"]
    assert [r.code for r in over.reasons][0] == "violation"
    assert over.reasons[0].text == "12 bad reports today: over the automatic-violation threshold (10)"

    low = rows["Low"]
    assert low.tier == "LOW" and (low.templates_at_risk, low.templates_disabled) == (1, 1)
    assert [r.code for r in low.reasons] == ["low_tier", "stopped", "templates_disabled", "templates_at_risk"]
    assert low.attention == portfolio.TODAY

    fresh = rows["Fresh"]
    assert not fresh.has_state and [r.code for r in fresh.reasons] == ["no_state"]


def test_running_campaigns_and_open_alerts_are_counted_per_oa(board):
    template = MessageTemplate.objects.create(oa=board["calm"], template_id="1", name="T", tag=1)
    for status in ("running", "running", "paused", "completed"):
        Campaign.objects.create(oa=board["calm"], template=template, name=status, status=status)
    calm = rows_by_name()["Calm"]
    assert (calm.running_campaigns, calm.paused_campaigns, calm.open_alerts) == (2, 1, 0)
    assert rows_by_name()["Hot"].open_alerts == 1


def names(params):
    return [row.oa.name for row in portfolio.portfolio(params).rows]


def test_the_default_order_puts_the_worst_first(board):
    assert names({}) == ["Over", "Hot", "Low", "Fresh", "Calm"]  # 120 % of its threshold before 87 %


def test_sorting_and_filtering_by_query_parameters(board):
    assert names({"sort": "name"}) == ["Calm", "Fresh", "Hot", "Low", "Over"]
    assert names({"sort": "name", "order": "desc"}) == ["Over", "Low", "Hot", "Fresh", "Calm"]
    assert names({"sort": "remaining"})[:3] == ["Over", "Hot", "Calm"]  # 500, 2000, 3800 left
    assert names({"tier": "LOW"}) == ["Low"]
    assert names({"q": "ho"}) == ["Hot"]
    assert names({"stopped": "yes"}) == ["Low"]
    assert names({"attention": "1"}) == ["Over", "Hot", "Low", "Fresh"]
    assert names({"sort": "nonsense", "tier": "PURPLE", "page": "x"}) == names({})


def test_pages_of_rows_keep_the_filters(board, client, quality_admin):
    board_page = portfolio.portfolio({"page": "2"}, page_size=2)  # (50 a page by default)
    assert [row.oa.name for row in board_page.rows] == ["Low", "Fresh"] and board_page.pages == 3
    assert board_page.needing_attention == 4 and board_page.act_now == 2


def test_the_page_shows_the_reasons_and_links_into_each_oa(board, client, quality_admin):
    client.force_login(quality_admin)
    html = client.get(reverse("quotas:index"), {"sort": "attention"}).content.decode()
    assert 'data-testid="portfolio"' in html
    assert html.index(">Over<") < html.index(">Hot<") < html.index(">Calm<")
    assert "at the guardrail line (30)" in html
    assert reverse("quotas:oa_detail", args=[board["hot"].pk]) in html
    assert reverse("oas:detail", args=[board["hot"].pk]) in html
    assert reverse("campaigns:oa_attribution", args=[board["hot"].pk]) in html
    assert reverse("quotas:portfolio_stop", args=[board["hot"].pk]) in html  # quality admins may stop
    assert reverse("quotas:portfolio_resume", args=[board["low"].pk]) in html  # and resume


def test_a_marketer_may_stop_but_not_resume_from_the_portfolio(board, client, marketer):
    client.force_login(marketer)
    html = client.get(reverse("quotas:index")).content.decode()
    assert reverse("quotas:portfolio_stop", args=[board["hot"].pk]) in html
    assert reverse("quotas:portfolio_resume", args=[board["low"].pk]) not in html
    assert (
        client.post(reverse("quotas:portfolio_resume", args=[board["low"].pk]), {"reason": "x"}).status_code
        == 403
    )


def test_the_page_takes_a_fixed_number_of_queries_whatever_the_number_of_oas(board, client, quality_admin):
    client.force_login(quality_admin)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("quotas:index")).status_code == 200
        return len(queries)

    count()  # (the first request after logging in also writes the session's last activity)
    few = count()
    for i in range(30):
        oa = make_oa(name=f"More {i}", policy_code="zns-2024", limit=2000)
        rollups.record_bad_report(oa.pk, vn_moment(dates.today_in_vietnam(), 9), count=1)
        MessageTemplate.objects.create(oa=oa, template_id="1", name="T", tag=1, quality="LOW")
    assert count() == few


def test_the_kill_switch_from_the_portfolio_stops_audits_and_goes_back(board, client, marketer):
    client.force_login(marketer)
    hot = board["hot"]
    response = client.post(
        reverse("quotas:portfolio_stop", args=[hot.pk]),
        {"reason": "Bad reports climbing", "next": "/quality/?sort=bad&tier=HIGH"},
    )
    assert response.status_code == 302 and response["Location"] == "/quality/?sort=bad&tier=HIGH"
    hot.refresh_from_db()
    assert hot.sending_stopped and hot.stop_reason == "Bad reports climbing"
    event = AuditEvent.objects.filter(action="oa.kill_switch").latest("pk")
    assert event.details["reason"] == "Bad reports climbing"


def test_the_kill_switch_needs_a_reason_and_never_redirects_off_the_portfolio(board, client, quality_admin):
    client.force_login(quality_admin)
    calm = board["calm"]
    response = client.post(
        reverse("quotas:portfolio_stop", args=[calm.pk]), {"reason": " ", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("quotas:index")
    calm.refresh_from_db()
    assert not calm.sending_stopped
    response = client.post(
        reverse("quotas:portfolio_stop", args=[calm.pk]), {"reason": "ok", "next": "//evil.example/quality/"}
    )
    assert response["Location"] == reverse("quotas:index")
    response = client.post(reverse("quotas:portfolio_resume", args=[board["low"].pk]), {"reason": "Fixed"})
    board["low"].refresh_from_db()
    assert not board["low"].sending_stopped


def test_the_rows_group_digits_as_intcomma_does_in_each_language():
    for language in ("vi", "en"):
        with translation.override(language):
            group = portfolio._grouper()
            for value in (0, 7, 999, 1000, 12345, 1234567, -4500, 10**12):
                assert group(value) == intcomma(value), (language, value)
