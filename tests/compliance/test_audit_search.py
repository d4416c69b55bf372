"""The auditor's audit-log search (compliance.search, /compliance/): filters, an object's history,
keyset pages that lose and repeat nothing, and clear refusals of bad filter values."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance import actions, search
from compliance.models import AuditEvent
from compliance.services import record_audit_event


def _entries(n, *, actor="system:test", target_id=1):
    return [
        record_audit_event(
            actor=actor,
            action=actions.CAMPAIGN_RESUME,
            target_type="campaigns.campaign",
            target_id=target_id,
            details={"campaign_id": target_id},
        )
        for _ in range(n)
    ]


@pytest.mark.django_db
def test_keyset_pages_walk_the_whole_filter_without_loss_or_repeat():
    _entries(120, target_id=7)
    _entries(30, target_id=8, actor="user:quality")
    wanted = search.parse_filter({"target_type": "campaigns.campaign", "target_id": "7"})
    seen, cursor, pages = [], None, []
    while True:
        found = search.page(wanted, before=cursor)
        pages.append(found)
        seen += [e.seq for e in found.entries]
        if found.older is None:
            break
        cursor = found.older
    assert len(seen) == len(set(seen)) == 120 and seen == sorted(seen, reverse=True)
    assert [len(p.entries) for p in pages] == [50, 50, 20]
    back = search.page(wanted, after=pages[2].entries[0].seq)  # "newer" from the last page
    assert [e.seq for e in back.entries] == [e.seq for e in pages[1].entries]
    first = search.page(wanted, after=pages[1].entries[0].seq)
    assert first.newer is None and [e.seq for e in first.entries] == [e.seq for e in pages[0].entries]
    assert {e.actor for e in search.page(search.parse_filter({"actor": "user:quality"})).entries} == {
        "user:quality"
    }


@pytest.mark.django_db
def test_days_are_vietnam_days_and_bad_values_are_named():
    [entry] = _entries(1)
    today = timezone.localdate(entry.occurred_at)
    assert search.page(search.parse_filter({"from": today.isoformat(), "to": today.isoformat()})).entries
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert not search.page(search.parse_filter({"from": tomorrow})).entries
    bad = search.parse_filter({"from": "31/12/2026", "action": "drop.table", "to": "2026-01-01"})
    assert set(bad.errors) == {"from", "action"} and bad.action == "" and bad.day_from is None
    backwards = search.parse_filter({"from": "2026-02-01", "to": "2026-01-01"})
    assert "to" in backwards.errors and backwards.day_to is None


@pytest.mark.django_db
def test_the_page_filters_shows_an_object_history_and_pages_with_cursors(client, auditor):
    _entries(60, target_id=5)
    client.force_login(auditor)
    html = client.get(
        reverse("compliance:index"), {"target_type": "campaigns.campaign", "target_id": "5"}
    ).content
    html = html.decode()
    assert 'data-testid="object-history"' in html and "before=" in html
    oldest_shown = AuditEvent.objects.order_by("-seq")[49].seq
    older = client.get(
        reverse("compliance:index"),
        {"target_type": "campaigns.campaign", "target_id": "5", "before": oldest_shown},
    ).content.decode()
    assert older.count("<tr>") == 1 + 10 and "after=" in older
    refused = client.get(reverse("compliance:index"), {"action": "nope", "from": "x"}).content.decode()
    assert "unknown action" in refused and "is not a date" in refused
