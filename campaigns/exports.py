"""CSV exports of the message log (campaigns.logs): streamed at once, or written to a file by a job.

Both read the filter in keyset chunks of `logs.CHUNK_SIZE` rows (constant memory at any size, each
chunk one short query in index order, no long transaction) and write UTF-8 with a BOM (Excel opens
it as UTF-8), times in Vietnam time. Phones are masked (0912***678) unless the exporter may reveal
them (`reveal_phones`). Every export is audited (`campaign.log_export`) with its filter (phone
masked), the rows written and whether it was complete; a streamed download that the client drops
is audited with the rows sent so far. Job files live in `LOG_EXPORT_DIR` (default `var/exports/`)
and are deleted with their row after `LOG_EXPORT_KEEP_HOURS` (`purge_expired_exports`).
"""

import csv
import io
import logging
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import logs
from campaigns.models import CampaignMessage, LogExport
from compliance import actions
from compliance.services import actor_name, record_audit_event
from zalo_admin import jobs
from zalo_admin.lib.dates import VIETNAM
from zalo_admin.lib.phones import mask_phone, national_format

logger = logging.getLogger(__name__)
BOM = "\ufeff"
JOB = "campaigns.exports.run_log_export"  # takes the export id; safe to run twice
TARGET_TYPE = "campaigns.campaignmessage"
# Progress is written to the export's row once per this many rows (a short UPDATE, committed).
PROGRESS_EVERY = 20_000


def export_dir() -> Path:
    return Path(settings.LOG_EXPORT_DIR)


def keep_hours() -> int:
    return settings.LOG_EXPORT_KEEP_HOURS


def _phone(phone: str, masked: bool) -> str:
    try:
        return mask_phone(phone) if masked else national_format(phone)
    except ValueError:  # an erased contact's pseudonym
        return "(erased)"


def _time(moment: datetime | None) -> str:
    return moment.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def header() -> list[str]:
    return [
        _("queued at (Vietnam time)"),
        _("message id"),
        _("tracking id"),
        _("OA"),
        _("campaign id"),
        _("campaign"),
        _("phone"),
        _("state"),
        _("attempts"),
        _("error"),
        _("provider code"),
        _("provider message"),
        _("provider message id"),
        _("accepted at"),
        _("delivered at"),
        _("failed at"),
        _("last change"),
    ]


_AT = {name: index for index, name in enumerate(logs.COLUMNS)}


def row_values(row: tuple, masked: bool, labels: dict) -> list:
    """One CSV line from a row of `logs.COLUMNS`."""
    state = row[_AT["state"]]
    return [
        _time(row[_AT["created_at"]]),
        row[_AT["id"]],
        row[_AT["tracking_id"]],
        row[_AT["campaign__oa__name"]],
        row[_AT["campaign_id"]],
        row[_AT["campaign__name"]],
        _phone(row[_AT["phone"]], masked),
        labels.get(state, state),
        row[_AT["attempts"]],
        row[_AT["error_code"]],
        row[_AT["provider_error_code"]],
        row[_AT["provider_error_message"]],
        row[_AT["provider_message_id"]],
        _time(row[_AT["accepted_at"]]),
        _time(row[_AT["delivered_at"]]),
        _time(row[_AT["failed_at"]]),
        _time(row[_AT["updated_at"]]),
    ]


