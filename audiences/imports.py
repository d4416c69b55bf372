"""CSV import of contacts: inspect, map, run (as a job), cancel. No UI here; views call this API.

API (views call the first four; `audiences.jobs.run_contact_import` calls `run_import`):

- `inspect_file(path) -> FileInfo(encoding, delimiter, header, preview_rows)`: reads at most the
  first 64 KB. Accepted: UTF-8 with or without BOM ("utf-8" / "utf-8-sig") and UTF-16 with a BOM
  ("utf-16"). Anything else (Windows-1258, Latin-1…) is refused with code "not_utf8" and a message
  telling the user to save as "CSV UTF-8" in Excel. The delimiter is sniffed among , ; TAB |.
  Structural errors raise `ImportRefused(code, message)`: "empty", "binary", "excel" (an .xlsx/.xls
  workbook), "not_utf8", "no_header" (first row empty or holding a phone number instead of column
  names), "duplicate_header", "too_long" (a cell over the csv module's 131,072-character limit,
  usually a stray quote). `create_import` also decodes the whole file: a byte that is not UTF-8 or a
  NUL past the first 64 KB is refused there ("not_utf8" / "binary"), not half-way through the job; a
  cell too long past the sampled rows fails the job ("too_long", with its line), contacts untouched.
- `create_import(*, actor, uploaded_file, original_name="") -> ContactImport` (status "uploaded"):
  streams the upload (a Django `UploadedFile`, a binary file object, or a path) into
  `settings.CONTACT_IMPORT_DIR` (default `VAR_DIR / "imports"`) while hashing it, then inspects it.
  On `ImportRefused` the copy is deleted and nothing is recorded. The `ContactImport` keeps the
  header (for the mapping form) and a `ContactSource` (kind import) for the new contacts.
- `map_columns(contact_import, *, actor, phone, name="", attributes=(), consent_purpose="",
  consent_collector="", consent_wording="", consent_evidence_text="")` (status "mapped"): column
  names from `header`. The consent basis is optional: without `consent_purpose` no consent event is
  written (so marketing stays refused); with it, `consent_collector` and `consent_wording` are
  required. Refusals raise ValueError with a readable message.
- `start_import(contact_import, *, actor)`: enqueues the job after commit (status stays "mapped"
  until the worker takes it).
- `cancel_import(contact_import, *, actor)`: "uploaded"/"mapped" → "cancelled" now; "running" →
  "cancelling", honoured by the job between chunks and right before the merge.
- `run_import(import_id)`: the job. Safe to run twice (a finished import is left alone; one that is
  running in another live worker is left alone; one whose worker died is resumed).

How the job works: the file is streamed (memory stays flat), each row's phone parsed with
`parse_vietnamese_mobile`; a refused row becomes an `ImportRejection` (line number in the file, the
row's first 200 characters, the parser's reason code and message). Good rows go into a per-import
staging table `audiences_import_stage_<id>` (UNLOGGED and without index, filled with COPY on
PostgreSQL; executemany on SQLite) as text: line, phone, name and one column per mapped attribute,
the attributes JSON being built by the merge. Chunks of `CHUNK_ROWS` records: each chunk, its
rejections and the progress counters commit together (asynchronously: a server crash that loses
the last ones also empties the UNLOGGED stage, and the job then starts the file again), so an
interrupted job resumes after the last committed chunk. Contacts are untouched until the merge,
ONE transaction that:

1. upserts the contacts, one per phone, the file's LAST row of a phone winning within the file:
   a new phone is created (source: this import); an existing contact keeps its name unless the
   file's is non-empty, and its attributes are updated key by key (`existing || file's`; empty cells
   are not attributes, so they never erase a value);
2. appends, when the import has a consent basis, one grant per imported contact to the consent
   ledger (evidence: the file's SHA-256 and name, plus the evidence text), except for contacts whose
   current consent for that purpose is a withdrawal: a file never overrides a recorded withdrawal;
3. marks the import done and writes the audit entry.

On PostgreSQL 1 and 2 are one statement (the upsert's RETURNING ids feed the grants).

So a crash, SIGKILL or cancel before the merge leaves every contact and the ledger as they were.
PostgreSQL: a session advisory lock (held by the running job's connection, released by the server
when that connection dies) tells a live worker from a dead one. SQLite (`make run`, one process) has
no such lock: a "running" import found by a new run is taken as interrupted.
"""

