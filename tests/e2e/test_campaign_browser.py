"""Campaigns in the browser (issues 12 and 13), screenshots in test-results/screenshots:

- a marketer composes a campaign, runs its pre-flight and submits it; a quality admin (a second
  user, in another browser context) approves it: scheduled;
- a quality admin approves a campaign, a real RQ worker process runs the start and dispatch jobs
  against the sandbox while the page polls, the bar reaches 100 % live, and a recipient's timeline
  shows each state.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from campaigns.models import Campaign, CampaignApproval, CampaignMessage
from tests.campaigns.test_dispatch import _worker_env, make_campaign
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "test-results" / "screenshots"
)
S = CampaignMessage.State

# Every value the page shows in [data-campaign-progress] (at load and each script update), kept in
# sessionStorage across the reloads the script does when the status changes.
RECORD_PERCENT = """
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.querySelector("[data-campaign-progress]");
  if (!panel || !panel.querySelector("progress")) return;
  const note = () => {
    const seen = JSON.parse(sessionStorage.getItem("percentSeen") || "[]");
    seen.push(panel.dataset.percent);
    sessionStorage.setItem("percentSeen", JSON.stringify(seen));
  };
  note();
  new MutationObserver(note).observe(panel, { attributes: true, attributeFilter: ["data-percent"] });
});
"""


def snap(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def awaiting_approval(marketer, quality_admin, n, **options) -> Campaign:
    """A campaign of `n` recipients (demo-oa-1 in the sandbox), written by the marketer, submitted."""
    campaign = make_campaign(n, quality_admin=quality_admin, **options)
    CampaignApproval.objects.filter(campaign=campaign).delete()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.AWAITING_APPROVAL, author=marketer)
    return campaign


def test_compose_preflight_submit_then_a_second_user_approves(
    live_server, watched_page, browser, marketer, quality_admin, sb
):
    # The OA, template and a list of 5 customers, as test_dispatch builds them (the draft is ours).
    seed = make_campaign(5, quality_admin=quality_admin)
    template, contact_list = seed.template, seed.audience_lists.get()
    seed.delete()
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, marketer.username, PASSWORD)

    page.goto(f"{live_server.url}/campaigns/new/")
    page.select_option("#id_template", str(template.pk))  # the composer reloads with its parameters
    page.wait_for_selector("fieldset.mapping-row[data-param=customer_name]")
    page.fill("#id_name", "Xác nhận đơn tháng 12")
    page.select_option("#id_oa", str(template.oa_id))
    page.select_option("#id_audience_lists", str(contact_list.pk))
    for param, source, key in (
        ("customer_name", "field", "name"),
        ("order_code", "attribute", "order"),
        ("amount", "attribute", "total"),
    ):
        page.select_option(f"#map-{param}-source", source)
        page.fill(f"#map-{param}-key", key)
    page.fill("#id_sending_speed_limit_amount", "100")
    snap(page, "campaign-compose")
    page.click("button.primary:has-text('Save draft')")
    page.wait_for_selector("[data-status=draft]")
    campaign = Campaign.objects.get(name="Xác nhận đơn tháng 12")
    assert campaign.author == marketer and campaign.mapping["order_code"]["key"] == "order"

    page.click("[data-testid=preflight-link]")
    page.click("[data-run-preflight]")
    page.wait_for_selector("[data-eligible]")
    assert page.inner_text("[data-eligible]") == "5"
    snap(page, "campaign-preflight")
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.click("button:has-text('Submit for approval')")
    page.wait_for_selector("[data-status=awaiting_approval]")
    # The author cannot approve; nobody sees an approve button on their own campaign.
    assert page.locator("button:has-text('Approve and schedule')").count() == 0
    assert page.problems == []

    context = browser.new_context(extra_http_headers={"Accept-Language": "en"})
    other = context.new_page()
    log_in(other, live_server, quality_admin.username, PASSWORD)
    other.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    other.click("button:has-text('Approve and schedule')")
    other.wait_for_selector("[data-status=scheduled]")
    assert "Approved for 5 recipient(s)" in other.inner_text("body")
    assert other.locator("[data-approval-hash]").count() == 1
    assert "Starts as soon as a worker picks it up" in other.inner_text("[data-testid=start-time]")
    snap(other, "campaign-approved-scheduled")
    context.close()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert CampaignApproval.objects.get(campaign=campaign).approver == quality_admin


def test_approve_send_watch_progress_reach_100_live_and_open_a_timeline(
    live_server, watched_page, marketer, quality_admin, sb
):
    # 60 recipients at 600 a minute (bursts of 10): about six seconds of sending, three polls.
    campaign = awaiting_approval(
        marketer, quality_admin, 60, sending_speed_limit_amount=600, sending_speed_limit_time_unit="MINUTE"
    )
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    page.add_init_script(RECORD_PERCENT)
    log_in(page, live_server, quality_admin.username, PASSWORD)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.click("button:has-text('Approve and schedule')")
    page.wait_for_selector("[data-status=scheduled]")

    # A real worker process (the one `make run` starts) runs the start and the dispatch jobs.
    env = _worker_env(sb, DISPATCH_BATCH_SIZE=5, DISPATCH_PARALLEL_JOBS=1)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default", "--burst", "--worker-class", "rq.SimpleWorker"],
        env=env,
        cwd=settings.BASE_DIR,
    )
    try:
        # The page reloads itself when the campaign starts, then the script moves the bar.
        page.wait_for_selector("progress", timeout=30_000)
        page.wait_for_function(
            "() => { const p = document.querySelector('[data-campaign-progress]');"
            " return p && Number(p.dataset.percent) > 0 && Number(p.dataset.percent) < 100; }",
            timeout=30_000,
        )
        snap(page, "campaign-sending")
        page.wait_for_selector("[data-testid=progress-status]:has-text('Completed')", timeout=60_000)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert page.locator("progress").get_attribute("value") == "100"
    assert page.inner_text("[data-testid=percent]") == "100"
    seen = [
        int(value) for value in page.evaluate("JSON.parse(sessionStorage.getItem('percentSeen') || '[]')")
    ]
    assert seen[-1] == 100 and any(0 < value < 100 for value in seen), seen
    assert seen == sorted(seen)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    accepted = CampaignMessage.objects.filter(campaign=campaign, state__in=(S.ACCEPTED, S.DELIVERED)).count()
    assert page.inner_text("[data-testid=sent]") == str(accepted) and accepted > 50
    snap(page, "campaign-completed")

    page.click("[data-testid=recipients-link]")
    page.wait_for_selector("[data-testid=recipients]")
    assert page.locator("[data-testid=timeline-link]").count() == 50
    page.select_option("#id_state", "accepted")
    page.click("button:has-text('Filter')")
    page.locator("[data-testid=timeline-link]").first.click()
    page.wait_for_selector("[data-testid=timeline]")
    states = [
        row.get_attribute("data-to-state") for row in page.locator("[data-testid=timeline] tbody tr").all()
    ]
    assert states == ["claimed", "sending", "accepted"]
    message = CampaignMessage.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    body = page.inner_text("body")
    assert message.tracking_id in body and message.phone not in body and "0" + message.phone[2:] not in body
    snap(page, "campaign-recipient-timeline")
    assert page.problems == []
