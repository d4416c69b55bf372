"""CSV import of contacts (audiences.imports): file inspection, row rejections with line numbers, the
set-based merge (later row wins, attributes merged, consent appended), and that nothing changes
before the merge: refused files, cancels, and a worker killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from audiences import imports
from audiences.imports import ImportRefused, inspect_file
from audiences.models import ConsentEvent, Contact, ContactImport, ContactSource, ImportRejection, Purpose
from audiences.services import grant_consent, withdraw_consent
from compliance import actions
from compliance.models import AuditEvent
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile

ACTOR = "user:importer"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"
    return settings.CONTACT_IMPORT_DIR


def _write(tmp_path, data: bytes, name="contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _upload(tmp_path, data: bytes, **mapping):
    item = imports.create_import(actor=ACTOR, uploaded_file=_write(tmp_path, data))
    mapping.setdefault("phone", "phone")
    return imports.map_columns(item, actor=ACTOR, **mapping)


def _run(tmp_path, data: bytes, **mapping) -> ContactImport:
    item = _upload(tmp_path, data, **mapping)
    imports.run_import(item.pk)
    item.refresh_from_db()
    return item


def _stage_exists(import_id: int) -> bool:
    return imports._stage_name(import_id) in connection.introspection.table_names()


def _code(raw: str) -> str:
    try:
        parse_vietnamese_mobile(raw)
    except PhoneRejected as refusal:
        return refusal.code
    raise AssertionError(f"{raw!r} is a valid phone")


# Inspection ----------------------------------------------------------------------------------------


def test_utf8_with_bom(tmp_path):
    info = inspect_file(_write(tmp_path, "phone,name\n0912345678,Nguyễn Văn A\n".encode("utf-8-sig")))
    assert (info.encoding, info.delimiter, info.header) == ("utf-8-sig", ",", ["phone", "name"])
    assert info.preview_rows == [["0912345678", "Nguyễn Văn A"]]


def test_utf8_without_bom(tmp_path):
    info = inspect_file(_write(tmp_path, b"phone,name\n0912345678,Lan\n"))
    assert info.encoding == "utf-8"


@pytest.mark.django_db
def test_utf16_is_detected_and_imported(tmp_path):
    data = "phone\tname\r\n0912345678\tTrần Thị Hà\r\n".encode("utf-16")
    info = inspect_file(_write(tmp_path, data, "u16.csv"))
    assert (info.encoding, info.delimiter, info.header) == ("utf-16", "\t", ["phone", "name"])
    item = _run(tmp_path, data, name="name")
    assert item.status == ContactImport.Status.DONE
    assert Contact.objects.get(phone="84912345678").name == "Trần Thị Hà"


def test_windows_1258_is_refused_with_advice(tmp_path):
    with pytest.raises(ImportRefused) as refused:
        inspect_file(_write(tmp_path, "phone,name\n0912345678,Đoàn Hà\n".encode("cp1258")))
    assert refused.value.code == "not_utf8"
    assert "CSV UTF-8" in refused.value.message


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    rows = ["phone,name,city", "0912345678,Lan,Hà Nội", "0987654321,Minh,Huế"]
    data = "\n".join(row.replace(",", delimiter) for row in rows).encode()
    info = inspect_file(_write(tmp_path, data))
    assert info.delimiter == delimiter
    assert info.header == ["phone", "name", "city"]


def test_single_column_file(tmp_path):
    info = inspect_file(_write(tmp_path, b"phone\n0912345678\n0987654321\n"))
    assert info.header == ["phone"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n  \n", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "excel"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"0912345678,Lan\n0987654321,Minh\n", "no_header"),
        (b",,\n0912345678,Lan,x\n", "no_header"),
        (b"phone,phone\n0912345678,0987654321\n", "duplicate_header"),
    ],
)
@pytest.mark.django_db
def test_structural_errors_change_nothing(tmp_path, import_dir, data, code):
    existing = Contact.objects.count()
    with pytest.raises(ImportRefused) as refused:
        imports.create_import(actor=ACTOR, uploaded_file=_write(tmp_path, data))
    assert refused.value.code == code
    assert str(refused.value)
    assert ContactImport.objects.count() == 0 and ContactSource.objects.count() == 0
    assert Contact.objects.count() == existing
    assert list(import_dir.iterdir()) == []  # the refused copy is not kept


@pytest.mark.django_db
def test_mapping_refuses_unknown_columns_and_incomplete_consent(tmp_path):
    item = imports.create_import(actor=ACTOR, uploaded_file=_write(tmp_path, b"phone,name\n0912345678,A\n"))
    assert item.status == ContactImport.Status.UPLOADED and item.header == ["phone", "name"]
    with pytest.raises(ValueError):
        imports.map_columns(item, actor=ACTOR, phone="mobile")
    with pytest.raises(ValueError):
        imports.map_columns(item, actor=ACTOR, phone="phone", consent_purpose=Purpose.MARKETING)
    with pytest.raises(ValueError):
        imports.start_import(item, actor=ACTOR)


# Rows and the merge --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bad_rows_are_rejected_with_line_numbers_and_reasons(tmp_path):
    data = (
        "phone;name;city\n"  # line 1
        "0912345678;Lan;Hà Nội\n"  # 2
        "abc;Bad;x\n"  # 3
        "\n"  # 4: blank, skipped
        "024 3826 1234;Landline;x\n"  # 5
        "+84 98 765 4321;Minh;Huế\n"  # 6
        ";No phone;x\n"  # 7
        "912345678;Short;x\n"  # 8
    ).encode()
    item = _run(tmp_path, data, name="name", attributes=["city"])
    assert item.status == ContactImport.Status.DONE
    rejections = list(ImportRejection.objects.filter(contact_import=item).values_list("line", "code"))
    assert rejections == [
        (3, _code("abc")),
        (5, _code("024 3826 1234")),
        (7, "empty"),
        (8, _code("912345678")),
    ]
    first = ImportRejection.objects.filter(contact_import=item).first()
    assert first.raw == "abc;Bad;x" and first.message
    assert (item.rows_total, item.rows_rejected, item.rows_blank, item.rows_merged) == (7, 4, 1, 2)
    assert dict(Contact.objects.values_list("phone", "name")) == {"84912345678": "Lan", "84987654321": "Minh"}
    assert Contact.objects.get(phone="84987654321").attributes == {"city": "Huế"}
    assert Contact.objects.get(phone="84912345678").source == item.source
    assert list(
        AuditEvent.objects.filter(target_id=str(item.pk), target_type="audiences.contactimport")
        .order_by("seq")
        .values_list("action", flat=True)
    ) == [
        actions.CONTACT_IMPORT_UPLOAD,
        actions.CONTACT_IMPORT_MAP,
        actions.CONTACT_IMPORT_START,
        actions.CONTACT_IMPORT_FINISH,
    ]
    assert not _stage_exists(item.pk)


@pytest.mark.django_db
def test_duplicates_in_the_file_later_row_wins(tmp_path):
    data = (
        "phone,name,city,tier\n"
        "0912345678,First,Hà Nội,silver\n"
        "0987654321,Other,Huế,\n"
        "+84912345678,Second,Đà Nẵng,\n"  # same phone, written differently: this row wins
    ).encode()
    item = _run(tmp_path, data, name="name", attributes=["city", "tier"])
    assert item.rows_merged == 2
    contact = Contact.objects.get(phone="84912345678")
    assert contact.name == "Second"
    assert contact.attributes == {
        "city": "Đà Nẵng"
    }  # the later row wins as a whole; empty cells are no value


@pytest.mark.django_db
def test_existing_contacts_updated_and_consent_history_kept(tmp_path):
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="desk", created_by=ACTOR)
    kept = Contact.objects.create(
        phone="84912345678", name="Old name", attributes={"city": "Hà Nội", "tier": "gold"}, source=source
    )
    withdrawn = Contact.objects.create(phone="84987654321", name="No", source=source)
    grant_consent(
        actor=ACTOR,
        contact=kept,
        purpose=Purpose.MARKETING,
        source="shop",
        collector="desk",
        wording="OK?",
        evidence_text="paper form",
    )
    grant_consent(
        actor=ACTOR,
        contact=withdrawn,
        purpose=Purpose.MARKETING,
        source="shop",
        collector="desk",
        wording="OK?",
        evidence_text="paper form",
    )
    withdraw_consent(actor=ACTOR, contact=withdrawn, purpose=Purpose.MARKETING, channel="opt_out_reply")
    data = "phone,name,city\n0912345678,,Huế\n0987654321,Yes,Huế\n0901234567,New,Huế\n".encode()
    item = _run(
        tmp_path,
        data,
        name="name",
        attributes=["city"],
        consent_purpose=Purpose.MARKETING,
        consent_collector="Shop staff",
        consent_wording="Nhận tin khuyến mãi?",
        consent_evidence_text="signup sheet May 2026",
    )
    assert item.status == ContactImport.Status.DONE and item.rows_merged == 3
    kept.refresh_from_db()
    assert kept.name == "Old name"  # the file's name is empty
    assert kept.attributes == {"city": "Huế", "tier": "gold"}
    assert kept.source == source
    assert Contact.objects.get(phone="84987654321").name == "Yes"
    new = Contact.objects.get(phone="84901234567")
    assert (new.name, new.source) == ("New", item.source)
    assert ConsentEvent.objects.filter(contact=kept).count() == 2  # the earlier grant stays
    grant = ConsentEvent.objects.filter(contact=new).get()
    assert (grant.kind, grant.purpose, grant.evidence_sha256) == ("granted", "marketing", item.file_sha256)
    assert grant.evidence_file_name == "contacts.csv" and grant.wording == "Nhận tin khuyến mãi?"
    # A file never overrides a recorded withdrawal.
    assert list(ConsentEvent.objects.filter(contact=withdrawn).values_list("kind", flat=True)) == [
        "granted",
        "withdrawn",
    ]
    assert item.consents_granted == 2


@pytest.mark.django_db
def test_without_consent_basis_no_consent_is_recorded(tmp_path):
    _run(tmp_path, b"phone\n0912345678\n")
    assert ConsentEvent.objects.count() == 0


@pytest.mark.django_db
def test_running_twice_is_safe(tmp_path):
    item = _run(tmp_path, b"phone,name\n0912345678,A\n", name="name")
    assert imports.run_import(item.pk) == "already done"
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_cancel_before_merge_changes_nothing(tmp_path, monkeypatch):
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="desk", created_by=ACTOR)
    Contact.objects.create(phone="84912345678", name="Old", attributes={"city": "Hà Nội"}, source=source)
    before = list(Contact.objects.values_list("phone", "name", "attributes"))
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    monkeypatch.setattr(imports, "_on_chunk", lambda item: imports.cancel_import(item, actor=ACTOR))
    data = "phone,name,city\n0912345678,New,Huế\n0987654321,B,x\n0901234567,C,y\n0331234567,D,z\n".encode()
    item = _upload(tmp_path, data, name="name", attributes=["city"])
    assert imports.run_import(item.pk) == "cancelled"
    item.refresh_from_db()
    assert item.status == ContactImport.Status.CANCELLED
    assert list(Contact.objects.values_list("phone", "name", "attributes")) == before
    assert not _stage_exists(item.pk)
    assert AuditEvent.objects.filter(action=actions.CONTACT_IMPORT_CANCEL).count() == 1
    assert imports.run_import(item.pk) == "already cancelled"


@pytest.mark.django_db
def test_cancel_of_an_import_not_started(tmp_path):
    item = _upload(tmp_path, b"phone\n0912345678\n")
    imports.cancel_import(item, actor=ACTOR)
    item.refresh_from_db()
    assert item.status == ContactImport.Status.CANCELLED
    assert imports.run_import(item.pk) == "already cancelled"


@pytest.mark.django_db
def test_a_file_not_utf8_after_the_sample_is_refused_at_upload_and_changes_nothing(
    tmp_path, monkeypatch, import_dir
):
    monkeypatch.setattr(imports, "SNIFF_BYTES", 64)
    data = b"phone,name\n" + b"0912345678,Lan\n" * 10 + "0987654321,Đoàn\n".encode("cp1258")
    with pytest.raises(ImportRefused) as refused:  # the whole file is decoded before anything is recorded
        _upload(tmp_path, data, name="name")
    assert refused.value.code == "not_utf8" and "CSV UTF-8" in refused.value.message
    assert not ContactImport.objects.exists() and not list(import_dir.glob("*.csv"))
    assert Contact.objects.count() == 0


@pytest.mark.django_db
def test_a_file_not_utf8_found_by_the_job_fails_it_and_changes_nothing(tmp_path):
    item = _upload(tmp_path, b"phone,name\n" + b"0912345678,Lan\n" * 10)
    with open(item.file_path, "ab") as stored:  # the stored copy changed after its upload
        stored.write("0987654321,Đoàn\n".encode("cp1258"))
    with pytest.raises(UnicodeDecodeError):
        imports.run_import(item.pk)
    item.refresh_from_db()
    assert item.status == ContactImport.Status.FAILED and "CSV UTF-8" in item.error
    assert Contact.objects.count() == 0


# A worker killed with SIGKILL ----------------------------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.skipif("sqlite" in settings.DATABASES["default"]["ENGINE"], reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_sigkill_before_merge_leaves_contacts_and_the_next_run_resumes(tmp_path):
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="desk", created_by=ACTOR)
    Contact.objects.create(phone="84912345678", name="Old", attributes={"city": "Hà Nội"}, source=source)
    before = list(Contact.objects.values_list("phone", "name", "attributes"))
    rows = 300_000
    lines = ["phone,name,city"] + [f"09{n:08d},Name {n},City {n % 50}" for n in range(rows)]
    lines[1] = "0912345678,New,Huế"
    item = _upload(tmp_path, ("\n".join(lines) + "\n").encode(), name="name", attributes=["city"])

    env = {**os.environ, "DATABASE_URL": _database_url()}
    code = f"from audiences.imports import run_import; run_import({item.pk})"
    child = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            item.refresh_from_db()
            if item.rows_done > 0 or child.poll() is not None:
                break
            time.sleep(0.01)
        assert child.poll() is None, "the child finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    item.refresh_from_db()
    assert item.status == ContactImport.Status.RUNNING and 0 < item.rows_done < rows
    assert list(Contact.objects.values_list("phone", "name", "attributes")) == before
    assert _stage_exists(item.pk)

    deadline = time.monotonic() + 20  # the server notices the dead connection and frees its lock
    while (outcome := imports.run_import(item.pk)) == "running in another worker":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    item.refresh_from_db()
    assert outcome.startswith("done"), outcome
    assert item.status == ContactImport.Status.DONE and item.attempts == 2
    assert item.error.startswith("Attempt 1 stopped after")
    assert item.rows_total == rows and item.rows_rejected == 0 and item.rows_merged == rows
    assert Contact.objects.count() == rows
    assert Contact.objects.get(phone="84912345678").attributes == {"city": "Huế"}
    assert not _stage_exists(item.pk)
