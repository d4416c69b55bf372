"""The contact import pages: upload (structural refusals store nothing), column mapping (field-level
errors change nothing; a valid mapping starts the RQ job), progress page and JSON, cancel, the
streamed rejection report (audited), and who may do what."""

import csv
import io
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker

from audiences import imports
from audiences.models import ConsentEvent, Contact, ContactImport, ContactSource, ImportRejection, Purpose
from compliance import actions
from compliance.models import AuditEvent

GOOD = (
    "phone,name,city,tier\n"
    "0912345678,Nguyễn Văn A,Hà Nội,gold\n"  # line 2
    "abc,Bad letters,Huế,\n"  # 3
    "0987654321,Trần Thị B,Huế,silver\n"  # 4
    "024 3826 1234,Landline,Huế,\n"  # 5
    "\n"  # 6: blank
    "+84 90 123 4567,Lê C,Đà Nẵng,\n"  # 7
).encode()


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def _file(data: bytes = GOOD, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def _upload(client, data: bytes = GOOD, name: str = "contacts.csv"):
    return client.post(reverse("audiences:import_upload"), {"file": _file(data, name)})


def _uploaded(data: bytes = GOOD) -> ContactImport:
    return imports.create_import(actor="user:marketer", uploaded_file=io.BytesIO(data), original_name="c.csv")


def _queue():
    return django_rq.get_queue("default", commit_mode="auto")


def _work():
    queue = _queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _actions(item) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="audiences.contactimport", target_id=str(item.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


# Upload --------------------------------------------------------------------------------------------


def test_upload_stores_the_file_and_goes_to_the_mapping_page(client, marketer, contact_import_dir):
    client.force_login(marketer)
    response = _upload(client)
    item = ContactImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "audiences:import_map", args=[item.pk]
    )
    assert (item.status, item.original_name, item.created_by) == ("uploaded", "contacts.csv", "user:marketer")
    assert item.header == ["phone", "name", "city", "tier"]
    assert len(list(contact_import_dir.iterdir())) == 1
    assert _actions(item) == [actions.CONTACT_IMPORT_UPLOAD]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty."),  # Django's own check; the service says the same
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "This is an Excel workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a CSV file"),
        ("phone,name\n0912345678,Đoàn Hà\n".encode("cp1258"), "CSV UTF-8"),
        (b"0912345678,Lan\n0987654321,Minh\n", "The first row must name the columns"),
        (b"name,city\nLan,Hue\nMinh,Hanoi\n", "No column holds Vietnamese mobile numbers"),
        (b"phone,name\n", "no rows of contacts"),
    ],
    ids=["empty", "excel", "binary", "windows-1258", "no-header", "no-phone-column", "header-only"],
)
def test_structural_errors_are_shown_on_the_field_and_nothing_is_stored(
    client, marketer, contact_import_dir, data, message
):
    client.force_login(marketer)
    html = _html(_upload(client, data))
    assert 'class="field has-error"' in html
    assert message in html.replace("&#x27;", "'").replace("&quot;", '"')
    assert ContactImport.objects.count() == 0 and ContactSource.objects.count() == 0
    assert not contact_import_dir.exists() or list(contact_import_dir.iterdir()) == []
    assert not AuditEvent.objects.filter(action=actions.CONTACT_IMPORT_UPLOAD).exists()


def test_a_file_over_the_size_limit_is_refused(client, marketer, settings, contact_import_dir):
    settings.CONTACT_IMPORT_MAX_BYTES = 1024 * 1024
    client.force_login(marketer)
    big = b"phone,name\n" + b"0912345678,Lan\n" * 80_000  # 1.2 MB
    html = _html(_upload(client, big))
    assert "larger than 1 MB" in html
    assert ContactImport.objects.count() == 0
    assert not contact_import_dir.exists() or list(contact_import_dir.iterdir()) == []
    # The service refuses it too, whoever calls it.
    with pytest.raises(imports.ImportRefused) as refused:
        _uploaded(big)
    assert refused.value.code == "too_big"
    assert list(contact_import_dir.iterdir()) == []


def test_upload_without_a_file_says_so(client, marketer):
    client.force_login(marketer)
    html = _html(client.post(reverse("audiences:import_upload"), {}))
    assert 'class="field has-error"' in html
    assert ContactImport.objects.count() == 0


# Mapping -------------------------------------------------------------------------------------------