import codecs
import csv
import hashlib
import os
import uuid
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audiences.models import ContactImport, ContactSource, ImportRejection, Purpose
from compliance import actions
from compliance.services import actor_name, record_audit_event
from teams.defaults import default_team_pk
from zalo_admin.jobs import enqueue
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile

__all__ = [
    "CHUNK_ROWS",
    "FileInfo",
    "ImportRefused",
    "cancel_import",
    "create_import",
    "import_dir",
    "inspect_file",
    "map_columns",
    "max_upload_bytes",
    "preview_rows",
    "record_report_download",
    "rejection_report_rows",
    "run_import",
    "start_import",
]

SNIFF_BYTES = 64 * 1024
CHUNK_ROWS = 10_000
PREVIEW_ROWS = 5
DELIMITERS = ",;\t|"
JOB_ACTOR = "system:contact-import"
_ADVISORY_NAMESPACE = 7311  # pg_try_advisory_lock(namespace, import id)
_RAW_EXCERPT = 200
_NAME_MAX = 200

SAVE_AS_UTF8 = (
    "The file is not UTF-8 text (it may be Windows-1258 or another legacy encoding). In Excel choose "
    "File › Save As › “CSV UTF-8 (Comma delimited) (*.csv)”, then upload the new file."
)


class ImportRefused(ValueError):
    """The file cannot be imported at all: `code` is stable, `message` is for the reader."""

    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(code, message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FileInfo:
    encoding: str  # "utf-8", "utf-8-sig" or "utf-16" (a name `open()` accepts)
    delimiter: str
    header: list[str]
    preview_rows: list[list[str]]


def import_dir() -> Path:
    return Path(settings.CONTACT_IMPORT_DIR)


# Inspection ----------------------------------------------------------------------------------------


def _detect_encoding(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused(
            "excel",
            _("This is an Excel workbook, not a CSV file. In Excel choose File › Save As › “CSV UTF-8”."),
        )
    if b"\x00" in head:
        raise ImportRefused("binary", _("This is not a CSV file (it contains binary data)."))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise ImportRefused("not_utf8", _(SAVE_AS_UTF8)) from None
    return "utf-8"


def _sniff_delimiter(sample: str) -> str:
    lines = sample.splitlines()
    complete = "\n".join(lines[:-1] if len(lines) > 1 else lines)
    try:
        return csv.Sniffer().sniff(complete, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = lines[0] if lines else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _looks_like_phone(cell: str) -> bool:
    try:
        parse_vietnamese_mobile(cell)
    except PhoneRejected:
        return False
    return True


def _cell_too_long(line: int) -> ImportRefused:
    """The csv module stops at a cell over its field limit (131,072 characters): no contact list
    has one, but a stray quote that swallows the rest of the file does."""
    return ImportRefused(
        "too_long",
        _(
            "Line %(line)s holds a cell longer than %(limit)s characters: this is not a contact list, "
            "or its quotes do not match. No contact was changed."
        )
        % {"line": line, "limit": f"{csv.field_size_limit():,}"},
    )


def inspect_file(path) -> FileInfo:
    """Encoding, delimiter, header and a few rows of the file; ImportRefused when it cannot be read."""
    with open(path, "rb") as raw:
        head = raw.read(SNIFF_BYTES)
    if not head.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise ImportRefused("empty", _("The file is empty."))
    encoding = _detect_encoding(head)
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    if "\x00" in sample:
        raise ImportRefused("binary", _("This is not a CSV file (it contains binary data)."))
    if encoding == "utf-16" and not sample.strip():
        raise ImportRefused("empty", _("The file is empty."))
    delimiter = _sniff_delimiter(sample.lstrip("\ufeff"))
    with open(path, encoding=encoding, newline="", errors="replace") as text:
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next((row for row in reader if row), [])
            preview = []
            for row in reader:
                if row:
                    preview.append(row)
                if len(preview) >= PREVIEW_ROWS:
                    break
        except csv.Error:
            raise _cell_too_long(reader.line_num) from None
    header = [cell.strip() for cell in header]
    if not any(header) or any(_looks_like_phone(cell) for cell in header if cell):
        raise ImportRefused(
            "no_header", _("The first row must name the columns (for example: phone, name, city).")
        )
    named = [cell for cell in header if cell]
    if len(set(named)) != len(named):
        raise ImportRefused("duplicate_header", _("Two columns have the same name; rename one of them."))
    return FileInfo(encoding, delimiter, header, preview)


# Upload, mapping, start, cancel --------------------------------------------------------------------


def max_upload_bytes() -> int:
    """The largest file `create_import` takes (`settings.CONTACT_IMPORT_MAX_BYTES`)."""
    return int(settings.CONTACT_IMPORT_MAX_BYTES)


def _too_big() -> ImportRefused:
    return ImportRefused(
        "too_big",
        _("The file is larger than %(size)s MB: split it into smaller files.")
        % {"size": max_upload_bytes() // (1024 * 1024)},
    )


def _sample(path, info: FileInfo, limit: int) -> list[list[str]]:
    """The first `limit` non-empty data rows."""
    rows = []
    with open(path, encoding=info.encoding, newline="", errors="replace") as text:
        reader = csv.reader(text, delimiter=info.delimiter)
        try:
            next((row for row in reader if row), None)  # the header
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                if len(rows) >= limit:
                    break
        except csv.Error:
            raise _cell_too_long(reader.line_num) from None
    return rows


_PHONE_SAMPLE_ROWS = 50


def _check_rows(path, info: FileInfo) -> None:
    """Refuse a file with no data row, or none of whose columns holds a mobile number in its first
    rows (the phone column cannot be mapped then): ImportRefused "no_rows" / "no_phone_column"."""
    rows = _sample(path, info, _PHONE_SAMPLE_ROWS)
    if not rows:
        raise ImportRefused("no_rows", _("The file has column names but no rows of contacts."))
    if not any(_looks_like_phone(cell) for row in rows for cell in row[: len(info.header)] if cell.strip()):
        raise ImportRefused(
            "no_phone_column",
            _(
                "No column holds Vietnamese mobile numbers (such as 0912 345 678) in the first rows: "
                "check that this is the right file."
            ),
        )


def _check_whole_file(path, info: FileInfo) -> None:
    """Inspection reads the first 64 KB: the rest of the file must decode too and hold no NUL (which
    no text column can store), or the file is refused before anything is recorded ("not_utf8" /
    "binary") rather than failing the job half-way."""
    decoder = codecs.getincrementaldecoder(info.encoding)()
    with open(path, "rb") as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError:
                raise ImportRefused("not_utf8", _(SAVE_AS_UTF8)) from None
            if "\x00" in text:
                raise ImportRefused("binary", _("This is not a CSV file (it contains binary data)."))
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportRefused("not_utf8", _(SAVE_AS_UTF8)) from None


def _chunks(uploaded_file):
    if isinstance(uploaded_file, str | Path):
        with open(uploaded_file, "rb") as handle:
            yield from iter(lambda: handle.read(1 << 20), b"")
    elif hasattr(uploaded_file, "chunks"):
        yield from uploaded_file.chunks()
    else:
        yield from iter(lambda: uploaded_file.read(1 << 20), b"")


def create_import(*, actor, uploaded_file, original_name: str = "", team=None) -> ContactImport:
    """Store and inspect an uploaded file as a new import of `team` (by default the default team)."""
    actor = actor_name(actor)
    original_name = (
        original_name or os.path.basename(str(getattr(uploaded_file, "name", uploaded_file))) or "import.csv"
    )[:255]
    folder = import_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}.csv"
    digest = hashlib.sha256()
    limit, size = max_upload_bytes(), 0
    try:
        with open(target, "wb") as out:
            for chunk in _chunks(uploaded_file):
                size += len(chunk)
                if size > limit:
                    raise _too_big()
                digest.update(chunk)
                out.write(chunk)
        info = inspect_file(target)
        _check_rows(target, info)
        _check_whole_file(target, info)
    except ImportRefused:
        target.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        source = ContactSource.objects.create(
            kind=ContactSource.Kind.IMPORT, label=original_name[:200], created_by=actor
        )
        contact_import = ContactImport.objects.create(
            source=source,
            file_path=str(target),
            file_sha256=digest.hexdigest(),
            original_name=original_name,
            encoding=info.encoding,
            delimiter=info.delimiter,
            header=info.header,
            created_by=actor,
            team_id=team.pk if team is not None else default_team_pk(),
        )
        record_audit_event(
            actor=actor,
            action=actions.CONTACT_IMPORT_UPLOAD,
            target=contact_import,
            details={
                "import_id": contact_import.pk,
                "file_name": original_name,
                "size": size,
                "file_sha256": contact_import.file_sha256,
            },
        )
        return contact_import


def map_columns(
    contact_import: ContactImport,
    *,
    actor,
    phone: str,
    name: str = "",
    attributes=(),
    consent_purpose: str = "",
    consent_collector: str = "",
    consent_wording: str = "",
    consent_evidence_text: str = "",
) -> ContactImport:
    actor = actor_name(actor)
    header = list(contact_import.header)
    if contact_import.status not in (ContactImport.Status.UPLOADED, ContactImport.Status.MAPPED):
        raise ValueError(_("This import has already started; its columns can no longer be changed."))
    attributes = list(attributes)
    for column in [phone, *([name] if name else []), *attributes]:
        if column not in header:
            raise ValueError(_("The file has no column “%(column)s”.") % {"column": column})
    if phone in attributes or (name and (name == phone or name in attributes)):
        raise ValueError(_("A column can be mapped only once."))
    if consent_purpose:
        if consent_purpose not in Purpose.values:
            raise ValueError(_("Unknown consent purpose."))
        if not consent_collector.strip() or not consent_wording.strip():
            raise ValueError(_("A consent basis needs who collected it and the wording people were shown."))
    contact_import.mapping = {"phone": phone, "name": name, "attributes": attributes}
    contact_import.consent_purpose = consent_purpose
    contact_import.consent_collector = consent_collector.strip() if consent_purpose else ""
    contact_import.consent_wording = consent_wording.strip() if consent_purpose else ""
    contact_import.consent_evidence_text = consent_evidence_text.strip() if consent_purpose else ""
    contact_import.status = ContactImport.Status.MAPPED
    with transaction.atomic():
        contact_import.save()
        record_audit_event(
            actor=actor,
            action=actions.CONTACT_IMPORT_MAP,
            target=contact_import,
            details={
                "import_id": contact_import.pk,
                "mapping": contact_import.mapping,
                "phone_column": phone,
                "consent": consent_purpose or "none",
                "consent_collector": contact_import.consent_collector,
            },
        )
    return contact_import


def start_import(contact_import: ContactImport, *, actor) -> None:
    actor_name(actor)
    if contact_import.status != ContactImport.Status.MAPPED:
        raise ValueError(_("Map the columns before starting the import."))
    enqueue("audiences.jobs.run_contact_import", contact_import.pk, queue="default")


def cancel_import(contact_import: ContactImport, *, actor) -> ContactImport:
    actor = actor_name(actor)
    with transaction.atomic():
        row = ContactImport.objects.select_for_update().get(pk=contact_import.pk)
        if row.status in (ContactImport.Status.UPLOADED, ContactImport.Status.MAPPED):
            _finish_cancelled(row, actor)
        elif row.status == ContactImport.Status.RUNNING:
            row.status = ContactImport.Status.CANCELLING
            row.save(update_fields=["status", "updated_at"])
            record_audit_event(
                actor=actor,
                action=actions.CONTACT_IMPORT_CANCEL_REQUEST,
                target=row,
                details={"import_id": row.pk, "rows_done": row.rows_done},
            )
        elif row.status != ContactImport.Status.CANCELLING:
            raise ValueError(_("This import is finished and cannot be cancelled."))
    return row


def _finish_cancelled(row: ContactImport, actor: str) -> None:
    row.status = ContactImport.Status.CANCELLED
    row.finished_at = timezone.now()
    row.save(update_fields=["status", "finished_at", "updated_at"])
    record_audit_event(
        actor=actor, action=actions.CONTACT_IMPORT_CANCEL, target=row, details={"import_id": row.pk}
    )


# Pages: preview and the rejection report ---------------------------------------------------------

PAGE_PREVIEW_ROWS = 10


def preview_rows(contact_import: ContactImport, limit: int = PAGE_PREVIEW_ROWS) -> list[list[str]]:
    """The first data rows of the stored file, as the job will read them (for the mapping page),
    each padded or cut to the header's width. OSError when the stored file is gone."""
    info = FileInfo(contact_import.encoding, contact_import.delimiter, list(contact_import.header), [])
    width = len(info.header)
    return [(row + [""] * width)[:width] for row in _sample(contact_import.file_path, info, limit)]


def rejection_report_rows(contact_import: ContactImport, chunk_size: int = 2000):
    """(line, code, reason, raw row) of every rejected row in line order, read in chunks (memory
    stays flat however many rows were rejected)."""
    rows = (
        ImportRejection.objects.filter(contact_import=contact_import)
        .order_by("line", "id")
        .values_list("line", "code", "message", "raw")
    )
    yield from rows.iterator(chunk_size=chunk_size)


def record_report_download(contact_import: ContactImport, *, actor) -> None:
    """Audit a download of the rejection report (its raw rows may hold phone numbers)."""
    record_audit_event(
        actor=actor_name(actor),
        action=actions.CONTACT_IMPORT_REPORT,
        target=contact_import,
        details={"import_id": contact_import.pk, "rows_rejected": contact_import.rows_rejected},
    )


# The job -------------------------------------------------------------------------------------------


def _stage_name(import_id: int) -> str:
    return f"audiences_import_stage_{int(import_id)}"


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _stage_columns(attribute_count: int) -> str:
    """The stage holds the parsed row as text: line, phone, name and one column per mapped attribute
    (a0, a1, …; stripped, "" when empty). The merge builds the attributes JSON."""
    return ", ".join(
        ["line integer NOT NULL", "phone varchar(11) NOT NULL", "name text NOT NULL"]
        + [f"a{index} text NOT NULL" for index in range(attribute_count)]
    )


def _create_stage(table: str, attribute_count: int) -> None:
    unlogged = "UNLOGGED " if _postgres() else ""  # no WAL, no index: the merge reads it once
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE {unlogged}TABLE IF NOT EXISTS {table} ({_stage_columns(attribute_count)})")


def _drop_stage(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _stage_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (our own table name)
        return cursor.fetchone()[0]


def _write_stage(table: str, rows: list[tuple]) -> None:
    if not rows:
        return
    columns = ", ".join(["line", "phone", "name"] + [f"a{index}" for index in range(len(rows[0]) - 3)])
    with connection.cursor() as cursor:
        if _postgres():
            # Nothing else may run on this connection while the COPY block is open.
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
        else:
            marks = ", ".join(["%s"] * len(rows[0]))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def _try_lock(import_id: int) -> bool:
    if not _postgres():
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, int(import_id)])
        return bool(cursor.fetchone()[0])


def _unlock(import_id: int) -> None:
    if _postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, int(import_id)])


