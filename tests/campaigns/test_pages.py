"""Campaign pages: list with status filter, compose, detail and its actions, through the client."""

import re

import pytest
from django.urls import reverse

from campaigns import approval, composer
from campaigns.models import Campaign
from compliance import actions
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(marketer, form_data):
    return composer.create_draft(actor=marketer, data=form_data).campaign


def test_the_list_filters_by_status(client, marketer, draft):
    client.force_login(marketer)
    page = client.get(reverse("campaigns:index"))
    assert page.status_code == 200 and "December orders" in page.text
    page = client.get(reverse("campaigns:index"), {"status": "scheduled"})
    assert "December orders" not in page.text and "No campaign with this status" in page.text


def test_compose_shows_field_level_errors_and_saves_nothing(client, marketer, form_data):
    client.force_login(marketer)
    page = client.get(reverse("campaigns:new"), {"template": form_data["template"]})
    assert (
        page.status_code == 200
        and "customer_name" in page.text
        and 'src="/static/js/campaign-compose.js"' in page.text
    )
    assert "<script>" not in page.text
    page = client.post(
        reverse("campaigns:new"),
        {**form_data, "validity_period_amount": "49", "validity_period_time_unit": "HOURS"},
    )
    assert page.status_code == 400
    assert "The validity period is at most 48 hours" in page.text
    assert not Campaign.objects.exists()
    page = client.post(reverse("campaigns:new"), form_data)
    campaign = Campaign.objects.get()
    assert page.status_code == 302 and page.url == reverse("campaigns:detail", args=[campaign.pk])


def test_autosave_endpoint_answers_json_and_audits(client, marketer, draft, form_data):
    client.force_login(marketer)
    answer = client.post(
        reverse("campaigns:autosave", args=[draft.pk]),
        {**form_data, "name": "Typed", "notify_url": "ftp://x"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["saved"] and body["changed"] == ["name"] and "notify_url" in body["errors"]
    assert AuditEvent.objects.filter(action=actions.CAMPAIGN_AUTOSAVE).count() == 1
    assert client.get(reverse("campaigns:autosave", args=[draft.pk])).status_code == 405


def test_submit_then_another_person_approves_through_the_pages(client, marketer, quality_admin, draft):
    client.force_login(marketer)
    client.post(reverse("campaigns:submit", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.AWAITING_APPROVAL
    page = client.get(reverse("campaigns:detail", args=[draft.pk]))
    assert "Approve and schedule" not in page.text  # a marketer cannot approve
    client.force_login(quality_admin)
    page = client.get(reverse("campaigns:detail", args=[draft.pk]))
    assert "Approve and schedule" in page.text and "Reject" in page.text
    client.post(reverse("campaigns:reject", args=[draft.pk]), {"reason": ""})
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.AWAITING_APPROVAL
    client.post(reverse("campaigns:reject", args=[draft.pk]), {"reason": "Fix the window"})
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.REJECTED
    page = client.get(reverse("campaigns:detail", args=[draft.pk]))
    assert "Fix the window" in page.text


def test_the_detail_page_shows_a_live_approval_hash(client, auditor, marketer, quality_admin, draft):
    composer.submit_for_approval(draft.pk, actor=marketer)
    record = approval.approve_campaign(draft.pk, user=quality_admin, phones=["84912345678"])
    client.force_login(auditor)
    page = client.get(reverse("campaigns:detail", args=[draft.pk]))
    assert page.status_code == 200 and record.approval_hash in page.text
    assert "Submit for approval" not in page.text and "Edit" not in page.text


def test_clone_through_the_page_opens_the_copy(client, marketer, draft):
    client.force_login(marketer)
    answer = client.post(reverse("campaigns:clone", args=[draft.pk]))
    copy = Campaign.objects.exclude(pk=draft.pk).get()
    assert answer.url == reverse("campaigns:edit", args=[copy.pk])
    assert client.get(answer.url).status_code == 200


def test_the_list_shows_50_campaigns_a_page_newest_first_with_links_both_ways(client, marketer, draft):
    from datetime import timedelta

    from django.utils import timezone

    base = timezone.now() - timedelta(days=1)
    copies = [
        Campaign(oa=draft.oa, template=draft.template, name=f"Copy {n:03d}", author=marketer)
        for n in range(119)
    ]
    Campaign.objects.bulk_create(copies)
    for n, campaign in enumerate(Campaign.objects.filter(name__startswith="Copy ")):
        # Pairs of campaigns share one instant (ties broken by id).
        Campaign.objects.filter(pk=campaign.pk).update(created_at=base + timedelta(minutes=n // 2))
    expected = list(Campaign.objects.order_by("-created_at", "-pk").values_list("pk", flat=True))
    client.force_login(marketer)

    def ids(page):
        return [int(pk) for pk in re.findall(r'<a href="/campaigns/(\d+)/">', page.text)]

    def link(page, testid):
        found = re.search(rf'<a href="([^"]+)" data-testid="{testid}">', page.text)
        return reverse("campaigns:index") + found.group(1).replace("&amp;", "&") if found else None

    pages, url = [], reverse("campaigns:index")
    while url:
        pages.append(client.get(url))
        url = link(pages[-1], "next-page")
    assert [pk for page in pages for pk in ids(page)] == expected and len(pages) == 3
    back = client.get(link(pages[2], "previous-page"))
    assert ids(back) == ids(pages[1])
    assert link(pages[0], "previous-page") is None
    drafts = client.get(reverse("campaigns:index"), {"status": "draft"})
    assert "status=draft" in link(drafts, "next-page")