def test_the_mapping_page_shows_the_file_and_a_masked_preview(client, marketer):
    client.force_login(marketer)
    item = _uploaded("phone;họ tên;city\n0912345678;Nguyễn Văn A;Hà Nội\n".encode("utf-8-sig"))
    html = _html(client.get(reverse("audiences:import_map", args=[item.pk])))
    assert "<code>utf-8-sig</code>" in html and "semicolon" in html
    assert "0912***678" in html and "0912345678" not in html
    assert "Nguyễn Văn A" in html and "Hà Nội" in html
    assert "Without a consent basis the imported contacts get no consent" in html
    # The phone and name columns are preselected from the header.
    assert '<option value="phone" selected>' in html
    assert '<option value="họ tên" selected>' in html


def test_the_preview_shows_ten_rows(client, marketer):
    client.force_login(marketer)
    rows = "".join(f"09{n:08d},Name {n}\n" for n in range(30))
    item = _uploaded(("phone,name\n" + rows).encode())
    html = _html(client.get(reverse("audiences:import_map", args=[item.pk])))
    assert "Name 9<" in html and "Name 10<" not in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"phone": "phone", "name": "phone"}, "name", "The phone column cannot also be the name column."),
        ({"phone": "phone", "attributes": ["phone", "city"]}, "attributes", "cannot also be an attribute"),
        (
            {"phone": "phone", "name": "name", "attributes": ["name"]},
            "attributes",
            "cannot also be an attribute",
        ),
        ({"phone": "mobile"}, "phone", "Select a valid choice"),
        ({"phone": "phone", "attributes": ["nope"]}, "attributes", "Select a valid choice"),
        ({"phone": "phone", "consent_purpose": "marketing"}, "consent_collector", "Required when"),
        (
            {
                "phone": "phone",
                "consent_purpose": "marketing",
                "consent_collector": "shop",
                "consent_wording": " ",
            },
            "consent_wording",
            "Required when",
        ),
        ({"phone": "phone", "consent_purpose": "spam"}, "consent_purpose", "Select a valid choice"),
        ({}, "phone", "This field is required."),
    ],
)
def test_mapping_errors_are_field_level_and_change_nothing(
    client, marketer, django_capture_on_commit_callbacks, data, field, message
):
    client.force_login(marketer)
    item = _uploaded()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("audiences:import_map", args=[item.pk]), data)
    html = _html(response)
    form = response.context["form"]
    assert field in form.errors and message in " ".join(form.errors[field])
    assert message.replace("'", "&#x27;") in html
    item.refresh_from_db()
    assert (item.status, item.mapping, item.consent_purpose) == ("uploaded", {}, "")
    assert callbacks == [] and _queue().count == 0
    assert _actions(item) == [actions.CONTACT_IMPORT_UPLOAD]


def test_a_valid_mapping_starts_the_job_which_really_runs(
    client, marketer, django_capture_on_commit_callbacks
):
    client.force_login(marketer)
    item = _uploaded()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("audiences:import_map", args=[item.pk]),
            {
                "phone": "phone",
                "name": "name",
                "attributes": ["city", "tier"],
                "consent_purpose": Purpose.MARKETING,
                "consent_collector": "Shop front desk",
                "consent_wording": "Tôi đồng ý nhận tin khuyến mãi qua Zalo.",
                "consent_evidence_text": "paper forms, box 12",
            },
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("audiences:import_detail", args=[item.pk])
    item.refresh_from_db()
    assert item.status == "mapped"
    assert item.mapping == {"phone": "phone", "name": "name", "attributes": ["city", "tier"]}
    queue = _queue()
    assert queue.count == 1
    job = queue.jobs[0]
    assert (job.func_name, job.args) == ("audiences.jobs.run_contact_import", (item.pk,))

    _work()
    item.refresh_from_db()
    assert (item.status, item.rows_total, item.rows_rejected, item.rows_blank) == ("done", 6, 2, 1)
    assert (item.rows_merged, item.consents_granted) == (3, 3)
    assert Contact.objects.get(phone="84912345678").attributes == {"city": "Hà Nội", "tier": "gold"}
    assert ConsentEvent.objects.filter(purpose=Purpose.MARKETING, kind="granted").count() == 3
    assert _actions(item) == [
        actions.CONTACT_IMPORT_UPLOAD,
        actions.CONTACT_IMPORT_MAP,
        actions.CONTACT_IMPORT_START,
        actions.CONTACT_IMPORT_FINISH,
    ]
    mapped = AuditEvent.objects.get(action=actions.CONTACT_IMPORT_MAP)
    assert mapped.actor == "user:marketer" and mapped.details["consent"] == "marketing"

    # The finished page: summary and the report link; no polling script any more.
    html = _html(client.get(reverse("audiences:import_detail", args=[item.pk])))
    assert 'data-testid="summary"' in html and 'data-testid="merged">3<' in html
    assert reverse("audiences:import_rejections", args=[item.pk]) in html
    assert 'value="100"' in html and "job-progress.js" not in html