def _count_lines(path: str, encoding: str) -> int:
    """Physical lines after the header (an estimate of the rows: blank lines and quoted newlines
    count); the exact figure is set when the file has been read."""
    if encoding == "utf-16":
        with open(path, encoding=encoding, newline="") as text:
            lines = sum(chunk.count("\n") for chunk in iter(lambda: text.read(1 << 20), ""))
    else:
        with open(path, "rb") as raw:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))
    return max(lines, 1) - 1


def _on_chunk(contact_import: ContactImport) -> None:
    """Called after each committed chunk (a seam for tests)."""


def run_import(import_id: int) -> str:
    """Run (or resume) the import; returns a short outcome for the job log."""
    if not _try_lock(import_id):
        return "running in another worker"
    try:
        return _run_locked(import_id)
    finally:
        _unlock(import_id)


def _claim(import_id: int) -> ContactImport | str:
    with transaction.atomic():
        row = ContactImport.objects.select_for_update().get(pk=import_id)
        if row.status in (ContactImport.Status.DONE, ContactImport.Status.CANCELLED):
            return f"already {row.status}"
        if row.status == ContactImport.Status.UPLOADED:
            return "not mapped"
        if row.status == ContactImport.Status.CANCELLING:
            _finish_cancelled(row, JOB_ACTOR)
            return "cancelled"
        if row.status in (ContactImport.Status.RUNNING, ContactImport.Status.FAILED) and row.attempts:
            row.error = (
                f"Attempt {row.attempts} stopped after {row.rows_done} row(s) without finishing "
                f"({row.error or 'the worker died'}); resumed."
            )[:2000]
        row.attempts += 1
        row.status = ContactImport.Status.RUNNING
        row.started_at = row.started_at or timezone.now()
        row.finished_at = None
        row.save()
        record_audit_event(
            actor=JOB_ACTOR,
            action=actions.CONTACT_IMPORT_START,
            target=row,
            details={"import_id": row.pk, "file_name": row.original_name, "attempt": row.attempts},
        )
        return row


