"""Contact import pages (issue 11): list, upload, column mapping, progress, cancel, rejection report.

Thin views over `audiences.imports`: the service stores and inspects the file, maps it, starts the
job (`audiences.jobs.run_contact_import`, through `zalo_admin.jobs`) and cancels it. The progress
page works without JavaScript (figures rendered here, a refresh link); `static/js/job-progress.js`
polls `import_progress` (JSON) every second while the import runs.
"""

import csv
import math

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from audiences import imports
from audiences.forms import ImportMappingForm, ImportUploadForm
from audiences.models import ContactImport, Purpose
from teams.scoping import get_visible_or_404, visible
from zalo_admin.lib.phones import PhoneRejected, mask_phone, parse_vietnamese_mobile
from zalo_admin.roles import has_capability, require_capability

PAGE_SIZE = 25
ACTIVE = (ContactImport.Status.MAPPED, ContactImport.Status.RUNNING, ContactImport.Status.CANCELLING)
FINISHED = (ContactImport.Status.DONE, ContactImport.Status.FAILED, ContactImport.Status.CANCELLED)
CANCELLABLE = (
    ContactImport.Status.UPLOADED,
    ContactImport.Status.MAPPED,
    ContactImport.Status.RUNNING,
)
PHONE_HEADERS = ("phone", "mobile", "sdt", "sđt", "số điện thoại", "so dien thoai", "điện thoại", "tel")
NAME_HEADERS = ("name", "full name", "tên", "họ tên", "họ và tên", "ho ten", "ten")


def _masked_cell(cell: str) -> str:
    """A preview cell with any phone number in it masked (0912***678); other cells of 9 digits or more
    are masked too, as they may still be a person's number."""
    try:
        return mask_phone(parse_vietnamese_mobile(cell))
    except PhoneRejected:
        pass
    if sum(character.isdigit() for character in cell) >= 9:
        stripped = cell.strip()
        return f"{stripped[:4]}***{stripped[-3:]}"
    return cell


def _guess(header: list[str], rows: list[list[str]]) -> dict:
    """Preselected columns: the header that names a phone (or the first column full of mobile
    numbers) and the one that names a name."""
    lowered = [column.strip().lower() for column in header]
    phone = next((header[at] for at, column in enumerate(lowered) if column in PHONE_HEADERS), "")
    if not phone:
        for at, column in enumerate(header):
            cells = [row[at] for row in rows if row[at].strip()]
            if column and cells and all(_masked_cell(cell) != cell for cell in cells):
                phone = column
                break
    name = next((header[at] for at, column in enumerate(lowered) if column in NAME_HEADERS), "")
    return {"phone": phone, "name": name if name != phone else ""}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(math.ceil(seconds)))
    if seconds < 60:
        return ngettext("%(count)s second", "%(count)s seconds", seconds) % {"count": seconds}
    minutes, rest = divmod(seconds, 60)
    return _("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": rest}


def _progress(item: ContactImport) -> dict:
    """The figures of the progress page and of its JSON endpoint."""
    rate = item.rate
    remaining = max(item.rows_total - item.rows_done, 0)
    running = item.status in (ContactImport.Status.RUNNING, ContactImport.Status.CANCELLING)
    eta = (
        remaining / rate
        if running and rate > 0
        else (0 if item.status == ContactImport.Status.DONE else None)
    )
    total = item.rows_total
    percent = (
        100
        if item.status == ContactImport.Status.DONE
        else (min(100, int(item.rows_done * 100 / total)) if total else 0)
    )
    merging = item.status == ContactImport.Status.RUNNING and total and item.rows_done >= total
    return {
        "status": item.status,
        "status_label": item.get_status_display(),
        "finished": item.status in FINISHED,
        "rows_done": item.rows_done,
        "rows_total": total,
        "percent": percent,
        "rate": round(rate, 1),
        "eta_seconds": None if eta is None else int(math.ceil(eta)),
        "rejected": item.rows_rejected,
        "blank": item.rows_blank,
        "merged": item.rows_merged,
        "consents_granted": item.consents_granted,
        "display": {
            "rows": _("%(done)s of %(total)s")
            % {
                "done": number_format(item.rows_done, force_grouping=True),
                "total": number_format(total, force_grouping=True),
            },
            "rate": _("%(rate)s rows/s") % {"rate": number_format(int(rate), force_grouping=True)},
            "eta": _duration(eta),
            "rejected": number_format(item.rows_rejected, force_grouping=True),
            "phase": _("Merging into the contacts…") if merging else "",
        },
    }


def _who(actor: str) -> str:
    return actor.split(":", 1)[1] if actor.startswith("user:") else actor