def test_a_started_import_cannot_be_mapped_again(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    ContactImport.objects.filter(pk=item.pk).update(status="running")
    response = client.get(reverse("audiences:import_map", args=[item.pk]))
    assert response.status_code == 302 and response["Location"] == reverse(
        "audiences:import_detail", args=[item.pk]
    )
    response = client.post(reverse("audiences:import_map", args=[item.pk]), {"phone": "phone"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.mapping == {}


# Progress ------------------------------------------------------------------------------------------


def _running(rows_done=2_500, rows_total=10_000, seconds=5):
    item = _uploaded()
    now = timezone.now()
    ContactImport.objects.filter(pk=item.pk).update(
        status="running",
        mapping={"phone": "phone", "name": "", "attributes": []},
        rows_done=rows_done,
        rows_total=rows_total,
        rows_rejected=7,
        started_at=now - timedelta(seconds=seconds),
        updated_at=now,
    )
    item.refresh_from_db()
    return item


def test_progress_json_of_a_running_import(client, auditor):
    client.force_login(auditor)  # view_audiences is enough to follow an import
    item = _running()
    data = client.get(reverse("audiences:import_progress", args=[item.pk])).json()
    assert data["status"] == "running" and data["finished"] is False
    assert (data["rows_done"], data["rows_total"], data["percent"], data["rejected"]) == (2500, 10000, 25, 7)
    assert data["rate"] == pytest.approx(500, rel=0.01)
    assert data["eta_seconds"] == 15
    assert data["merged"] == 0
    assert data["display"]["rows"] == "2,500 of 10,000"


def test_progress_json_of_a_finished_import(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    imports.map_columns(item, actor="user:marketer", phone="phone", name="name")
    imports.run_import(item.pk)
    data = client.get(reverse("audiences:import_progress", args=[item.pk])).json()
    assert data["status"] == "done" and data["finished"] is True
    assert (data["percent"], data["eta_seconds"], data["rejected"], data["merged"]) == (100, 0, 2, 3)


def test_the_progress_page_works_without_javascript(client, marketer):
    client.force_login(marketer)
    item = _running()
    html = _html(client.get(reverse("audiences:import_detail", args=[item.pk])))
    assert '<progress class="import-progress" max="100" value="25"' in html
    assert 'data-testid="rows">2,500 of 10,000<' in html
    assert "rows/s" in html and "15 seconds" in html
    assert f'href="{reverse("audiences:import_detail", args=[item.pk])}"' in html  # refresh link
    assert "job-progress.js" in html and reverse("audiences:import_progress", args=[item.pk]) in html
    assert 'data-testid="cancel-import"' in html


def test_auditors_follow_an_import_but_cannot_cancel_it_or_read_the_report(client, auditor):
    client.force_login(auditor)
    item = _running()
    html = _html(client.get(reverse("audiences:import_detail", args=[item.pk])))
    assert 'data-testid="cancel-import"' not in html


def test_progress_is_get_only(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    assert client.post(reverse("audiences:import_progress", args=[item.pk])).status_code == 405


# Cancel --------------------------------------------------------------------------------------------


def test_cancel_before_the_job_starts(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    response = client.post(reverse("audiences:import_cancel", args=[item.pk]))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "cancelled"
    assert _actions(item) == [actions.CONTACT_IMPORT_UPLOAD, actions.CONTACT_IMPORT_CANCEL]
    assert AuditEvent.objects.get(action=actions.CONTACT_IMPORT_CANCEL).actor == "user:marketer"


def test_cancel_a_running_import_asks_the_job_to_stop(client, marketer):
    client.force_login(marketer)
    item = _running()
    client.post(reverse("audiences:import_cancel", args=[item.pk]))
    item.refresh_from_db()
    assert item.status == "cancelling"
    request = AuditEvent.objects.get(action=actions.CONTACT_IMPORT_CANCEL_REQUEST)
    assert request.actor == "user:marketer" and request.details["rows_done"] == 2500
    # The job honours it: no contact is written.
    imports.run_import(item.pk)
    item.refresh_from_db()
    assert item.status == "cancelled" and Contact.objects.count() == 0


def test_a_finished_import_cannot_be_cancelled(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    imports.map_columns(item, actor="user:marketer", phone="phone")
    imports.run_import(item.pk)
    response = client.post(reverse("audiences:import_cancel", args=[item.pk]), follow=True)
    assert "finished and cannot be cancelled" in _html(response)
    item.refresh_from_db()
    assert item.status == "done"


def test_cancel_is_post_only(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    assert client.get(reverse("audiences:import_cancel", args=[item.pk])).status_code == 405
    item.refresh_from_db()
    assert item.status == "uploaded"


# The rejection report ------------------------------------------------------------------------------


def test_the_rejection_report_is_streamed_csv_with_a_bom_and_audited(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    imports.map_columns(item, actor="user:marketer", phone="phone", name="name")
    imports.run_import(item.pk)
    response = client.get(reverse("audiences:import_rejections", args=[item.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="import-{item.pk}-rejections.csv"'
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["line", "reason code", "reason", "row"]
    assert [(row[0], row[3]) for row in rows[1:]] == [
        ("3", "abc,Bad letters,Huế,"),
        ("5", "024 3826 1234,Landline,Huế,"),
    ]
    assert all(row[1] and row[2] for row in rows[1:])
    codes = dict(ImportRejection.objects.filter(contact_import=item).values_list("line", "code"))
    assert [row[1] for row in rows[1:]] == [codes[3], codes[5]]
    event = AuditEvent.objects.get(action=actions.CONTACT_IMPORT_REPORT)
    assert event.actor == "user:marketer" and event.details == {"import_id": item.pk, "rows_rejected": 2}


def test_the_report_is_read_in_chunks_in_line_order(client, marketer):
    client.force_login(marketer)
    item = _uploaded()
    ImportRejection.objects.bulk_create(
        ImportRejection(contact_import=item, line=line, raw=f"bad {line}", code="letters", message="x")
        for line in range(5000, 0, -1)
    )
    lines = [line for line, *_rest in imports.rejection_report_rows(item, chunk_size=100)]
    assert lines == list(range(1, 5001))
    body = b"".join(client.get(reverse("audiences:import_rejections", args=[item.pk])).streaming_content)
    assert body.decode("utf-8-sig").count("\r\n") == 5001


# The list and who may do what ----------------------------------------------------------------------


def test_the_list_shows_recent_imports_in_vietnam_time(client, auditor):
    item = _uploaded()
    ContactImport.objects.filter(pk=item.pk).update(created_at=datetime(2026, 3, 1, 20, 30, tzinfo=UTC))
    client.force_login(auditor)
    html = _html(client.get(reverse("audiences:imports")))
    assert "c.csv" in html and "2026-03-02 03:30" in html and ">marketer<" in html
    assert reverse("audiences:import_upload") not in html  # auditors do not import
    index = _html(client.get(reverse("audiences:index")))
    assert reverse("audiences:imports") in index


def test_marketers_find_the_imports_from_the_audiences_page(client, marketer):
    client.force_login(marketer)
    assert reverse("audiences:imports") in _html(client.get(reverse("audiences:index")))
    assert reverse("audiences:import_upload") in _html(client.get(reverse("audiences:imports")))


def test_quality_admins_do_not_see_the_imports_link(client, quality_admin):
    client.force_login(quality_admin)
    assert reverse("audiences:imports") not in _html(client.get(reverse("audiences:index")))


READ = ("imports", "import_detail", "import_progress")
WRITE = ("import_upload", "import_map", "import_rejections")


@pytest.mark.parametrize("role", ["marketer", "auditor", "quality_admin", "superuser"])
def test_access_for_each_role(client, role_users, role):
    item = _uploaded()
    client.force_login(role_users[role])
    for name in READ + WRITE:
        args = [] if name in ("imports", "import_upload") else [item.pk]
        status = client.get(reverse(f"audiences:{name}", args=args)).status_code
        allowed = role in ("marketer", "superuser") or (role == "auditor" and name in READ)
        assert status == (200 if allowed else 403), (role, name, status)
    status = client.post(reverse("audiences:import_cancel", args=[item.pk])).status_code
    assert status == (302 if role in ("marketer", "superuser") else 403)
    item.refresh_from_db()
    assert item.status == ("cancelled" if role in ("marketer", "superuser") else "uploaded")
    assert AuditEvent.objects.filter(action=actions.CONTACT_IMPORT_REPORT).exists() == (
        role in ("marketer", "superuser")
    )


def test_anonymous_users_go_to_the_login_page(client, db):
    item = _uploaded()
    for name in READ + WRITE:
        args = [] if name in ("imports", "import_upload") else [item.pk]
        response = client.get(reverse(f"audiences:{name}", args=args))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