def _run_locked(import_id: int) -> str:
    claimed = _claim(import_id)
    if isinstance(claimed, str):
        return claimed
    row = claimed
    table = _stage_name(row.pk)
    try:
        attribute_count = len(row.mapping.get("attributes", []))
        _create_stage(table, attribute_count)
        if _stage_count(table) != row.rows_done - row.rows_rejected - row.rows_blank:
            # The stage does not match the committed progress (e.g. a server crash emptied the
            # UNLOGGED table): start the file again.
            _drop_stage(table)
            _create_stage(table, attribute_count)
            with transaction.atomic():
                ImportRejection.objects.filter(contact_import=row).delete()
                row.rows_done = row.rows_rejected = row.rows_blank = 0
                row.save(update_fields=["rows_done", "rows_rejected", "rows_blank", "updated_at"])
        if not row.rows_total:
            row.rows_total = _count_lines(row.file_path, row.encoding)
            row.save(update_fields=["rows_total", "updated_at"])
        if not _read_file(row, table):
            _drop_stage(table)
            return "cancelled"
        outcome = _merge(row, table)
    except ImportRefused as refusal:  # the file cannot be read past some line: nothing was merged
        _fail(row.pk, refusal)
        _drop_stage(table)
        return f"failed: {refusal.message}"
    except Exception as error:
        _fail(row.pk, error)
        raise
    _drop_stage(table)
    return outcome


