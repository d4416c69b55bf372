"""Campaign pages: the list, the composer (with autosave), the detail page and its actions.

Thin: each view parses the request, calls one service of campaigns.composer / campaigns.approval and
renders. No provider is called on a GET (the test send is a POST).
"""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audiences.models import ContactList, Segment
from campaigns import approval, composer, dispatch, mapping, progress_views
from campaigns.access import visible_campaign
from campaigns.models import Campaign, DeliveryDay, SpeedLimitTimeUnit, ValidityTimeUnit
from oas.models import OfficialAccount
from teams.scoping import visible
from zalo_admin import jobs
from zalo_admin.lib.keyset import keyset_page
from zalo_admin.roles import has_capability, require_capability


@require_capability("view_campaigns")
def index(request):
    status = request.GET.get("status", "")
    rows = visible(request.user, Campaign.objects.select_related("oa", "template", "author"))
    if status in Campaign.Status.values:
        rows = rows.filter(status=status)
    else:
        status = ""
    # Newest first, 50 a page (keyset on (created_at, id): no OFFSET, no COUNT).
    page = keyset_page(
        rows, "created_at", after=request.GET.get("after"), before=request.GET.get("before"), descending=True
    )
    query = {"status": status} if status else {}
    return render(
        request,
        "campaigns/index.html",
        {
            "campaigns": page.rows,
            "next_url": "?" + urlencode({**query, "after": page.next_after}) if page.next_after else "",
            "previous_url": "?" + urlencode({**query, "before": page.previous_before})
            if page.previous_before
            else "",
            "first_url": "?" + urlencode(query) if page.previous_before else "",
            "statuses": Campaign.Status.choices,
            "status": status,
            "can_compose": has_capability(request.user, "manage_campaigns"),
        },
    )


def _local(moment, zone):
    import zoneinfo

    return moment.astimezone(zoneinfo.ZoneInfo(zone)) if moment else None


def _form_values(campaign: Campaign | None, data=None) -> dict:
    """What the form shows: the posted values after an error, else the campaign's."""
    if data is not None:
        values = {key: data.get(key) for key in data}
        values["delivery_days"] = data.getlist("delivery_days")
        values["audience_lists"] = [int(v) for v in data.getlist("audience_lists") if v.isdigit()]
        values["audience_segments"] = [int(v) for v in data.getlist("audience_segments") if v.isdigit()]
        for flag in ("sms_failover_enabled", "encrypted", "staged_release"):
            values[flag] = bool(data.get(flag))
        return values
    if campaign is None:
        return {
            "time_zone": "Asia/Ho_Chi_Minh",
            "sending_speed_limit_time_unit": "MINUTE",
            "validity_period_time_unit": "MINUTES",
            "sms_failover_validity_time_unit": "MINUTES",
            "delivery_days": [],
            "audience_lists": [],
            "audience_segments": [],
        }
    values = {name: getattr(campaign, name) for name in composer.SCALAR_FIELDS}
    local = _local(campaign.send_at, campaign.time_zone)
    values["send_at_date"] = local.strftime("%Y-%m-%d") if local else ""
    values["send_at_time"] = local.strftime("%H:%M") if local else ""
    if campaign.delivery_from_hour is not None:
        values["delivery_from"] = f"{campaign.delivery_from_hour:02d}:{campaign.delivery_from_minute:02d}"
    if campaign.delivery_to_hour is not None:
        values["delivery_to"] = f"{campaign.delivery_to_hour:02d}:{campaign.delivery_to_minute:02d}"
    values["audience_lists"] = list(campaign.audience_lists.values_list("pk", flat=True))
    values["audience_segments"] = list(campaign.audience_segments.values_list("pk", flat=True))
    for name in ("stage_percent", "stage_bad_report_threshold"):
        if values[name] is not None:
            values[name] = f"{values[name].normalize():f}"
    values.update(_mapping_values(campaign))
    return values