@require_capability("view_audiences")
def import_list(request):
    page = Paginator(visible(request.user, ContactImport), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = [(item, _who(item.created_by)) for item in page.object_list]
    return render(
        request,
        "audiences/imports/list.html",
        {"page": page, "can_manage": has_capability(request.user, "manage_audiences")},
    )


@require_capability("manage_audiences")
def import_upload(request):
    posted = request.method == "POST"
    form = ImportUploadForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        max_bytes=imports.max_upload_bytes(),
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            item = imports.create_import(
                actor=request.user,
                uploaded_file=upload,
                original_name=upload.name,
                team=form.cleaned_data["team"],
            )
        except imports.ImportRefused as refused:
            form.add_error("file", refused.message)
        else:
            return redirect("audiences:import_map", item.pk)
    return render(
        request,
        "audiences/imports/upload.html",
        {"form": form, "max_mb": imports.max_upload_bytes() // (1024 * 1024)},
    )


@require_capability("manage_audiences")
def import_map(request, import_id):
    item = get_visible_or_404(request.user, ContactImport, pk=import_id)
    if item.status not in (ContactImport.Status.UPLOADED, ContactImport.Status.MAPPED):
        messages.info(request, _("This import has already started; its columns can no longer be changed."))
        return redirect("audiences:import_detail", item.pk)
    header = list(item.header)
    try:
        rows = imports.preview_rows(item)
        file_error = ""
    except OSError:
        rows, file_error = [], _("The stored file cannot be read any more: upload it again.")
    guess = _guess(header, rows)
    if item.mapping:
        guess = {
            "phone": item.mapping.get("phone", ""),
            "name": item.mapping.get("name", ""),
            "attributes": item.mapping.get("attributes", []),
            "consent_purpose": item.consent_purpose,
            "consent_collector": item.consent_collector,
            "consent_wording": item.consent_wording,
            "consent_evidence_text": item.consent_evidence_text,
        }
    data = request.POST if request.method == "POST" else None
    form = ImportMappingForm(data, header=header, purposes=Purpose.choices, guess=guess)
    if request.method == "POST" and not file_error and form.is_valid():
        data = form.cleaned_data
        try:
            imports.map_columns(
                item,
                actor=request.user,
                phone=data["phone"],
                name=data["name"],
                attributes=data["attributes"],
                consent_purpose=data["consent_purpose"],
                consent_collector=data["consent_collector"],
                consent_wording=data["consent_wording"],
                consent_evidence_text=data["consent_evidence_text"],
            )
            imports.start_import(item, actor=request.user)
        except ValueError as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, _("The import has started."))
            return redirect("audiences:import_detail", item.pk)
    return render(
        request,
        "audiences/imports/map.html",
        {
            "item": item,
            "form": form,
            "header": header,
            "rows": [[_masked_cell(cell) for cell in row] for row in rows],
            "file_error": file_error,
            "delimiter": {",": _("comma"), ";": _("semicolon"), "\t": _("tab"), "|": _("vertical bar")}.get(
                item.delimiter, item.delimiter
            ),
        },
    )


@require_capability("view_audiences")
def import_detail(request, import_id):
    item = get_visible_or_404(request.user, ContactImport, pk=import_id)
    can_manage = has_capability(request.user, "manage_audiences")
    return render(
        request,
        "audiences/imports/detail.html",
        {
            "item": item,
            "progress": _progress(item),
            "who": _who(item.created_by),
            "active": item.status in ACTIVE,
            "can_cancel": can_manage and item.status in CANCELLABLE,
            "can_map": can_manage
            and item.status in (ContactImport.Status.UPLOADED, ContactImport.Status.MAPPED),
            "can_report": can_manage,
            "progress_url": reverse("audiences:import_progress", args=[item.pk]),
        },
    )


@require_capability("view_audiences")
@require_GET
def import_progress(request, import_id):
    item = get_visible_or_404(request.user, ContactImport, pk=import_id)
    return JsonResponse(_progress(item))


@require_capability("manage_audiences")
@require_POST
def import_cancel(request, import_id):
    item = get_visible_or_404(request.user, ContactImport, pk=import_id)
    try:
        item = imports.cancel_import(item, actor=request.user)
    except ValueError as refused:
        messages.error(request, str(refused))
    else:
        if item.status == ContactImport.Status.CANCELLED:
            messages.success(request, _("The import is cancelled; no contact was changed."))
        else:
            messages.success(
                request, _("Cancelling: the import stops after the current chunk; no contact is changed.")
            )
    return redirect("audiences:import_detail", item.pk)


class _Echo:
    """A write-only buffer for csv.writer: each row comes back as a string to stream."""

    def write(self, value):
        return value


def _report_lines(item: ContactImport):
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([_("line"), _("reason code"), _("reason"), _("row")])
    for line, code, message, raw in imports.rejection_report_rows(item):
        yield writer.writerow([line, code, message, raw])


@require_capability("manage_audiences")
@require_GET
def import_rejections(request, import_id):
    """The rejected rows as CSV (UTF-8 with a BOM, for Excel), streamed; each download is audited:
    the raw rows may hold phone numbers."""
    item = get_visible_or_404(request.user, ContactImport, pk=import_id)
    imports.record_report_download(item, actor=request.user)
    response = StreamingHttpResponse(_report_lines(item), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{item.pk}-rejections.csv"'
    return response