def _fail(import_id: int, error: Exception) -> None:
    if isinstance(error, ImportRefused):
        message = error.message
    elif isinstance(error, UnicodeDecodeError):
        message = _(SAVE_AS_UTF8)
    else:
        message = f"{type(error).__name__}: {error}"
    message = message[:2000]
    with transaction.atomic():
        row = ContactImport.objects.select_for_update().get(pk=import_id)
        row.status = ContactImport.Status.FAILED
        row.error = message
        row.finished_at = timezone.now()
        row.save(update_fields=["status", "error", "finished_at", "updated_at"])
        record_audit_event(
            actor=JOB_ACTOR,
            action=actions.CONTACT_IMPORT_FAIL,
            target=row,
            details={"import_id": row.pk, "error": message[:300]},
        )


def _cancel_requested(row: ContactImport) -> bool:
    status = ContactImport.objects.filter(pk=row.pk).values_list("status", flat=True).get()
    return status == ContactImport.Status.CANCELLING


def _read_file(row: ContactImport, table: str) -> bool:
    """Stage the rows after the committed progress; False when cancelled."""
    mapping = row.mapping
    header = list(row.header)
    phone_at = header.index(mapping["phone"])
    name_at = header.index(mapping["name"]) if mapping.get("name") else None
    attribute_at = [header.index(column) for column in mapping.get("attributes", [])]
    width = len(header)
    seen = row.rows_done  # data records already committed
    blank = row.rows_blank
    parse = parse_vietnamese_mobile
    with open(row.file_path, encoding=row.encoding, newline="") as text:
        reader = csv.reader(text, delimiter=row.delimiter)
        next((record for record in reader if record), None)  # the header
        for _skipped in islice(reader, seen):
            pass
        try:
            while True:
                staged, rejected, count = [], [], 0
                stage = staged.append
                # The usual row (its phone parses, every mapped cell present) costs one parse, the
                # strips and one tuple; anything else takes `_slow_row`, which decides exactly as the
                # rules say (blank, padded, rejected with its line and reason).
                for count, record in enumerate(islice(reader, CHUNK_ROWS), 1):  # noqa: B007
                    try:
                        phone = parse(record[phone_at])
                        name = record[name_at].strip() if name_at is not None else ""
                        if len(name) > _NAME_MAX:
                            raise PhoneRejected("name_too_long", _("The name is longer than 200 characters."))
                        stage((reader.line_num, phone, name, *[record[at].strip() for at in attribute_at]))
                    except (PhoneRejected, IndexError) as problem:
                        refusal = problem if isinstance(problem, PhoneRejected) else None
                        outcome = _slow_row(
                            row, record, reader.line_num, width, (phone_at, name_at, attribute_at), refusal
                        )
                        if outcome is None:
                            blank += 1
                        elif isinstance(outcome, ImportRejection):
                            rejected.append(outcome)
                        else:
                            stage(outcome)
                seen += count
                final = count < CHUNK_ROWS
                if not _commit_chunk(row, table, staged, rejected, seen, blank, final=final):
                    return False
                if final:
                    return True
        except csv.Error:  # a cell over the csv module's field limit: the file cannot be read on
            raise _cell_too_long(reader.line_num) from None


