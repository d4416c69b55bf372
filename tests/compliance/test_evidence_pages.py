"""Evidence pack pages (compliance.evidence_views): an auditor requests a pack, follows its build on
the progress page and downloads it; requests and downloads are audited; bad input changes nothing."""

import io
import zipfile

import django_rq
import pytest
from django.db import connection
from django.urls import reverse
from rq import SimpleWorker

from compliance import actions, evidence
from compliance.models import AuditEvent, EvidencePack
from tests.compliance.evidence_helpers import PACK_FILES, sent_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def run_jobs():
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_an_auditor_requests_follows_and_downloads_a_campaign_pack(
    client, auditor, quality_admin, sb, settings
):
    campaign, _grant = sent_campaign(quality_admin)
    django_rq.get_queue("default").empty()
    settings.JOBS_IN_PROCESS = False
    client.force_login(auditor)
    assert 'data-testid="evidence-packs"' in client.get(reverse("compliance:index")).content.decode()
    form = client.get(reverse("compliance:evidence_packs"), {"scope": "campaign", "campaign": campaign.pk})
    assert form.status_code == 200 and f'<option value="{campaign.pk}" selected>' in form.content.decode()

    response = client.post(
        reverse("compliance:evidence_packs"),
        {"scope": "campaign", "campaign": campaign.pk, "reason": "Regulator request 2026/41"},
    )
    pack = EvidencePack.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "compliance:evidence_pack", args=[pack.pk]
    )
    requested = AuditEvent.objects.get(action=actions.EVIDENCE_PACK_REQUEST)
    assert requested.actor == "user:auditor"
    reason = "Regulator request 2026/41"
    assert requested.details == {
        "pack_id": pack.pk,
        "scope": "campaign",
        "subject": f"#{campaign.pk}",
        "reason": reason,
    }

    waiting = client.get(reverse("compliance:evidence_pack", args=[pack.pk])).content.decode()
    assert "js/progress-poll.js" in waiting and "js/job-progress.js" in waiting
    assert 'data-finished="false"' in waiting and 'data-testid="download-pack"' not in waiting
    assert client.get(reverse("compliance:evidence_progress", args=[pack.pk])).json()["finished"] is False
    assert client.get(reverse("compliance:evidence_download", args=[pack.pk])).status_code == 404

    run_jobs()
    progress = client.get(reverse("compliance:evidence_progress", args=[pack.pk]))
    assert "no-store" in progress["Cache-Control"]
    assert progress.json() | {"rows_expected": 0, "rows_written": 0} == {
        "status": "done", "status_label": "Ready", "finished": True, "percent": 100, "stage": "",
        "rows_expected": 0, "rows_written": 0, "display": progress.json()["display"],
    }  # fmt: skip
    ready = client.get(reverse("compliance:evidence_pack", args=[pack.pk])).content.decode()
    assert 'data-testid="download-pack"' in ready and "js/progress-poll.js" not in ready

    download = client.get(reverse("compliance:evidence_download", args=[pack.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert f'filename="evidence-pack-{pack.pk}.zip"' in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert set(archive.namelist()) == PACK_FILES
    downloaded = AuditEvent.objects.get(action=actions.EVIDENCE_PACK_DOWNLOAD)
    assert downloaded.actor == "user:auditor" and downloaded.details["pack_id"] == pack.pk


def test_a_phone_pack_records_who_asked_and_keeps_no_plain_phone(
    client, auditor, quality_admin, sb, settings
):
    sent_campaign(quality_admin)
    settings.JOBS_IN_PROCESS = True
    client.force_login(auditor)
    response = client.post(
        reverse("compliance:evidence_packs"),
        {"scope": "phone", "phone": "0912 000 000", "reason": "Customer complaint #88"},
    )
    assert response.status_code == 302
    pack = EvidencePack.objects.get()
    requested = AuditEvent.objects.get(action=actions.EVIDENCE_PACK_REQUEST)
    assert requested.actor == "user:auditor" and requested.details["subject"] == "0912***000"
    assert "84912000000" not in str(requested.details)
    assert pack.status == EvidencePack.Status.DONE and pack.phone == ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM compliance_evidencepack WHERE id = %s", [pack.pk])
        assert cursor.fetchone() == ("",)
    page = client.get(reverse("compliance:evidence_packs")).content.decode()
    assert "0912***000" in page and "84912000000" not in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"scope": "phone", "phone": "12345", "reason": "x"}, "phone"),
        (
            {"scope": "period", "day_from": "2026-02-02", "day_to": "2026-02-01", "reason": "x"},
            "before the first",
        ),
        ({"scope": "campaign", "reason": "x"}, "Choose the campaign"),
        ({"scope": "campaign", "campaign": 999999, "reason": "x"}, "Select a valid choice"),
        ({"scope": "period", "day_from": "2026-02-01", "day_to": "2026-02-02", "reason": " "}, "required"),
    ],
)
def test_bad_requests_are_refused_with_a_reason_and_create_nothing(client, auditor, data, error):
    client.force_login(auditor)
    response = client.post(reverse("compliance:evidence_packs"), data)
    assert response.status_code == 200 and error in response.content.decode()
    assert not EvidencePack.objects.exists() and not AuditEvent.objects.exists()


def test_a_pack_whose_file_retention_deleted_shows_its_hashes_and_refuses_the_download(client, auditor):
    pack = EvidencePack.objects.create(
        requested_by_name="user:auditor", reason="t", scope="period",
        period_start="2026-01-01T00:00:00+07:00", period_end="2026-01-02T00:00:00+07:00",
    )  # fmt: skip
    pack = evidence.build_pack(pack.pk)
    evidence.pack_path(pack.file_name).unlink()
    client.force_login(auditor)
    page = client.get(reverse("compliance:evidence_pack", args=[pack.pk])).content.decode()
    assert 'data-testid="pack-file-gone"' in page and pack.sha256 in page
    assert client.get(reverse("compliance:evidence_download", args=[pack.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action=actions.EVIDENCE_PACK_DOWNLOAD).exists()
