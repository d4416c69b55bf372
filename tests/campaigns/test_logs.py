"""The message log across campaigns: keyset pagination (ties on time included), every filter, the page."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from campaigns import logs
from campaigns.models import Campaign, CampaignMessage
from oas.models import MessageTemplate, OfficialAccount

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 Vietnam time


@pytest.fixture
def log_rows(db):
    """Two OAs, three campaigns, 137 messages; every 5 consecutive rows share one created_at (ties)."""
    oas = [OfficialAccount.objects.create(name=f"Log OA {i}", zalo_oa_id=f"log-oa-{i}") for i in range(2)]
    templates = [
        MessageTemplate.objects.create(oa=oa, template_id=f"t{oa.pk}", name="T", tag=1) for oa in oas
    ]
    campaigns = [
        Campaign.objects.create(oa=oas[0], template=templates[0], name="A1"),
        Campaign.objects.create(oa=oas[0], template=templates[0], name="A2"),
        Campaign.objects.create(oa=oas[1], template=templates[1], name="B1"),
    ]
    states = ["delivered", "delivered", "failed", "accepted", "unconfirmed", "queued", "expired"]
    errors = [("PHONE_INVALID", "-108"), ("USER_BLOCKED", "-118")]
    rows = []
    for n in range(137):
        state = states[n % len(states)]
        error, provider = errors[n % 2] if state == "failed" else ("", "")
        rows.append(
            CampaignMessage(
                campaign=campaigns[n % 3],
                phone=f"8491{n % 50:07d}",
                tracking_id=f"log-{n}",
                state=state,
                error_code=error,
                provider_error_code=provider,
            )
        )
    created = CampaignMessage.objects.bulk_create(rows)
    for n, message in enumerate(created):
        # Hour steps across Vietnam midnights, five rows per instant.
        CampaignMessage.objects.filter(pk=message.pk).update(created_at=T0 + timedelta(hours=3 * (n // 5)))
    return {"oas": oas, "campaigns": campaigns}


def _expected(predicate=lambda row: True):
    rows = [row for row in CampaignMessage.objects.select_related("campaign").all() if predicate(row)]
    return [row.pk for row in sorted(rows, key=lambda row: (row.created_at, row.pk), reverse=True)]


def _walk(log_filter, size):
    pages, after = [], None
    while True:
        page = logs.page(log_filter, after=after, size=size)
        pages.append(page)
        if page.next_after is None:
            return pages
        after = page.next_after


def test_keyset_pages_cover_every_row_once_in_order_with_ties(log_rows):
    pages = _walk(logs.LogFilter(), size=10)
    seen = [row["id"] for page in pages for row in page.rows]
    assert seen == _expected()
    assert len(seen) == len(set(seen)) == 137
    assert len(pages) == 14
    assert pages[0].previous_before is None
    assert all(page.previous_before for page in pages[1:])


def test_previous_links_walk_back_through_the_same_pages(log_rows):
    pages = _walk(logs.LogFilter(), size=10)
    before = pages[-1].previous_before
    for expected in reversed(pages[:-1]):
        page = logs.page(logs.LogFilter(), before=before, size=10)
        assert [row["id"] for row in page.rows] == [row["id"] for row in expected.rows]
        assert page.next_after is not None
        before = page.previous_before
    assert before is None  # back at the top


def test_a_page_of_ties_splits_inside_one_instant(log_rows):
    # Size 3 cuts every group of five equal times: still every row once.
    seen = [row["id"] for page in _walk(logs.LogFilter(), size=3) for row in page.rows]
    assert seen == _expected()


def test_a_malformed_cursor_starts_at_the_top(log_rows):
    top = logs.page(logs.LogFilter(), size=5)
    for garbage in ("", "abc", "1.", ".5", "99999999999999999999.1", "-1.x"):
        assert [row["id"] for row in logs.page(logs.LogFilter(), after=garbage, size=5).rows] == [
            row["id"] for row in top.rows
        ]


def test_cursor_round_trip():
    cursor = logs.Cursor(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), 42)
    assert logs.Cursor.parse(str(cursor)) == cursor


def _parsed(**params):
    parsed = logs.parse_filter(params)
    assert not parsed.errors, parsed.errors
    return parsed.filter


def test_each_filter_and_a_combination(log_rows):
    oa0, oa1 = log_rows["oas"]
    a1, _a2, b1 = log_rows["campaigns"]
    vn_day = date(2026, 11, 21)  # Vietnam calendar day: 2026-11-20 17:00 UTC .. 2026-11-21 17:00 UTC
    start = datetime(2026, 11, 20, 17, tzinfo=UTC)
    end = start + timedelta(days=1)
    cases = [
        (_parsed(oa=str(oa0.pk)), lambda r: r.campaign.oa_id == oa0.pk),
        (_parsed(oa=str(oa1.pk)), lambda r: r.campaign.oa_id == oa1.pk),
        (_parsed(campaign=str(a1.pk)), lambda r: r.campaign_id == a1.pk),
        (_parsed(state="failed"), lambda r: r.state == "failed"),
        (_parsed(phone="0910 000 007"), lambda r: r.phone == "84910000007"),
        (_parsed(phone="+84910000007"), lambda r: r.phone == "84910000007"),
        (_parsed(date_from="2026-11-21", date_to="2026-11-21"), lambda r: start <= r.created_at < end),
        (_parsed(date_from="2026-11-22"), lambda r: r.created_at >= end),
        (_parsed(date_to=vn_day.isoformat()), lambda r: r.created_at < end),
        (_parsed(error_code="PHONE_INVALID"), lambda r: r.error_code == "PHONE_INVALID"),
        (_parsed(error_code="-118"), lambda r: r.provider_error_code == "-118"),
        (
            _parsed(oa=str(oa1.pk), state="failed", error_code="-108", date_from="2026-11-21"),
            lambda r: (
                r.campaign_id == b1.pk
                and r.state == "failed"
                and r.provider_error_code == "-108"
                and r.created_at >= start
            ),
        ),
    ]
    for log_filter, predicate in cases:
        expected = _expected(predicate)
        assert expected, log_filter  # each case selects something, and not everything
        assert len(expected) < 137, log_filter
        seen = [row["id"] for page in _walk(log_filter, size=7) for row in page.rows]
        assert seen == expected, log_filter


def test_an_oa_filter_merges_its_campaigns_in_order_both_ways_and_in_chunks(log_rows):
    # The OA filter alone (or with dates) reads each of the OA's campaigns and merges (logs._merged_ids).
    oa0 = log_rows["oas"][0]
    # A third campaign of the OA, newer than every other row: its rows alone fill the first pages.
    a3 = Campaign.objects.create(oa=oa0, template=log_rows["campaigns"][0].template, name="A3")
    CampaignMessage.objects.bulk_create(
        CampaignMessage(campaign=a3, phone=f"8493{n:07d}", tracking_id=f"log-a3-{n}") for n in range(11)
    )
    CampaignMessage.objects.filter(campaign=a3).update(created_at=T0 + timedelta(days=30))
    start = datetime(2026, 11, 20, 17, tzinfo=UTC)
    for log_filter, predicate in [
        (_parsed(oa=str(oa0.pk)), lambda r: r.campaign.oa_id == oa0.pk),
        (
            _parsed(oa=str(oa0.pk), date_from="2026-11-21"),
            lambda r: r.campaign.oa_id == oa0.pk and r.created_at >= start,
        ),
        (
            _parsed(oa=str(oa0.pk), state="queued"),
            lambda r: r.campaign.oa_id == oa0.pk and r.state == "queued",
        ),
        (
            _parsed(oa=str(oa0.pk), state="failed"),
            lambda r: r.campaign.oa_id == oa0.pk and r.state == "failed",
        ),
    ]:
        assert logs._by_campaigns(log_filter)
        expected = _expected(predicate)
        pages = _walk(log_filter, size=4)  # 4 cuts the groups of equal times, inside and across campaigns
        assert [row["id"] for page in pages for row in page.rows] == expected
        before = pages[-1].previous_before
        for page in reversed(pages[:-1]):
            back = logs.page(log_filter, before=before, size=4)
            assert [row["id"] for row in back.rows] == [row["id"] for row in page.rows]
            before = back.previous_before
        assert before is None
        chunks = list(logs.iter_chunks(log_filter, size=6, columns=("id", "created_at")))
        assert [row[0] for chunk in chunks for row in chunk] == expected


@pytest.mark.parametrize("merge_max", [2000, 1])
def test_a_teams_log_holds_only_its_campaigns_merged_or_walked(log_rows, monkeypatch, merge_max):
    from teams.models import Team

    oa0, oa1 = log_rows["oas"]
    other = Team.objects.create(name="Other team")
    OfficialAccount.objects.filter(pk=oa1.pk).update(team=other)
    monkeypatch.setattr(logs, "MERGE_MAX_CAMPAIGNS", merge_max)  # 1: too many campaigns, walk instead
    for teams, oa, campaigns in (((oa0.team_id,), oa0, 2), ((other.pk,), oa1, 1)):
        log_filter = logs.LogFilter(teams=teams)
        assert logs._by_campaigns(log_filter) == (campaigns <= merge_max)
        expected = _expected(lambda r, oa=oa: r.campaign.oa_id == oa.pk)
        assert [row["id"] for page in _walk(log_filter, size=4) for row in page.rows] == expected
        chunks = logs.iter_chunks(log_filter, size=5, columns=("id", "created_at"))
        assert [row[0] for chunk in chunks for row in chunk] == expected
    assert logs.page(logs.LogFilter(teams=())).rows == []


def test_the_date_range_is_vietnam_days(log_rows):
    # 2026-11-20 17:00 UTC is 00:00 on the 21st in Vietnam: it belongs to the 21st, not the 20th.
    log_filter = _parsed(date_from="2026-11-20", date_to="2026-11-20")
    times = {row["created_at"] for page in _walk(log_filter, 50) for row in page.rows}
    assert max(times) < datetime(2026, 11, 20, 17, tzinfo=UTC)
    assert min(times) == T0


def test_bad_filter_values_are_errors_naming_the_field():
    parsed = logs.parse_filter(
        {"phone": "12ab", "state": "nope", "oa": "x", "date_from": "2026-13-01", "error_code": "E" * 65}
    )
    assert set(parsed.errors) == {"phone", "state", "oa", "date_from", "error_code"}
    parsed = logs.parse_filter({"date_from": "2026-11-22", "date_to": "2026-11-21"})
    assert set(parsed.errors) == {"date_to"}


def test_filter_round_trips_through_json():
    log_filter = _parsed(
        oa="3", state="failed", phone="0912345678", date_from="2026-11-01", error_code="-108"
    )
    assert logs.LogFilter.from_dict(log_filter.as_dict()) == log_filter


@pytest.mark.parametrize("role", ["marketer", "quality_admin", "auditor"])
def test_the_page_shows_masked_phones_to_every_role(client, role_users, log_rows, role):
    client.force_login(role_users[role])
    response = client.get(reverse("campaigns:logs"), {"phone": "0910.000.007"})
    assert response.status_code == 200
    assert len(response.context["page"].rows) == 3
    html = response.content.decode()
    assert html.count("0910***007") == 3
    assert "0910000007" not in html
    assert "84910000007" not in html


def test_the_page_links_older_and_newer_pages(client, marketer, log_rows):
    client.force_login(marketer)
    oa = log_rows["oas"][0]  # 92 of the 137 rows: two pages of 50
    first = client.get(reverse("campaigns:logs"), {"oa": oa.pk})
    assert first.status_code == 200
    assert first.context["previous_url"] == ""
    next_url = first.context["next_url"]
    assert f"oa={oa.pk}" in next_url and "after=" in next_url
    second = client.get(reverse("campaigns:logs") + next_url)
    ids_first = [row["id"] for row in first.context["page"].rows]
    ids_second = [row["id"] for row in second.context["page"].rows]
    assert not set(ids_first) & set(ids_second)
    assert len(ids_first) + len(ids_second) == 92
    back = client.get(reverse("campaigns:logs") + second.context["previous_url"])
    assert [row["id"] for row in back.context["page"].rows] == ids_first


def test_a_bad_phone_shows_its_reason_and_no_rows(client, marketer, log_rows):
    client.force_login(marketer)
    response = client.get(reverse("campaigns:logs"), {"phone": "12ab"})
    assert response.status_code == 200
    assert response.context["page"] is None
    assert 'data-testid="phone-error"' in response.content.decode()