def _slow_row(row, record, line, width, columns, refusal=None):
    """None for a blank row, an unsaved ImportRejection, or the stage tuple. `refusal`: what the
    fast loop found for this complete record (no need to parse it again)."""
    phone_at, name_at, attribute_at = columns
    if not record or not any(cell.strip() for cell in record):
        return None
    if len(record) < width:
        record = record + [""] * (width - len(record))
    try:
        if refusal is not None:
            raise refusal
        phone = parse_vietnamese_mobile(record[phone_at])
        name = record[name_at].strip() if name_at is not None else ""
        if len(name) > _NAME_MAX:
            raise PhoneRejected("name_too_long", _("The name is longer than 200 characters."))
    except PhoneRejected as refusal:
        return ImportRejection(
            contact_import=row,
            line=line,
            raw=row.delimiter.join(record)[:_RAW_EXCERPT],
            code=refusal.code,
            message=str(refusal.message)[:300],
        )
    return (line, phone, name, *[record[at].strip() for at in attribute_at])


def _commit_chunk(row, table, staged, rejected, seen, blank, final=False) -> bool:
    with transaction.atomic():
        if _postgres():
            # A chunk is progress, not the import's result: losing the last ones in a server crash
            # is harmless (that crash also empties the UNLOGGED stage, and the job starts again).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        _write_stage(table, staged)  # the COPY block closes before anything else runs
        ImportRejection.objects.bulk_create(rejected)
        row.rows_done = seen
        row.rows_rejected += len(rejected)
        row.rows_blank = blank
        fields = ["rows_done", "rows_rejected", "rows_blank", "updated_at"]
        if final:
            row.rows_total = seen
            fields.append("rows_total")
        row.save(update_fields=fields)
    _on_chunk(row)
    if _cancel_requested(row):
        with transaction.atomic():
            locked = ContactImport.objects.select_for_update().get(pk=row.pk)
            _finish_cancelled(locked, JOB_ACTOR)
        return False
    return True


