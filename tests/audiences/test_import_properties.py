"""Property-based tests of the CSV import (issue 15, "Bad input everywhere"): any bytes, any
encoding, delimiter, BOM and line ending, ragged rows, huge cells, NUL bytes, spreadsheet formulas
and every column mapping. Whatever the file, the service and its pages never crash: a structural
error is refused with a readable message before anything changes (no import row, no stored copy, the
contacts and the consent ledger as they were); a file that is read has its row errors in the
rejection report with their line numbers and reasons, and its counts add up (accepted + rejected +
duplicates = data rows), checked against an independent reading of the same file."""

import codecs
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audiences import imports
from audiences.imports import ImportRefused
from audiences.models import ConsentEvent, Contact, ContactImport, ImportRejection, Purpose
from compliance.models import AuditEvent
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile

pytestmark = pytest.mark.django_db
ACTOR = "user:fuzzer"
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Cells: phones in every spelling, text of any kind (NUL and control characters included), formulas,
# quotes and delimiters inside cells, and now and then a huge one.
PHONE_CELLS = st.sampled_from(
    ["0912345678", "84912345678", "+84 912 345 678", "0912.345.678", "0912 345 679", "0987654321",
     "0123456789", "912345678", "09123456789", "08", "", " 0912345678 ", "0912345678\n", "(+84)912345680"]
)  # fmt: skip
FORMULAS = st.sampled_from(
    ["=1+1", "=cmd|' /C calc'!A0", "+84912345678", "-1", "@SUM(A1)", '=HYPERLINK("x")']
)
HUGE = st.integers(min_value=150, max_value=140_000).map(lambda n: "x" * n)
CELLS = (
    PHONE_CELLS
    | FORMULAS
    | st.text(st.characters(blacklist_characters="\x00"), max_size=30)
    | st.sampled_from(['"', '""', ",", ";", "\t", "|", "\r", "\n", "\u200b", "\ufeff"])
)
HEADERS = st.sampled_from(
    ["phone", "name", "city", "Số điện thoại", "tên", "", " phone ", "a,b", "\ufeffid"]
) | st.text(st.characters(blacklist_characters="\x00"), max_size=12)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1258", "latin-1", "utf-32"])


@st.composite
def csv_files(draw) -> bytes:
    """A CSV-ish file: a header, ragged rows, a delimiter, a line ending, an encoding (or a BOM).
    Mostly close to a real export (a phone column, UTF-8), so that many examples get imported."""
    delimiter = draw(st.sampled_from(",;\t|"))
    width = draw(st.integers(1, 5))
    header = [draw(HEADERS) for _ in range(width)]
    phone_at = draw(st.integers(0, width - 1))
    if draw(st.integers(0, 4)):
        header[phone_at] = draw(st.sampled_from(["phone", "sdt", "Phone"]))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        row = [draw(CELLS | HUGE if draw(st.integers(0, 15)) == 0 else CELLS) for _ in range(width)]
        if draw(st.integers(0, 3)):
            row[phone_at] = draw(PHONE_CELLS)
        cut = draw(st.integers(0, 3))  # ragged: cut short or padded
        rows.append(row[: width - cut] if cut < 3 else [*row, *draw(st.lists(CELLS, max_size=2))])
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"]))
    )
    writer.writerow(header)
    for row in rows:
        if draw(st.integers(0, 9)) == 0:
            buffer.write(delimiter.join(row) + "\n")  # unquoted: stray quotes and delimiters as they come
        else:
            writer.writerow(row)
        if draw(st.integers(0, 9)) == 0:
            buffer.write(draw(st.sampled_from(["\n", "\r\n", delimiter * 3 + "\n", "  \n"])))  # blank
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"] * 3) | ENCODINGS)
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:  # bytes spliced in: a NUL, a broken sequence, a BOM in the middle
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", codecs.BOM_UTF8, b"\r"]))
            + data[at:]
        )
    return data


FILES = st.one_of([csv_files()] * 5 + [st.binary(max_size=400)])


def _ledger_state():
    contacts = sorted(Contact.objects.values_list("phone", "name", "attributes"), key=lambda row: row[0])
    return contacts, ConsentEvent.objects.count()


def _reference(contact_import: ContactImport):
    """The file read independently: (data rows, {line: reason code} of the refused rows, the
    accepted phones in file order). Data rows are the records after the header that have any
    non-blank cell."""
    header = list(contact_import.header)
    mapping = contact_import.mapping
    phone_at = header.index(mapping["phone"])
    name_at = header.index(mapping["name"]) if mapping.get("name") else None
    data_rows, refused, accepted = 0, {}, []
    with open(contact_import.file_path, encoding=contact_import.encoding, newline="") as text:
        reader = csv.reader(text, delimiter=contact_import.delimiter)
        next((record for record in reader if record), None)
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            data_rows += 1
            record = record + [""] * (len(header) - len(record))
            try:
                phone = parse_vietnamese_mobile(record[phone_at])
            except PhoneRejected as refusal:
                refused[reader.line_num] = refusal.code
                continue
            if name_at is not None and len(record[name_at].strip()) > 200:
                refused[reader.line_num] = "name_too_long"
                continue
            accepted.append(phone)
    return data_rows, refused, accepted