def csv_chunks(chunks: Iterable[list[tuple]], masked: bool, counter: list[int]) -> Iterator[str]:
    """The CSV text: the BOM and header, then one string per chunk of rows; `counter[0]` counts rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    labels = {value: str(label) for value, label in CampaignMessage.State.choices}
    writer.writerow(header())
    yield BOM + buffer.getvalue()
    for chunk in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(row_values(row, masked, labels) for row in chunk)
        counter[0] += len(chunk)
        yield buffer.getvalue()


def audit_filter(log_filter: logs.LogFilter) -> dict:
    """The filter as the audit log keeps it: the phone masked (the log is immutable, a phone is not)."""
    values = log_filter.as_dict()
    if "phone" in values:
        values["phone"] = _phone(values["phone"], masked=True)
    return values


def record_export(*, actor, log_filter: logs.LogFilter, rows: int, masked: bool, how: str, complete: bool):
    return record_audit_event(
        actor=actor_name(actor),
        action=actions.CAMPAIGN_LOG_EXPORT,
        target_type=TARGET_TYPE,
        details={
            "rows": rows,
            "how": how,
            "phones": "masked" if masked else "full",
            "complete": complete,
            "filter": audit_filter(log_filter),
        },
    )


# --- streamed --------------------------------------------------------------------------------------------


def stream_csv(log_filter: logs.LogFilter, *, actor, masked: bool, chunk_size: int = logs.CHUNK_SIZE):
    """The whole filter as CSV text pieces, for a StreamingHttpResponse; audited once the stream ends
    (completely, or when the client goes away: with the rows sent so far)."""
    counter = [0]
    complete = False
    try:
        yield from csv_chunks(logs.iter_chunks(log_filter, size=chunk_size), masked, counter)
        complete = True
    finally:
        record_export(
            actor=actor,
            log_filter=log_filter,
            rows=counter[0],
            masked=masked,
            how="stream",
            complete=complete,
        )


# --- prepared by a job -----------------------------------------------------------------------------------


def request_export(log_filter: logs.LogFilter, *, user, masked: bool) -> LogExport:
    """Queue the export of the filter to a file; the job writes it and records its progress."""
    with transaction.atomic():
        export = LogExport.objects.create(
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            requested_by_name=actor_name(user),
            filters=log_filter.as_dict(),
            masked=masked,
        )
        jobs.enqueue(JOB, export.pk)
    return export


def export_path(export: LogExport) -> Path | None:
    return export_dir() / export.file_name if export.file_name else None


def run_log_export(
    export_id: int, *, chunk_size: int = logs.CHUNK_SIZE, progress_every: int = PROGRESS_EVERY
) -> str:
    """Write the export's file (a queued export only: running it twice writes once)."""
    claimed = LogExport.objects.filter(pk=export_id, status=LogExport.Status.QUEUED).update(
        status=LogExport.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "not queued"
    export = LogExport.objects.get(pk=export_id)
    log_filter = logs.LogFilter.from_dict(export.filters)
    LogExport.objects.filter(pk=export.pk).update(rows_expected=logs.count_up_to(log_filter, 100_000_000))
    directory = export_dir()
    directory.mkdir(parents=True, exist_ok=True)
    name = f"message-log-{export.pk}-{secrets.token_hex(8)}.csv"
    path = directory / name
    counter = [0]
    last_reported = 0
    try:
        with (
            translation.override(settings.LANGUAGE_CODE),
            path.open("w", encoding="utf-8", newline="") as out,
        ):
            for text in csv_chunks(logs.iter_chunks(log_filter, size=chunk_size), export.masked, counter):
                out.write(text)
                if counter[0] - last_reported >= progress_every:
                    last_reported = counter[0]
                    LogExport.objects.filter(pk=export.pk).update(rows_written=counter[0])
    except Exception as exc:
        logger.exception("message log export %s failed", export.pk)
        path.unlink(missing_ok=True)
        LogExport.objects.filter(pk=export.pk).update(
            status=LogExport.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            rows_written=counter[0],
            finished_at=timezone.now(),
        )
        return "failed"
    with transaction.atomic():
        LogExport.objects.filter(pk=export.pk).update(
            status=LogExport.Status.DONE,
            rows_written=counter[0],
            rows_expected=counter[0],
            file_name=name,
            size_bytes=path.stat().st_size,
            finished_at=timezone.now(),
        )
        record_export(
            actor=export.requested_by_name,
            log_filter=log_filter,
            rows=counter[0],
            masked=export.masked,
            how=f"file #{export.pk}",
            complete=True,
        )
    purge_expired_exports()
    return "done"


def progress(export: LogExport) -> dict:
    """What the export's page shows (and its JSON endpoint returns)."""
    expected = export.rows_expected
    if export.status == LogExport.Status.DONE:
        percent = 100
    elif expected:
        percent = min(99, export.rows_written * 100 // expected)
    else:
        percent = 0
    return {
        "status": export.status,
        "status_label": str(export.get_status_display()),
        "finished": export.finished,
        "percent": percent,
        "rows_written": export.rows_written,
        "rows_expected": expected,
        "display": {
            "rows_written": f"{export.rows_written:,}",
            "rows_expected": f"{expected:,}" if expected is not None else "—",
        },
    }


def record_download(export: LogExport, *, actor) -> None:
    record_audit_event(
        actor=actor_name(actor),
        action=actions.CAMPAIGN_LOG_EXPORT_DOWNLOAD,
        target=export,
        details={
            "export_id": export.pk,
            "rows": export.rows_written,
            "phones": "masked" if export.masked else "full",
        },
    )


def purge_expired_exports(now: datetime | None = None) -> int:
    """Delete the exports (files and rows) requested more than `LOG_EXPORT_KEEP_HOURS` ago."""
    cutoff = (now or timezone.now()) - timedelta(hours=keep_hours())
    expired = list(LogExport.objects.filter(created_at__lt=cutoff))
    for export in expired:
        path = export_path(export)
        if path is not None:
            path.unlink(missing_ok=True)
    LogExport.objects.filter(pk__in=[export.pk for export in expired]).delete()
    return len(expired)