# The merge: one statement per target. The stage has no index: PostgreSQL sorts it once for
# DISTINCT ON (the file's last row of a phone wins) and feeds the upsert in phone order, so the
# unique index on phone is probed in order; the ids it returns feed the grants directly (no second
# join of the stage with the contacts). `_MERGE_WORK_MEM` keeps that sort in memory.
_MERGE_WORK_MEM = "256MB"

_PICK = {
    "postgresql": "SELECT DISTINCT ON (phone) phone, name, {attributes} AS attributes FROM {table} "
    "ORDER BY phone, line DESC",
    "sqlite": "SELECT phone, name, attributes FROM (SELECT phone, name, {attributes} AS attributes, "
    "ROW_NUMBER() OVER (PARTITION BY phone ORDER BY line DESC) AS rn FROM {table}) WHERE rn = 1",
}

_UPSERT = {
    "postgresql": """
        INSERT INTO audiences_contact (phone, name, attributes, source_id, created_at)
        SELECT phone, name, attributes, %s, %s FROM ({pick}) picked
        ON CONFLICT (phone) DO UPDATE SET
            name = COALESCE(NULLIF(EXCLUDED.name, ''), audiences_contact.name),
            attributes = audiences_contact.attributes || EXCLUDED.attributes
    """,
    "sqlite": """
        INSERT INTO audiences_contact (phone, name, attributes, source_id, created_at)
        SELECT phone, name, attributes, %s, %s FROM ({pick}) WHERE true
        ON CONFLICT (phone) DO UPDATE SET
            name = COALESCE(NULLIF(excluded.name, ''), audiences_contact.name),
            attributes = json_patch(audiences_contact.attributes, excluded.attributes)
    """,
}

_GRANT_COLUMNS = """audiences_consentevent (contact_id, purpose, kind, occurred_at, recorded_at,
    recorded_by, source, collector, wording, evidence_text, evidence_file_name, evidence_sha256, channel)"""
_GRANT_VALUES = "%s, 'granted', %s, %s, %s, %s, %s, %s, %s, %s, %s, ''"
# The contact's current consent for the purpose is a withdrawal (no grant after it).
_WITHDRAWN = """EXISTS (
    SELECT 1 FROM audiences_consentevent w
    WHERE w.contact_id = {contact} AND w.purpose = %s AND w.kind = 'withdrawn' AND NOT EXISTS (
        SELECT 1 FROM audiences_consentevent g
        WHERE g.contact_id = w.contact_id AND g.purpose = w.purpose AND g.kind = 'granted'
            AND g.occurred_at > w.occurred_at
    )
)"""

