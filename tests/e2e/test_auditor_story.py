"""An auditor in the browser (issue 15): finds a message of a campaign sent through the sandbox by its
tracking id and by phone, opens its story, requests the campaign's evidence pack, follows its build,
downloads the ZIP and verifies it with `python manage.py verify_evidence_pack FILE` as a process.
Screenshots of each step go to test-results/screenshots/auditor-story-*.png."""

import os
import subprocess
import sys

import django_rq
import pytest
from rq import SimpleWorker

from campaigns.models import CampaignMessage
from compliance import actions
from compliance.models import AuditEvent, EvidencePack
from tests.compliance.evidence_helpers import sent_campaign
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in
from tests.e2e.test_two_factor_browser import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _run_jobs():
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_an_auditor_finds_a_message_reads_its_story_and_verifies_the_campaigns_evidence_pack(
    watched_page, live_server, auditor, quality_admin, sb, settings, tmp_path
):
    settings.JOBS_IN_PROCESS = False
    campaign, grant = sent_campaign(quality_admin)
    django_rq.get_queue("default").empty()
    message = CampaignMessage.objects.filter(campaign=campaign).order_by("phone").first()  # the delivered one
    page = watched_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(page, live_server, auditor.username, PASSWORD)

    # 1. Find the message by its tracking id, then by the phone as people write it.
    page.goto(f"{live_server.url}/compliance/messages/")
    page.fill("#id_q", message.tracking_id)
    page.click("form[role=search] button")
    results = page.locator("[data-testid=message-results] tbody tr")
    assert results.count() == 1
    row = results.first.inner_text()
    assert message.tracking_id in row and f"#{campaign.pk}" in row
    assert message.phone not in row and "***" in row  # the phone is masked
    shot(page, "auditor-story-1-found-by-tracking-id")
    page.fill("#id_q", "0" + message.phone[2:])
    page.click("form[role=search] button")
    assert page.locator("[data-testid=message-results] tbody tr").count() == 1
    shot(page, "auditor-story-2-found-by-phone")

    # 2. Its story: campaign, approval, the consent that allowed it, the timeline.
    page.click("text=Open its story")
    page.wait_for_url(f"{live_server.url}/compliance/messages/{message.pk}/")
    story = page.inner_text("main")
    assert campaign.name in story and message.tracking_id in story
    assert grant.wording in story and grant.evidence_text in story
    assert "Delivered" in story
    shot(page, "auditor-story-3-story")

    # 3. The campaign's evidence pack: requested from the story, built by the job, downloaded.
    page.click("[data-testid=evidence-link]")
    page.wait_for_url(f"{live_server.url}/compliance/evidence/?**")
    assert page.input_value("#id_campaign") == str(campaign.pk)
    page.fill("#id_reason", "Regulator request 2026/41")
    shot(page, "auditor-story-4-request-pack")
    page.click("[data-testid=request-pack]")
    pack = EvidencePack.objects.get()
    page.wait_for_url(f"{live_server.url}/compliance/evidence/{pack.pk}/")
    shot(page, "auditor-story-5-pack-building")
    _run_jobs()
    page.locator("[data-testid=download-pack]").wait_for(timeout=20_000)  # the progress poll shows it
    assert page.inner_text("[data-testid=pack-status]") == "Ready"
    shot(page, "auditor-story-6-pack-ready")
    with page.expect_download() as download_info:
        page.click("[data-testid=download-pack]")
    download = download_info.value
    assert download.suggested_filename == f"evidence-pack-{pack.pk}.zip"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert AuditEvent.objects.filter(action=actions.EVIDENCE_PACK_DOWNLOAD, actor="user:auditor").exists()

    # 4. The downloaded file verifies, as a process; one changed byte does not.
    def verify(file):
        return subprocess.run(
            [sys.executable, "manage.py", "verify_evidence_pack", str(file)],
            cwd=settings.BASE_DIR, env={**os.environ, "AUDIT_SIGNING_KEY": settings.AUDIT_SIGNING_KEY},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    intact = verify(path)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith(f"evidence pack intact: pack #{pack.pk}"), intact.stdout
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    (tmp_path / "changed.zip").write_bytes(bytes(data))
    changed = verify(tmp_path / "changed.zip")
    assert changed.returncode != 0 and "Traceback" not in changed.stderr, changed.stderr
    assert page.problems == []
