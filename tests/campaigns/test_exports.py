"""CSV exports of the message log: content equals the filter, constant memory, audited, the job."""

import csv
import io
import tracemalloc
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import exports, logs
from campaigns.models import Campaign, CampaignMessage, LogExport
from compliance import actions
from compliance.models import AuditEvent
from oas.models import MessageTemplate, OfficialAccount


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LOG_EXPORT_DIR = tmp_path / "exports"
    return settings.LOG_EXPORT_DIR


@pytest.fixture
def campaign(db):
    oa = OfficialAccount.objects.create(name="Export OA", zalo_oa_id="export-oa")
    template = MessageTemplate.objects.create(oa=oa, template_id="e1", name="T", tag=1)
    return Campaign.objects.create(oa=oa, template=template, name="Export campaign")


def _insert(campaign, count: int) -> None:
    """`count` messages set-based: every third failed with PHONE_INVALID, phones 0912000000 + n."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO campaigns_campaignmessage (campaign_id, phone, tracking_id, state, template_data,
                attempts, claimed_by, provider_message_id, error_code, provider_error_code,
                provider_error_message, in_first_slice, created_at, updated_at)
            SELECT %s, '8491' || lpad(n::text, 7, '0'), 'exp-' || n,
                   CASE WHEN n %% 3 = 0 THEN 'failed' ELSE 'delivered' END, '{}', 1, '', '',
                   CASE WHEN n %% 3 = 0 THEN 'PHONE_INVALID' ELSE '' END,
                   CASE WHEN n %% 3 = 0 THEN '-108' ELSE '' END, '', false,
                   now() - n * interval '1 second', now()
            FROM generate_series(1, %s) AS n
            """,
            [campaign.pk, count],
        )