def _mapping(draw, header):
    """Any mapping of the header's columns (and now and then a column it does not have, a column
    mapped twice, an unknown purpose or a consent basis without its collector or wording)."""
    named = [column for column in header if column]
    candidates = st.sampled_from(named) if named else st.just("phone")
    phone = draw(candidates if draw(st.integers(0, 7)) else st.text(max_size=8))
    name = draw(st.just("") | candidates)
    attributes = draw(st.lists(candidates, max_size=3, unique=True))
    purpose = draw(st.sampled_from(["", "", *Purpose.values, "spam"]))
    sensible = draw(st.integers(0, 3)) > 0
    return {
        "phone": phone,
        "name": name,
        "attributes": [column for column in attributes if column not in (phone, name)]
        if sensible
        else attributes,
        "consent_purpose": purpose,
        "consent_collector": "Shop form" if sensible else draw(st.sampled_from(["", " ", "Shop form"])),
        "consent_wording": "I agree" if sensible else draw(st.sampled_from(["", "I agree", "\u00a0"])),
        "consent_evidence_text": draw(st.text(st.characters(blacklist_characters="\x00"), max_size=20)),
    }


def test_any_file_with_any_mapping_is_refused_cleanly_or_imported_with_counts_that_add_up(tmp_path):
    outcomes = {"refused": 0, "mapping refused": 0, "imported": 0}

    @FUZZ
    @given(data=FILES, draw=st.data())
    def attempt(data, draw):
        path = tmp_path / "upload.csv"
        path.write_bytes(data)
        before, imports_before = _ledger_state(), ContactImport.objects.count()
        stored_before = set(imports.import_dir().glob("*.csv"))
        try:
            item = imports.create_import(actor=ACTOR, uploaded_file=path, original_name="upload.csv")
        except ImportRefused as refused:
            outcomes["refused"] += 1
            assert refused.code and str(refused).strip(), refused
            assert ContactImport.objects.count() == imports_before
            assert set(imports.import_dir().glob("*.csv")) == stored_before  # the stored copy is deleted
            assert _ledger_state() == before
            return

        mapping = _mapping(draw.draw, list(item.header))
        audit_before = AuditEvent.objects.count()
        try:
            imports.map_columns(item, actor=ACTOR, **mapping)
        except ValueError as refused:
            outcomes["mapping refused"] += 1
            assert str(refused).strip()
            item.refresh_from_db()
            assert (item.status, item.mapping) == (ContactImport.Status.UPLOADED, {})
            assert AuditEvent.objects.count() == audit_before
            return

        outcome = imports.run_import(item.pk)
        item.refresh_from_db()
        assert item.status == ContactImport.Status.DONE, (outcome, item.error)
        outcomes["imported"] += 1
        data_rows, refused, accepted = _reference(item)
        rejections = dict(ImportRejection.objects.filter(contact_import=item).values_list("line", "code"))
        messages = ImportRejection.objects.filter(contact_import=item).values_list("message", flat=True)
        assert rejections == refused
        assert all(message.strip() for message in messages)
        duplicates = len(accepted) - len(set(accepted))
        assert item.rows_merged == len(set(accepted))
        assert (
            item.rows_merged + item.rows_rejected + duplicates
            == data_rows
            == item.rows_done - item.rows_blank
        )
        assert set(accepted) <= set(
            Contact.objects.filter(phone__in=accepted).values_list("phone", flat=True)
        )
        new_phones = set(accepted) - {phone for phone, _name, _attributes in before[0]}
        assert Contact.objects.count() == len(before[0]) + len(new_phones)
        granted = len(set(accepted)) if mapping["consent_purpose"] else 0
        assert item.consents_granted == granted
        assert ConsentEvent.objects.count() == before[1] + granted

    attempt()
    assert outcomes["imported"] >= 1 and outcomes["refused"] >= 1, outcomes  # neither side vacuous


@pytest.mark.parametrize(
    ("tail", "code"),
    [
        (b"0912345679,\x00Lan\n", "binary"),  # NUL after the first 64 KB
        (b"0912345679,\xff\xfeLan\n", "not_utf8"),  # a legacy byte after the first 64 KB
        ("0912345679,Lan\n".encode("utf-16-le") + b"\x00\x00", "binary"),  # UTF-16: a NUL character
    ],
)
def test_a_bad_byte_past_the_inspected_head_is_refused_at_upload(tmp_path, tail, code):
    head = "phone,name\n" + "0912345678,Lan\n" * 5000  # 75 KB: past what inspection reads
    data = (
        head.encode("utf-16") + tail
        if code == "binary" and tail.endswith(b"\x00\x00")
        else head.encode() + tail
    )
    path = tmp_path / "late.csv"
    path.write_bytes(data)
    before = _ledger_state()
    with pytest.raises(ImportRefused) as refused:
        imports.create_import(actor=ACTOR, uploaded_file=path)
    assert refused.value.code == code and str(refused.value)
    assert not ContactImport.objects.exists() and not list(imports.import_dir().glob("*.csv"))
    assert _ledger_state() == before


