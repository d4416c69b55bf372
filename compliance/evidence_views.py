"""Evidence pack pages (compliance auditors and superusers: `export_audit`): request a pack, follow
its build (progress bar polled by static/js/job-progress.js through static/js/progress-poll.js;
without JavaScript a refresh link), download it. Thin views over `compliance.evidence`, which
audits the request and each download.

`?scope=campaign&campaign=12` (or `?scope=phone`) pre-fills the form, so other pages can link here.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from campaigns.models import Campaign
from compliance import evidence
from compliance.models import EvidencePack
from teams.scoping import get_visible_or_404, sees_all_teams, visible
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile
from zalo_admin.roles import require_capability

CAPABILITY = "export_audit"
PAGE_SIZE = 25


class PackRequestForm(forms.Form):
    scope = forms.ChoiceField(
        label=gettext_lazy("The pack covers"), choices=EvidencePack.Scope.choices, widget=forms.RadioSelect
    )
    campaign = forms.ModelChoiceField(
        label=gettext_lazy("Campaign"), queryset=Campaign.objects.order_by("-pk"), required=False
    )
    phone = forms.CharField(label=gettext_lazy("Phone number"), max_length=40, required=False)
    day_from = forms.DateField(
        label=gettext_lazy("First day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    day_to = forms.DateField(
        label=gettext_lazy("Last day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(
        label=gettext_lazy("Why is it needed"),
        max_length=evidence.REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Recorded in the audit log and in the pack, e.g. the regulator's request number."
        ),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None:
            self.fields["campaign"].queryset = visible(user, self.fields["campaign"].queryset)

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope in (EvidencePack.Scope.PHONE, EvidencePack.Scope.PERIOD) and not sees_all_teams(self.user):
            # Such a pack holds the messages of every team: for auditors who see all teams.
            self.add_error(
                "scope", _("Only an auditor who sees all teams can ask for a pack by phone or dates.")
            )
        if scope == EvidencePack.Scope.CAMPAIGN and not data.get("campaign"):
            self.add_error("campaign", _("Choose the campaign."))
        if scope == EvidencePack.Scope.PHONE:
            try:
                data["phone"] = parse_vietnamese_mobile(data.get("phone") or "")
            except PhoneRejected as rejected:
                self.add_error("phone", str(rejected))
        if scope == EvidencePack.Scope.PERIOD:
            first, last = data.get("day_from"), data.get("day_to")
            if first is None:
                self.add_error("day_from", _("Give the first day."))
            if last is None:
                self.add_error("day_to", _("Give the last day."))
            if first and last and last < first:
                self.add_error("day_to", _("The last day comes before the first."))
        return data


def _initial(request) -> dict:
    initial = {"scope": request.GET.get("scope") or EvidencePack.Scope.CAMPAIGN}
    if request.GET.get("campaign", "").isdigit():
        initial["campaign"] = int(request.GET["campaign"])
    return initial


@require_capability(CAPABILITY)
def pack_list(request):
    """The packs requested so far (newest first) and the request form."""
    form = PackRequestForm(
        request.POST if request.method == "POST" else None, initial=_initial(request), user=request.user
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            pack = evidence.request_pack(
                user=request.user,
                scope=data["scope"],
                reason=data["reason"],
                campaign_id=data["campaign"].pk if data.get("campaign") else None,
                phone=data.get("phone") or "",
                day_from=data.get("day_from"),
                day_to=data.get("day_to"),
            )
        except evidence.PackRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(
                request, _("Evidence pack #%(id)s requested: it is being built.") % {"id": pack.pk}
            )
            return redirect("compliance:evidence_pack", pack.pk)
    packs = Paginator(visible(request.user, EvidencePack).order_by("-created_at", "-id"), PAGE_SIZE)
    return render(
        request,
        "compliance/evidence_list.html",
        {"form": form, "packs": packs.get_page(request.GET.get("page"))},
    )


def _progress(pack: EvidencePack) -> dict:
    if pack.status == EvidencePack.Status.DONE:
        percent = 100
    elif pack.rows_expected:
        percent = min(99, int(pack.rows_written * 100 / pack.rows_expected))
    else:
        percent = 0
    return {
        "status": pack.status,
        "status_label": pack.get_status_display(),
        "finished": pack.finished,
        "percent": percent,
        "rows_written": pack.rows_written,
        "rows_expected": pack.rows_expected,
        "stage": pack.stage,
        "display": {
            "rows": _("%(done)s of %(total)s")
            % {
                "done": number_format(pack.rows_written, force_grouping=True),
                "total": number_format(pack.rows_expected, force_grouping=True),
            },
            "stage": pack.stage or "—",
        },
    }


@require_capability(CAPABILITY)
@require_GET
def pack_detail(request, pack_id: int):
    pack = get_visible_or_404(request.user, EvidencePack, pk=pack_id)
    return render(
        request,
        "compliance/evidence_detail.html",
        {
            "pack": pack,
            "subject": evidence.subject_of(pack),
            "progress": _progress(pack),
            "file_present": bool(pack.file_name) and evidence.pack_path(pack.file_name).is_file(),
        },
    )


@require_capability(CAPABILITY)
@require_GET
def pack_progress(request, pack_id: int):
    response = JsonResponse(_progress(get_visible_or_404(request.user, EvidencePack, pk=pack_id)))
    patch_cache_control(response, no_cache=True, no_store=True)
    return response


@require_capability(CAPABILITY)
@require_GET
def pack_download(request, pack_id: int):
    """The ZIP, streamed from disk; each download is audited."""
    pack = get_visible_or_404(request.user, EvidencePack, pk=pack_id, status=EvidencePack.Status.DONE)
    path = evidence.pack_path(pack.file_name)
    if pack.file_deleted_at or not path.is_file():
        raise Http404("the pack's file is gone (retention)")
    evidence.record_download(pack, user=request.user)
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"evidence-pack-{pack.pk}.zip",
        content_type="application/zip",
    )
    patch_cache_control(response, no_store=True, private=True)
    return response