def _parse(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _events(action=actions.CAMPAIGN_LOG_EXPORT):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_the_stream_is_exactly_the_filter_in_page_order_and_audited(campaign):
    _insert(campaign, 300)
    log_filter = logs.LogFilter(state="failed", phone="")
    text = "".join(exports.stream_csv(log_filter, actor="system:test", masked=True, chunk_size=37))
    rows = _parse(text)
    assert rows[0] == exports.header()
    expected = list(
        CampaignMessage.objects.filter(state="failed")
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    assert [int(row[1]) for row in rows[1:]] == expected
    assert len(expected) == 100
    assert {row[6][:4] + row[6][-3:] for row in rows[1:]} and all("***" in row[6] for row in rows[1:])
    assert {row[9] for row in rows[1:]} == {"PHONE_INVALID"}
    (event,) = _events()
    assert event.details["rows"] == 100
    assert event.details["complete"] is True
    assert event.details["phones"] == "masked"
    assert event.details["filter"] == {"state": "failed"}


def test_full_numbers_only_when_not_masked_and_the_audit_masks_the_filter_phone(campaign):
    _insert(campaign, 10)
    log_filter = logs.LogFilter(phone="84910000003")
    rows = _parse("".join(exports.stream_csv(log_filter, actor="system:test", masked=False)))
    assert [row[6] for row in rows[1:]] == ["0910000003"]
    (event,) = _events()
    assert event.details["filter"] == {"phone": "0910***003"}
    assert event.details["phones"] == "full"


def test_an_interrupted_stream_is_audited_with_the_rows_sent(campaign):
    _insert(campaign, 100)
    stream = exports.stream_csv(logs.LogFilter(), actor="system:test", masked=True, chunk_size=30)
    next(stream)  # header
    next(stream)  # first 30 rows
    stream.close()  # the client went away
    (event,) = _events()
    assert event.details["rows"] == 30
    assert event.details["complete"] is False


def _stream_peak(chunk_size: int) -> tuple[int, int, list[str]]:
    """(peak traced bytes, characters streamed, the message queries) of one whole streamed export."""
    with CaptureQueriesContext(connection) as queries:
        tracemalloc.start()
        size = 0
        for piece in exports.stream_csv(
            logs.LogFilter(), actor="system:test", masked=True, chunk_size=chunk_size
        ):
            size += len(piece)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    selects = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "campaigns_campaignmessage"' in q["sql"]
    ]
    return peak, size, selects


def test_the_stream_reads_in_bounded_chunks_and_constant_memory(campaign):
    _insert(campaign, 10_000)
    small_peak, small_size, _selects = _stream_peak(5000)
    CampaignMessage.objects.all().delete()
    _insert(campaign, 50_000)
    peak, size, selects = _stream_peak(5000)
    # 10 full chunks and the empty one that ends the walk; every one LIMIT 5000, none with OFFSET.
    assert len(selects) == 11
    assert all("LIMIT 5000" in sql and "OFFSET" not in sql for sql in selects)
    assert size > 4.9 * small_size  # five times the rows went through...
    assert peak < 1.25 * small_peak  # ...in the memory of one chunk: constant, not growing with the size
    # One chunk of 5,000 rows is about 10 MB traced (tuples, datetimes, its CSV text); the 50,000 rows
    # held at once would be five times that.
    assert peak < 20_000_000, peak
    assert [event.details["rows"] for event in _events()] == [10_000, 50_000]


def test_the_csv_view_streams_the_filter_for_every_role(client, role_users, campaign):
    _insert(campaign, 20)
    for role, masked in (("marketer", False), ("quality_admin", True), ("auditor", True)):
        client.force_login(role_users[role])
        response = client.get(reverse("campaigns:logs_csv"), {"state": "failed", "campaign": campaign.pk})
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        rows = _parse(b"".join(response.streaming_content).decode())
        assert len(rows) == 1 + 6
        assert all(("***" in row[6]) == masked for row in rows[1:]), role
    assert [event.actor for event in _events()] == ["user:marketer", "user:quality", "user:auditor"]


def test_a_bad_filter_is_not_exported(client, marketer, campaign):
    client.force_login(marketer)
    response = client.get(reverse("campaigns:logs_csv"), {"phone": "12ab"})
    assert response.status_code == 302
    assert not _events()


def test_the_job_writes_the_file_with_progress_and_audits_it(client, marketer, auditor, campaign):
    _insert(campaign, 2500)
    client.force_login(marketer)
    response = client.post(reverse("campaigns:log_export_request"), {"error_code": "-108"})
    export = LogExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:log_export", args=[export.pk])
    assert export.status == LogExport.Status.QUEUED
    assert export.masked is False  # a marketer may reveal phones
    page = client.get(reverse("campaigns:log_export", args=[export.pk]))
    assert page.status_code == 200 and 'data-finished="false"' in page.content.decode()
    assert client.get(reverse("campaigns:log_export_progress", args=[export.pk])).json()["percent"] == 0

    assert exports.run_log_export(export.pk, chunk_size=300, progress_every=300) == "done"
    assert exports.run_log_export(export.pk) == "not queued"  # a second run writes nothing
    export.refresh_from_db()
    assert export.status == LogExport.Status.DONE
    assert export.rows_written == export.rows_expected == 833
    progress = client.get(reverse("campaigns:log_export_progress", args=[export.pk])).json()
    assert progress["finished"] is True and progress["percent"] == 100
    (event,) = _events()
    assert event.details["rows"] == 833 and event.details["how"] == f"file #{export.pk}"
    assert event.actor == "user:marketer"

    download = client.get(reverse("campaigns:log_export_download", args=[export.pk]))
    assert download.status_code == 200
    rows = _parse(b"".join(download.streaming_content).decode())
    assert len(rows) == 1 + 833
    assert all(row[10] == "-108" and "***" not in row[6] for row in rows[1:])
    assert _events(actions.CAMPAIGN_LOG_EXPORT_DOWNLOAD)[0].details["export_id"] == export.pk

    # Full numbers: nobody else opens it.
    client.force_login(auditor)
    assert client.get(reverse("campaigns:log_export_download", args=[export.pk])).status_code == 404
    assert client.get(reverse("campaigns:log_export", args=[export.pk])).status_code == 404


def test_progress_while_running():
    export = LogExport(status=LogExport.Status.RUNNING, rows_expected=1000, rows_written=250)
    assert exports.progress(export)["percent"] == 25
    export.rows_written = 1000
    assert exports.progress(export)["percent"] == 99  # 100 only once the file is complete


def test_expired_exports_are_deleted_with_their_files(campaign):
    _insert(campaign, 5)
    export = exports.request_export(logs.LogFilter(), user=None, masked=True)
    exports.run_log_export(export.pk)
    export.refresh_from_db()
    path = exports.export_path(export)
    assert path.exists()
    assert exports.purge_expired_exports() == 0
    assert exports.purge_expired_exports(timezone.now() + timedelta(hours=25)) == 1
    assert not path.exists()
    assert not LogExport.objects.exists()