def test_a_cell_over_the_csv_limit_fails_the_import_with_its_line_and_changes_nothing(tmp_path):
    head = b"phone,name\n" + b"0912345678,Lan\n0123,bad\n" * 2500
    path = tmp_path / "huge.csv"
    path.write_bytes(head + b"0912345679," + b"x" * 140_000 + b"\n0912345670,Minh\n")
    before = _ledger_state()
    item = imports.create_import(actor=ACTOR, uploaded_file=path)
    imports.map_columns(item, actor=ACTOR, phone="phone", name="name", consent_purpose=Purpose.MARKETING,
                        consent_collector="Shop", consent_wording="Yes")  # fmt: skip
    outcome = imports.run_import(item.pk)  # returns (the job is not retried): the file is at fault
    item.refresh_from_db()
    assert item.status == ContactImport.Status.FAILED and outcome.startswith("failed")
    assert item.error.startswith("Line 5002 holds a cell longer than 131,072 characters"), item.error
    assert _ledger_state() == before
    assert AuditEvent.objects.filter(action="contact_import.fail").exists()
    assert imports._stage_name(item.pk) not in connection.introspection.table_names()


# Pages ----------------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(marketer):
    client = Client()
    client.force_login(marketer)
    client.cookies["django_language"] = "en"
    return client


def test_the_upload_page_answers_any_file_with_the_mapping_page_or_a_reason(signed_in):
    @FUZZ
    @given(data=FILES, name=st.text(max_size=300))
    def upload(data, name):
        before = (ContactImport.objects.count(), _ledger_state())
        stored_before = set(imports.import_dir().glob("*.csv"))
        response = signed_in.post(
            reverse("audiences:import_upload"),
            {"file": SimpleUploadedFile(name or "x.csv", data, "text/csv")},
        )
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 200:  # refused: the reason is on the page, nothing stored
            assert b"errorlist" in response.content
            assert (ContactImport.objects.count(), _ledger_state()) == before
            assert set(imports.import_dir().glob("*.csv")) == stored_before
        else:
            item = ContactImport.objects.latest("pk")
            assert response["Location"] == reverse("audiences:import_map", args=[item.pk])
            page = signed_in.get(response["Location"])
            assert page.status_code == 200

    upload()


def test_the_mapping_page_answers_any_post_with_a_field_error_or_a_started_import(signed_in, tmp_path):
    path = tmp_path / "good.csv"
    path.write_bytes("phone;tên;city;\n0912345678;Lan;Huế;x\n0912345679;Minh;;\n".encode())
    fields = ["phone", "name", "attributes", "consent_purpose", "consent_collector", "consent_wording",
              "consent_evidence_text", "unknown"]  # fmt: skip
    values = st.sampled_from(["phone", "tên", "city", "", "nope", *Purpose.values]) | st.text(max_size=20)

    @FUZZ
    @given(post=st.dictionaries(st.sampled_from(fields), st.lists(values, max_size=3), max_size=8))
    def submit(post):
        item = imports.create_import(actor=ACTOR, uploaded_file=path)
        audit_before = AuditEvent.objects.count()
        response = signed_in.post(reverse("audiences:import_map", args=[item.pk]), post)
        assert response.status_code in (200, 302, 400), response.status_code
        item.refresh_from_db()
        if response.status_code != 302:  # the reason is on the field (or, for a NUL, in the 400)
            assert b"errorlist" in response.content or b"NUL character" in response.content
            assert (item.status, item.mapping) == (ContactImport.Status.UPLOADED, {})
            assert AuditEvent.objects.count() == audit_before
        else:
            assert item.status == ContactImport.Status.MAPPED
            assert item.mapping["phone"] in item.header

    submit()


def test_the_rejection_report_lists_each_refused_row_with_its_line_and_reason(signed_in, tmp_path):
    @FUZZ
    @given(rows=st.lists(PHONE_CELLS | FORMULAS | st.text(max_size=15), min_size=1, max_size=15))
    def report(rows):
        assume(any(_is_phone(cell) for cell in rows))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["phone", "note"])
        for cell in rows:
            writer.writerow([cell, "n"])
        path = tmp_path / "report.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        try:
            item = imports.create_import(actor=ACTOR, uploaded_file=path)
        except ImportRefused:
            return
        imports.map_columns(item, actor=ACTOR, phone="phone")
        imports.run_import(item.pk)
        item.refresh_from_db()
        response = signed_in.get(reverse("audiences:import_rejections", args=[item.pk]))
        assert response.status_code == 200
        lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
        _data_rows, refused, _accepted = _reference(item)
        assert [(int(line), code) for line, code, reason, _raw in lines[1:]] == sorted(refused.items())
        assert all(reason.strip() for _line, _code, reason, _raw in lines[1:])

    report()


def _is_phone(cell: str) -> bool:
    try:
        parse_vietnamese_mobile(cell)
    except PhoneRejected:
        return False
    return True