# PostgreSQL: the upsert and the grants in one statement.
_UPSERT_AND_GRANT = """
    WITH upserted AS ({upsert} RETURNING id),
    granted AS (
        INSERT INTO {grant_columns}
        SELECT u.id, {grant_values} FROM upserted u WHERE NOT {withdrawn}
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM granted)
"""

# SQLite: the grants after the upsert, for the contacts whose phone is in the stage.
_GRANTS = """
    INSERT INTO {grant_columns}
    SELECT c.id, {grant_values}
    FROM audiences_contact c JOIN (SELECT DISTINCT phone FROM {table}) s ON s.phone = c.phone
    WHERE NOT {withdrawn}
"""


def _attributes_sql(keys: list[str]) -> tuple[str, list]:
    """SQL building the row's attributes object from the stage columns: empty cells are no value."""
    cast = "::text" if _postgres() else ""  # psycopg sends the keys as parameters of unknown type
    pairs = ", ".join(f"%s{cast}, NULLIF(a{index}, '')" for index in range(len(keys)))
    if _postgres():
        return f"jsonb_strip_nulls(jsonb_build_object({pairs}))", list(keys)
    return f"json_patch('{{}}', json_object({pairs}))", list(keys)  # a null member is dropped


def _merge(row: ContactImport, table: str) -> str:
    """The one transaction that changes contacts and the ledger."""
    with transaction.atomic():
        locked = ContactImport.objects.select_for_update().get(pk=row.pk)
        if locked.status == ContactImport.Status.CANCELLING:
            _finish_cancelled(locked, JOB_ACTOR)
            _drop_stage(table)
            return "cancelled"
        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        attributes, attribute_params = _attributes_sql(list(locked.mapping.get("attributes", [])))
        pick = _PICK[connection.vendor].format(attributes=attributes, table=table)
        upsert = _UPSERT[connection.vendor].format(pick=pick)
        upsert_params = [locked.source_id, stamp, *attribute_params]
        purpose = locked.consent_purpose
        grant_params = [
            purpose,
            stamp,
            stamp,
            locked.created_by,
            f"import #{locked.pk}: {locked.original_name}"[:200],
            locked.consent_collector,
            locked.consent_wording,
            locked.consent_evidence_text,
            locked.original_name,
            locked.file_sha256,
            purpose,
        ]
        granted = 0
        with connection.cursor() as cursor:
            if _postgres():
                cursor.execute("SET LOCAL work_mem = %s", [_MERGE_WORK_MEM])
                # The contact facts of the segment counts (migration 0007) are written once, after
                # the merge, instead of inserted by the contact trigger and updated again by the
                # ledger's: the triggers skip them (never their integrity checks) while deferred.
                cursor.execute("SET LOCAL audiences.facts = 'deferred'")
                # Autovacuum has not seen the new stage yet: without its statistics the planner takes
                # it for a few hundred rows and probes the ledger once per contact (nested loop).
                cursor.execute(f"ANALYZE {table}")
            if _postgres() and purpose:
                statement = _UPSERT_AND_GRANT.format(
                    upsert=upsert,
                    grant_columns=_GRANT_COLUMNS,
                    grant_values=_GRANT_VALUES,
                    withdrawn=_WITHDRAWN.format(contact="u.id"),
                )
                cursor.execute(statement, upsert_params + grant_params)
                merged, granted = cursor.fetchone()
            else:
                cursor.execute(upsert, upsert_params)
                merged = cursor.rowcount
                if purpose:
                    statement = _GRANTS.format(
                        grant_columns=_GRANT_COLUMNS,
                        grant_values=_GRANT_VALUES,
                        table=table,
                        withdrawn=_WITHDRAWN.format(contact="c.id"),
                    )
                    cursor.execute(statement, grant_params)
                    granted = cursor.rowcount
            if _postgres():
                cursor.execute("SELECT audiences_refresh_contact_facts(%s::regclass)", [table])
                cursor.execute("SET LOCAL audiences.facts = ''")
        locked.rows_merged = merged
        locked.consents_granted = granted
        locked.status = ContactImport.Status.DONE
        locked.finished_at = now
        locked.save()
        record_audit_event(
            actor=JOB_ACTOR,
            action=actions.CONTACT_IMPORT_FINISH,
            target=locked,
            details={
                "import_id": locked.pk,
                "rows_total": locked.rows_total,
                "rows_rejected": locked.rows_rejected,
                "rows_merged": merged,
                "consents_granted": granted,
                "file_sha256": locked.file_sha256,
            },
        )
    return f"done: {merged} merged, {locked.rows_rejected} rejected"
