"""Campaign progress, control and per-recipient pages (campaigns.progress_views), on campaigns the
real dispatcher starts and sends through the sandbox."""

import re
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import dispatch
from campaigns.models import Campaign, CampaignDispatch, CampaignMessage
from compliance import actions
from compliance.models import AuditEvent
from quotas.services.rollups import record_bad_report
from tests.campaigns.test_dispatch import drain, make_campaign, phones, states

S = CampaignMessage.State
pytestmark = pytest.mark.django_db(transaction=True)


def progress(client, campaign):
    response = client.get(reverse("campaigns:progress", args=[campaign.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-cache" in response.get("Cache-Control", "")
    return response.json()


def pause_events(campaign):
    return AuditEvent.objects.filter(
        action=actions.CAMPAIGN_PAUSE, target_type="campaigns.campaign", target_id=str(campaign.pk)
    )


def test_progress_figures_follow_the_message_rows_from_start_to_100_percent(client, quality_admin, sb):
    campaign = make_campaign(8, quality_admin=quality_admin)
    client.force_login(quality_admin)
    before = progress(client, campaign)
    assert (before["status"], before["started"], before["total"], before["percent"]) == (
        "scheduled",
        False,
        0,
        0,
    )

    dispatch.start_campaign(campaign.pk)
    started = progress(client, campaign)
    assert (started["status"], started["total"], started["queued"], started["percent"]) == (
        "running",
        8,
        8,
        0,
    )
    assert started["eta"] is None and started["sent"] == 0

    drain(campaign)
    counts = states(campaign)
    record_bad_report(campaign.oa_id, timezone.now(), 2, campaign.pk, campaign.template_id, 1)
    done = progress(client, campaign)
    assert done["status"] == "completed" and done["finished"] is True
    assert done["percent"] == 100 and done["done"] == done["total"] == 8
    assert done["sent"] == counts.get(S.ACCEPTED, 0) + counts.get(S.DELIVERED, 0)
    assert done["failed"] == counts.get(S.FAILED, 0) and done["queued"] == done["in_flight"] == 0
    assert done["bad_reports"] == 2
    assert done["rate"] is not None and done["rate"] > 0


def test_the_detail_page_renders_the_figures_without_javascript(client, marketer, quality_admin, sb):
    campaign = make_campaign(6, quality_admin=quality_admin, sending_speed_limit_amount=60)
    dispatch.start_campaign(campaign.pk)
    dispatch.run_batch(campaign.pk)  # the speed limit's burst lets a few through, then it waits
    client.force_login(marketer)
    html = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    figures = progress(client, campaign)
    assert f'<progress class="import-progress" max="100" value="{figures["percent"]}"' in html
    assert f'data-field="queued">{figures["queued"]}<' in html
    assert f'data-field="sent" data-testid="sent">{figures["sent"]}<' in html
    assert 'data-testid="refresh"' in html and "js/campaign-progress.js" in html
    assert reverse("campaigns:recipients", args=[campaign.pk]) in html
    # No full phone number anywhere on the page.
    assert not any(p in html or "0" + p[2:] in html for p in phones(6))


def test_the_waiting_reason_and_its_end_are_shown(client, quality_admin, sb):
    now = timezone.now()
    local = now.astimezone(dispatch.eligibility.VIETNAM)
    opens = (local + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    campaign = make_campaign(
        2, quality_admin=quality_admin, delivery_from_hour=opens.hour, delivery_from_minute=0,
        delivery_to_hour=(opens.hour + 1) % 24, delivery_to_minute=0,
    )  # fmt: skip
    dispatch.start_campaign(campaign.pk)
    assert dispatch.run_batch(campaign.pk).reason == "window"
    client.force_login(quality_admin)
    figures = progress(client, campaign)
    assert figures["wait_reason"] == "window" and "delivery window" in figures["waiting"]
    assert figures["display"]["wait_until"] == opens.strftime("%d/%m/%Y %H:%M:%S")  # Vietnam time
    html = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "outside the delivery window" in html and opens.strftime("%d/%m/%Y %H:%M:%S") in html


def test_a_pause_needs_a_reason_and_shows_it_with_who_and_when(client, quality_admin, sb, settings):
    settings.DISPATCH_BATCH_SIZE = 3
    campaign = make_campaign(7, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    dispatch.run_batch(campaign.pk)
    client.force_login(quality_admin)
    url = reverse("campaigns:pause", args=[campaign.pk])

    response = client.post(url, {"reason": "   "}, follow=True)
    assert "Say why the campaign is paused" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING and not pause_events(campaign).exists()
    response = client.post(url, {"reason": "x" * 501}, follow=True)
    assert "at most 500 characters" in response.content.decode()

    response = client.post(url, {"reason": "Khách phàn nàn về nội dung"}, follow=True)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert campaign.pause_reason == "Paused by quality: Khách phàn nàn về nội dung"
    event = pause_events(campaign).get()
    assert event.actor == "user:quality" and event.details["reason"] == campaign.pause_reason
    html = response.content.decode()
    assert "Khách phàn nàn về nội dung" in html and "by user:quality at" in html
    assert 'data-testid="resume"' in html and 'data-testid="pause"' not in html
    assert dispatch.run_batch(campaign.pk).kind == "stop"
    assert progress(client, campaign)["pause_reason"] == campaign.pause_reason

    client.post(reverse("campaigns:resume", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    drain(campaign)
    assert sum(states(campaign).values()) == 7 and S.QUEUED not in states(campaign)
    ours = set(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", flat=True))
    ledger = [row["tracking_id"] for row in sb.ledger() if row["tracking_id"] in ours]
    assert len(ledger) == len(set(ledger))  # nothing sent twice across the pause


def test_an_automatic_pause_shows_the_dispatchers_reason(client, marketer, quality_admin, sb):
    campaign = make_campaign(2, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    from campaigns.services import pause_campaigns_of_template

    pause_campaigns_of_template(
        template_id=campaign.template_id, reason="Template 100001 is no longer ENABLED", actor="system:sync"
    )
    client.force_login(marketer)
    html = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Template 100001 is no longer ENABLED" in html and "by system:sync at" in html
    assert 'data-testid="resume"' not in html  # a marketer does not resume (approve_campaigns)


def test_who_may_pause_resume_cancel_and_start(client, marketer, quality_admin, sb):
    campaign = make_campaign(2, quality_admin=quality_admin)
    client.force_login(marketer)
    assert client.post(reverse("campaigns:pause", args=[campaign.pk]), {"reason": "x"}).status_code == 403
    assert client.post(reverse("campaigns:resume", args=[campaign.pk])).status_code == 403
    client.force_login(quality_admin)
    assert client.post(reverse("campaigns:cancel", args=[campaign.pk]), {"confirm": "yes"}).status_code == 403
    assert client.post(reverse("campaigns:start_now", args=[campaign.pk])).status_code == 403
    html = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="pause"' in html and 'data-testid="cancel"' not in html
    client.force_login(marketer)
    html = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="cancel"' in html and 'data-testid="start-now"' in html
    assert 'data-testid="pause"' not in html


def test_cancel_needs_the_confirmation_and_fails_what_was_not_sent(client, marketer, quality_admin, sb):
    campaign = make_campaign(4, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    client.force_login(marketer)
    url = reverse("campaigns:cancel", args=[campaign.pk])
    response = client.post(url, {}, follow=True)
    assert "Tick the box to confirm" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    response = client.post(url, {"confirm": "yes"}, follow=True)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert "4 message(s) will not be sent" in response.content.decode()
    assert states(campaign) == {S.FAILED: 4}
    assert set(CampaignMessage.objects.filter(campaign=campaign).values_list("error_code", flat=True)) == {
        dispatch.CANCELLED
    }
    assert AuditEvent.objects.filter(action=actions.CAMPAIGN_CANCEL, actor="user:marketer").count() == 1


def test_approving_hands_the_start_to_a_worker_and_start_now_does_too(client, marketer, quality_admin, sb):
    campaign = make_campaign(2, quality_admin=quality_admin)
    queue = django_rq.get_queue("default")
    client.force_login(marketer)
    client.post(reverse("campaigns:start_now", args=[campaign.pk]))
    assert [job.func_name for job in queue.jobs] == [dispatch.START_JOB]
    assert not CampaignDispatch.objects.filter(campaign=campaign).exists()  # the worker starts it
    # A campaign scheduled for later is not started early.
    Campaign.objects.filter(pk=campaign.pk).update(send_at=timezone.now() + timedelta(days=1))
    response = client.post(reverse("campaigns:start_now", args=[campaign.pk]), follow=True)
    assert "scheduled for later" in response.content.decode() and len(queue.jobs) == 1


def test_recipients_are_paged_by_key_filtered_by_state_and_masked(client, marketer, quality_admin, sb):
    campaign = make_campaign(53, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    first = CampaignMessage.objects.filter(campaign=campaign).order_by("pk")[:2]
    dispatch.transition([m.pk for m in first], S.QUEUED, S.FAILED, values={"error_code": "TEST"})
    client.force_login(marketer)
    url = reverse("campaigns:recipients", args=[campaign.pk])
    html = client.get(url).content.decode()
    assert html.count('data-testid="timeline-link"') == 50
    assert not any(p in html or "0" + p[2:] in html for p in phones(53))
    assert "0912***000" in html
    after = re.search(r'after=(\d+)" data-testid="next-page"', html).group(1)
    html = client.get(url, {"after": after}).content.decode()
    assert html.count('data-testid="timeline-link"') == 3 and 'data-testid="next-page"' not in html
    html = client.get(url, {"state": "failed"}).content.decode()
    assert html.count('data-testid="timeline-link"') == 2 and "TEST" in html
    html = client.get(url, {"state": "bogus", "after": "x"}).content.decode()
    assert html.count('data-testid="timeline-link"') == 50  # bad filters are ignored, not a 500


def test_a_recipients_timeline_lists_every_state_with_its_time_and_codes(client, marketer, quality_admin, sb):
    campaign = make_campaign(3, quality_admin=quality_admin)
    dispatch.start_campaign(campaign.pk)
    drain(campaign)
    message = CampaignMessage.objects.filter(campaign=campaign, state=S.ACCEPTED).first()
    client.force_login(marketer)
    url = reverse("campaigns:timeline", args=[campaign.pk, message.pk])
    html = client.get(url).content.decode()
    states_seen = re.findall(r'data-to-state="(\w+)"', html)
    assert states_seen == ["claimed", "sending", "accepted"]
    sending = message.events.get(to_state=S.SENDING)
    assert sending.at.astimezone(dispatch.eligibility.VIETNAM).strftime("%d/%m/%Y %H:%M:%S") in html
    assert message.tracking_id in html and message.provider_message_id in html
    assert message.phone not in html and "0" + message.phone[2:] not in html
    # Another campaign's message id is not found under this campaign.
    other = make_campaign_message_elsewhere(quality_admin)
    assert client.get(reverse("campaigns:timeline", args=[campaign.pk, other.pk])).status_code == 404


def make_campaign_message_elsewhere(quality_admin):
    campaign = Campaign.objects.create(
        oa=Campaign.objects.first().oa,
        template=Campaign.objects.first().template,
        name="Other",
        status=Campaign.Status.RUNNING,
    )
    return CampaignMessage.objects.create(campaign=campaign, phone="84919999999", tracking_id="c0-other")


def test_the_demo_campaigns_are_real_and_seeding_twice_adds_nothing(client):
    import io

    from django.core.management import call_command

    from zalo_admin import demo

    call_command("seed_demo", stdout=io.StringIO())
    finished = Campaign.objects.get(name=demo.DEMO_FINISHED)
    assert finished.status == Campaign.Status.COMPLETED and finished.author.username == "marketer"
    counts = states(finished)
    assert set(counts) == {S.DELIVERED, S.ACCEPTED, S.FAILED} and sum(counts.values()) == 40
    message = CampaignMessage.objects.filter(campaign=finished, state=S.DELIVERED).order_by("pk").first()
    # The first delivered message also carries the demo's one bad report (a timeline entry).
    assert list(message.events.values_list("to_state", "error_code")) == [
        ("claimed", ""),
        ("sending", ""),
        ("accepted", ""),
        ("delivered", ""),
        ("delivered", "BAD_REPORT"),
    ]
    assert AuditEvent.objects.filter(action=actions.CAMPAIGN_COMPLETE, target_id=str(finished.pk)).exists()
    live = Campaign.objects.get(name=demo.DEMO_LIVE)
    assert live.status == Campaign.Status.SCHEDULED and live.approvals.filter(voided_at__isnull=True).exists()
    assert (
        live.send_at > timezone.now() and live.sending_speed_limit_amount == demo.DEMO_LIVE_SPEED_PER_MINUTE
    )
    queue = django_rq.get_queue("default")
    assert (dispatch.START_JOB, [live.pk]) in [(job.func_name, list(job.args)) for job in queue.jobs]
    assert Campaign.objects.get(name=demo.DEMO_AWAITING).status == Campaign.Status.AWAITING_APPROVAL
    assert not Campaign.objects.filter(status=Campaign.Status.RUNNING, dispatch__isnull=True).exists()
    # The start job, run now (before `send at`), schedules it; nothing is created early.
    assert dispatch.start_campaign(live.pk).reason == "scheduled for later"
    total = (Campaign.objects.count(), CampaignMessage.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Campaign.objects.count(), CampaignMessage.objects.count()) == total
    client.force_login(finished.author)
    figures = progress(client, finished)
    assert figures["percent"] == 100 and figures["bad_reports"] == 1 and figures["rate"] > 0