def _mapping_values(campaign: Campaign) -> dict:
    """The form values of the campaign's parameter mappings (all the detail page needs of them)."""
    values = {}
    for prefix, spec in (("map", campaign.mapping), ("smsmap", campaign.sms_failover_mapping)):
        for param, entry in (spec or {}).items():
            for part in ("source", "key", "value", "format"):
                values[f"{prefix}-{param}-{part}"] = entry.get(part, "")
    return values


def _mapping_rows(template, values: dict, prefix: str = "map", names=None) -> list[dict]:
    params = composer.template_params(template) if template else []
    if names is not None:
        params = [{"name": name, "type": "STRING", "require": True, "maxLength": None} for name in names]
    return [
        {
            "param": param,
            "prefix": f"{prefix}-{param['name']}",
            "source": values.get(f"{prefix}-{param['name']}-source") or "",
            "key": values.get(f"{prefix}-{param['name']}-key") or "",
            "value": values.get(f"{prefix}-{param['name']}-value") or "",
            "format": values.get(f"{prefix}-{param['name']}-format") or "none",
        }
        for param in params
    ]


def _compose_context(request, campaign, template, values, errors) -> dict:
    oas = visible(request.user, OfficialAccount.objects.filter(is_active=True)).order_by("name")
    templates = (
        visible(request.user, composer.sendable_templates()).select_related("oa").order_by("oa__name", "name")
    )
    sms_extra = (
        composer.sms_placeholders_outside_template(values.get("sms_failover_text") or "", template)
        if template
        else []
    )
    return {
        "campaign": campaign,
        "template": template,
        "values": values,
        "errors": errors,
        "oas": oas,
        "templates": templates,
        # Every list the user sees, with its team: the composer refuses another team than the OA's.
        "lists": visible(request.user, ContactList).select_related("team").order_by("name"),
        "segments": visible(request.user, Segment).select_related("team").order_by("name"),
        "mapping_rows": _mapping_rows(template, values),
        "sms_rows": _mapping_rows(template, values, "smsmap", sms_extra),
        "sources": mapping.SOURCES.items(),
        "formats": mapping.FORMATS.items(),
        "contact_fields": mapping.CONTACT_FIELDS.items(),
        "days": DeliveryDay.choices,
        "speed_units": SpeedLimitTimeUnit.choices,
        "validity_units": ValidityTimeUnit.choices,
        "purpose": composer.PURPOSE_BY_TAG.get(template.tag) if template else None,
    }


def _chosen_template(request, campaign):
    raw = request.POST.get("template") or request.GET.get("template") or ""
    if raw.isdigit():
        found = (
            visible(request.user, composer.sendable_templates())
            .select_related("oa")
            .filter(pk=int(raw))
            .first()
        )
        if found is not None:
            return found
    return campaign.template if campaign else None


@require_capability("manage_campaigns")
def new(request):
    template = _chosen_template(request, None)
    if request.method == "POST":
        result = composer.create_draft(actor=request.user, data=request.POST)
        if result.ok:
            messages.success(request, _("Draft saved."))
            return redirect("campaigns:detail", result.campaign.pk)
        context = _compose_context(request, None, template, _form_values(None, request.POST), result.errors)
        return render(request, "campaigns/compose.html", context, status=400)
    values = _form_values(None)
    if template:
        values["oa"], values["template"] = str(template.oa_id), str(template.pk)
    return render(request, "campaigns/compose.html", _compose_context(request, None, template, values, {}))


