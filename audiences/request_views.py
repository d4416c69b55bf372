"""Data-subject request pages (compliance auditors): the register of requests with their legal
deadlines, and answering one (an export downloaded as JSON, or an erasure after a confirmation).

A request keeps the phone only as a keyed digest and masked: to answer it, the number is typed
again and must match. The export is produced by the POST that answers the request and returned as
the attachment: no copy of the person's data is stored (nothing more to erase later), and no GET
completes a request.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from audiences import data_requests
from audiences.forms import DataRequestForm, EraseDataRequestForm, ExportDataRequestForm
from audiences.models import ConsentEvent, DataRequest, Suppression
from compliance import actions
from compliance.integrity import latest_verification
from compliance.models import AuditEvent
from zalo_admin.roles import has_capability, require_capability

PAGE_SIZE = 50


def _received_now():
    return timezone.localtime().replace(second=0, microsecond=0)


@require_capability("handle_data_requests")
def request_list(request):
    """Open requests by deadline (the most urgent first), then the answered ones; the register form."""
    form = DataRequestForm(
        request.POST if request.method == "POST" else None, initial={"received_at": _received_now()}
    )
    if request.method == "POST" and form.is_valid():
        created = data_requests.receive_request(
            actor=request.user,
            phone=form.cleaned_data["phone"],
            kind=form.cleaned_data["kind"],
            received_at=form.cleaned_data["received_at"],
        )
        messages.success(
            request,
            _("Data request #%(id)s registered for %(phone)s: answer it by %(deadline)s (Vietnam time).")
            % {
                "id": created.pk,
                "phone": created.phone_masked,
                "deadline": timezone.localtime(created.deadline).strftime("%Y-%m-%d %H:%M"),
            },
        )
        return redirect("audiences:data_request", created.pk)
    answered = DataRequest.objects.exclude(status=DataRequest.Status.OPEN).order_by("-completed_at", "-id")
    return render(
        request,
        "audiences/requests/list.html",
        {
            "form": form,
            "open_requests": list(data_requests.open_requests()),
            "answered": Paginator(answered, PAGE_SIZE).get_page(request.GET.get("page")),
            "deadline_hours": {kind: data_requests.deadline_hours(kind) for kind in DataRequest.Kind.values},
        },
    )


def _answer_form(data_request, data=None):
    form_class = (
        ExportDataRequestForm if data_request.kind == DataRequest.Kind.EXPORT else EraseDataRequestForm
    )
    return form_class(data, data_request=data_request)


def _export_response(data_request, data) -> HttpResponse:
    response = HttpResponse(data_requests.export_json(data), content_type="application/json; charset=utf-8")
    # The file name names the request, never the phone.
    response["Content-Disposition"] = f'attachment; filename="data-request-{data_request.pk}-export.json"'
    patch_cache_control(response, no_store=True, private=True)
    return response


def _answer(request, data_request, form):
    """Run the answer the form confirmed: the export's file, or a redirect after the erasure."""
    phone = form.cleaned_data["phone"]
    if data_request.kind == DataRequest.Kind.EXPORT:
        data = data_requests.export_person(phone, actor=request.user, request=data_request)
        messages.success(
            request, _("Data request #%(id)s answered: the export was downloaded.") % {"id": data_request.pk}
        )
        return _export_response(data_request, data)
    data_requests.erase_person(phone, request.user, request=data_request)
    messages.success(
        request, _("Data request #%(id)s answered: the person's data is erased.") % {"id": data_request.pk}
    )
    return redirect("audiences:data_request", data_request.pk)


def _audit_entry(data_request):
    action = (
        actions.DATA_REQUEST_EXPORT
        if data_request.kind == DataRequest.Kind.EXPORT
        else actions.DATA_REQUEST_ERASE
    )
    return (
        AuditEvent.objects.filter(
            action=action, target_type=DataRequest._meta.label_lower, target_id=str(data_request.pk)
        )
        .order_by("seq")
        .first()
    )


def _erasure_outcome(data_request) -> dict:
    """What the erasure left, read back: the pseudonymised contact and its ledger, the digest-matched
    do-not-contact rows, and the audit entry with the last verification of the log."""
    contact = data_request.contact
    events = ConsentEvent.objects.filter(contact=contact) if contact else ConsentEvent.objects.none()
    return {
        "contact": contact,
        "consent_events": events.count(),
        "consent_fingerprints": events.exclude(evidence_sha256="").count(),
        "suppressions": Suppression.objects.filter(phone_hash=data_request.phone_hash).count(),
        "plain_phones_left": Suppression.objects.filter(phone_hash=data_request.phone_hash)
        .exclude(phone="")
        .count(),
    }


@require_capability("handle_data_requests")
def request_detail(request, request_id):
    """A request; POST answers it (an export returns its JSON file, an erasure redirects back here)."""
    data_request = get_object_or_404(DataRequest.objects.select_related("contact"), pk=request_id)
    form = None
    if data_request.status == DataRequest.Status.OPEN:
        form = _answer_form(data_request, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                return _answer(request, data_request, form)
            except ValueError:  # answered meanwhile, in another tab or by a colleague
                messages.error(request, _("This request was answered meanwhile: nothing more was done."))
                return redirect("audiences:data_request", data_request.pk)
    elif request.method == "POST":
        messages.error(
            request,
            _("This request is already answered: nothing was done. Register a new request to answer again."),
        )
        return redirect("audiences:data_request", data_request.pk)
    completed = data_request.status == DataRequest.Status.COMPLETED
    erased = completed and data_request.kind == DataRequest.Kind.ERASURE
    return render(
        request,
        "audiences/requests/detail.html",
        {
            "data_request": data_request,
            "form": form,
            "is_export": data_request.kind == DataRequest.Kind.EXPORT,
            "overdue": data_request.is_overdue(),
            "audit_entry": _audit_entry(data_request) if completed else None,
            "outcome": _erasure_outcome(data_request) if erased else None,
            "verification": latest_verification() if erased else None,
            "can_view_contacts": has_capability(request.user, "view_audiences"),
        },
    )