@require_capability("manage_campaigns")
def edit(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    if campaign.status not in approval.EDITABLE_STATUSES:
        messages.error(request, _("This campaign can no longer be edited."))
        return redirect("campaigns:detail", campaign.pk)
    template = _chosen_template(request, campaign)
    if request.method == "POST":
        result = composer.update_draft(campaign.pk, actor=request.user, data=request.POST)
        if result.ok:
            if result.voided:
                messages.warning(request, _("The change voided the approval: the campaign is a draft again."))
            messages.success(request, _("Draft saved."))
            return redirect("campaigns:detail", campaign.pk)
        context = _compose_context(
            request, campaign, template, _form_values(campaign, request.POST), result.errors
        )
        return render(request, "campaigns/compose.html", context, status=400)
    values = _form_values(campaign)
    values["oa"], values["template"] = str(template.oa_id), str(template.pk)
    return render(
        request, "campaigns/compose.html", _compose_context(request, campaign, template, values, {})
    )


@require_capability("manage_campaigns")
@require_POST
def autosave(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    try:
        result = composer.autosave_draft(campaign.pk, actor=request.user, data=request.POST)
    except composer.CampaignNotEditable:
        return JsonResponse(
            {"saved": False, "errors": {"": [_("This campaign can no longer be edited.")]}}, status=409
        )
    return JsonResponse(
        {
            "saved": True,
            "changed": result.changed,
            "voided": result.voided,
            "errors": result.errors,
            "saved_at": timezone.localtime().strftime("%H:%M:%S"),
        }
    )


@require_capability("view_campaigns")
def detail(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    user = request.user
    can_manage = has_capability(user, "manage_campaigns")
    can_approve = has_capability(user, "approve_campaigns")
    live = approval.live_approval(campaign)
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "local_send_at": _local(campaign.send_at, campaign.time_zone),
            "mapping_rows": _mapping_rows(campaign.template, _mapping_values(campaign)),
            "lists": campaign.audience_lists.order_by("name"),
            "segments": campaign.audience_segments.order_by("name"),
            "approvals": campaign.approvals.all()[:10],
            "live_approval": live,
            "purpose": composer.PURPOSE_BY_TAG.get(campaign.template.tag),
            "can_edit": can_manage and campaign.status in approval.EDITABLE_STATUSES,
            "can_submit": can_manage and campaign.status in (Campaign.Status.DRAFT, Campaign.Status.REJECTED),
            "can_test": can_manage and campaign.status in composer.TEST_SEND_STATUSES,
            "can_clone": can_manage,
            "can_decide": can_approve
            and campaign.status == Campaign.Status.AWAITING_APPROVAL
            and campaign.author_id != user.pk,
            "is_author": campaign.author_id == user.pk,
            "can_approve": can_approve,
            "submit_errors": request.session.pop(f"campaign-{campaign.pk}-submit-errors", None),
            **progress_views.detail_context(request, campaign, live=live),
        },
    )


@require_capability("manage_campaigns")
@require_POST
def submit(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    result = composer.submit_for_approval(campaign.pk, actor=request.user)
    if result.ok:
        messages.success(request, _("Submitted for approval."))
    else:
        messages.error(request, _("The campaign cannot be submitted yet: see the problems below."))
        request.session[f"campaign-{campaign.pk}-submit-errors"] = result.errors
    return redirect("campaigns:detail", campaign.pk)


@require_capability("approve_campaigns")
@require_POST
def approve(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    try:
        record = approval.approve_campaign(campaign.pk, user=request.user)
    except approval.ApprovalRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Approved for %(count)s recipient(s); the campaign is scheduled.")
            % {"count": record.recipients},
        )
        # The start job re-checks the approval and starts at `send at` (now when it has none).
        jobs.enqueue(dispatch.START_JOB, campaign.pk)
    return redirect("campaigns:detail", campaign.pk)


@require_capability("approve_campaigns")
@require_POST
def reject(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    try:
        approval.reject_campaign(campaign.pk, user=request.user, reason=request.POST.get("reason", ""))
    except approval.ApprovalRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Rejected; the author can edit the campaign and submit it again."))
    return redirect("campaigns:detail", campaign.pk)


@require_capability("manage_campaigns")
@require_POST
def clone(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    copy = composer.clone_campaign(campaign.pk, actor=request.user)
    messages.success(request, _("Cloned as a new draft."))
    return redirect("campaigns:edit", copy.pk)


@require_capability("manage_campaigns")
@require_POST
def test_send(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    outcomes, errors = composer.test_send(
        campaign.pk, actor=request.user, phones_text=request.POST.get("phones", "")
    )
    for error in errors:
        messages.error(request, error)
    for outcome in outcomes:
        level = messages.SUCCESS if outcome.accepted else messages.ERROR
        messages.add_message(request, level, f"{outcome.phone}: {outcome.message}")
    return redirect("campaigns:detail", campaign.pk)
