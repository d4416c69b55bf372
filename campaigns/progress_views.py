"""Campaign dispatch pages: control (pause, resume, cancel, start now), live progress (a read-only
JSON endpoint polled by static/js/campaign-progress.js), the per-recipient list and timeline.

Thin: every state change is one call of the dispatch services (campaigns.dispatch /
campaigns.services), which audit it. The figures come from the campaign's rollups (messages per
state: CampaignStateCount, kept by every transition; bad reports: CampaignDailyStats), never from a
scan of its message rows; no provider is called on a GET.
"""

from datetime import datetime, timedelta

from django.contrib import messages
from django.db.models import Sum
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from campaigns import approval, dispatch, services
from campaigns.access import visible_campaign
from campaigns.models import Campaign, CampaignDispatch, CampaignMessage, CampaignStateCount
from compliance import actions
from compliance.models import AuditEvent
from quotas.models import CampaignDailyStats
from zalo_admin import jobs
from zalo_admin.lib.dates import VIETNAM
from zalo_admin.lib.phones import mask_phone
from zalo_admin.roles import has_capability, require_capability

S = CampaignMessage.State
PAUSE_REASON_MAX_LENGTH = 500
PAGE_SIZE = 50
# What the dispatcher may be waiting for (CampaignDispatch.wait_reason), for people.
WAIT_REASONS = {
    "quota": gettext_lazy("the OA's daily quota is used up: sending continues on the next Vietnam day"),
    "window": gettext_lazy("outside the delivery window: sending continues when it opens"),
    "speed_limit": gettext_lazy("the campaign's sending speed limit"),
    "provider_rate": gettext_lazy("the provider's request rate"),
    "provider_backoff": gettext_lazy("the provider asked us to slow down"),
    "stage_gate": gettext_lazy("the staged release: waiting for reports on the first slice"),
    "retry_backoff": gettext_lazy("retrying after a temporary provider error"),
}
# Campaign states whose figures no longer move.
FINISHED = (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED)
CONTROL_STATUSES = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED)


def vietnam_time(moment: datetime | None, with_date: bool = True) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(VIETNAM)
    return local.strftime("%d/%m/%Y %H:%M:%S" if with_date else "%H:%M:%S")


# --- figures ----------------------------------------------------------------------------------------


def state_counts(campaign_id: int) -> dict[str, int]:
    """Messages per state from the funnel rollup (CampaignStateCount: recounted at start, moved by
    every transition in its transaction), not a GROUP BY over the campaign's message rows (a million
    rows would cost a few hundred ms on every poll of the live panel)."""
    counts = {state: 0 for state in S.values}
    counts.update(CampaignStateCount.objects.filter(campaign_id=campaign_id).values_list("state", "count"))
    return counts


def progress_figures(campaign: Campaign, now: datetime | None = None) -> dict:
    """What the progress panel shows, as JSON-ready values (also rendered by the server)."""
    now = now or timezone.now()
    record = CampaignDispatch.objects.filter(campaign_id=campaign.pk).first()
    counts = state_counts(campaign.pk) if record else {state: 0 for state in S.values}
    total = sum(counts.values()) or (record.recipients if record else 0)
    queued = counts[S.QUEUED]
    in_flight = counts[S.CLAIMED] + counts[S.SENDING]
    done = total - queued - in_flight
    percent = 100 if total and done == total else (done * 100 // total if total else 0)
    bad_reports = CampaignDailyStats.objects.filter(campaign_id=campaign.pk).aggregate(
        n=Sum("bad_reports", default=0)
    )["n"]
    rate = eta = None
    if record is not None:
        end = record.finished_at or now
        elapsed = (end - record.started_at).total_seconds()
        processed = done - counts[S.EXPIRED]
        if elapsed > 0 and processed > 0:
            rate = processed / elapsed
        remaining = queued + in_flight
        if campaign.status == Campaign.Status.RUNNING and remaining and rate:
            start_from = max(now, record.wait_until) if record.wait_until else now
            eta = start_from + timedelta(seconds=remaining / rate)
    waiting = ""
    wait_until = None
    if record is not None and record.wait_reason and campaign.status == Campaign.Status.RUNNING:
        waiting = str(WAIT_REASONS.get(record.wait_reason, record.wait_reason))
        wait_until = record.wait_until
    figures = {
        "status": campaign.status,
        "status_label": str(campaign.get_status_display()),
        "started": record is not None,
        "finished": campaign.status in FINISHED,
        "total": total,
        "queued": queued,
        "in_flight": in_flight,
        "sent": counts[S.ACCEPTED] + counts[S.DELIVERED],
        "delivered": counts[S.DELIVERED],
        "failed": counts[S.FAILED],
        "expired": counts[S.EXPIRED],
        "failed_over": counts[S.FAILED_OVER],
        "unconfirmed": counts[S.UNCONFIRMED],
        "bad_reports": bad_reports,
        "done": done,
        "percent": percent,
        "rate": round(rate, 1) if rate is not None else None,
        "eta": eta.isoformat() if eta else None,
        "wait_reason": record.wait_reason if record and waiting else "",
        "waiting": waiting,
        "wait_until": wait_until.isoformat() if wait_until else None,
        "pause_reason": campaign.pause_reason if campaign.status == Campaign.Status.PAUSED else "",
        "stage": record.stage if record else "",
        "stage_label": str(record.get_stage_display()) if record else "",
        "stage_decision": record.stage_decision if record else {},
    }
    figures["display"] = {
        "rate": _("%(rate)s/s") % {"rate": figures["rate"]} if rate is not None else "—",
        "eta": vietnam_time(eta) if eta else "—",
        "wait_until": vietnam_time(wait_until) if wait_until else "",
        "started_at": vietnam_time(record.started_at) if record else "",
        "finished_at": vietnam_time(record.finished_at) if record and record.finished_at else "",
    }
    return figures


def last_pause(campaign: Campaign) -> AuditEvent | None:
    """Who paused the campaign and when (the audit entry of the pause in force)."""
    if campaign.status != Campaign.Status.PAUSED:
        return None
    return (
        AuditEvent.objects.filter(
            target_type="campaigns.campaign", target_id=str(campaign.pk), action=actions.CAMPAIGN_PAUSE
        )
        .order_by("-seq")
        .first()
    )


_UNREAD = object()


def detail_context(request, campaign: Campaign, live=_UNREAD) -> dict:
    """The progress and control part of the campaign detail page (`live`: its live approval, when the
    caller has read it already)."""
    user = request.user
    can_manage = has_capability(user, "manage_campaigns")
    can_control = has_capability(user, "approve_campaigns")
    if live is _UNREAD:
        live = approval.live_approval(campaign)
    due = campaign.send_at is None or campaign.send_at <= timezone.now()
    pause = last_pause(campaign)
    figures = progress_figures(campaign)
    return {
        "progress": figures,
        "pause_event": pause,
        "pause_event_time": vietnam_time(pause.occurred_at) if pause else "",
        "can_pause": can_control and campaign.status in services.PAUSABLE_STATUSES,
        "can_resume": can_control and campaign.status == Campaign.Status.PAUSED,
        "can_cancel": can_manage and campaign.status in CONTROL_STATUSES,
        "can_start_now": can_manage
        and campaign.status == Campaign.Status.SCHEDULED
        and live is not None
        and due
        and not figures["started"],
        "pause_errors": request.session.pop(f"campaign-{campaign.pk}-pause-errors", None),
        "cancel_errors": request.session.pop(f"campaign-{campaign.pk}-cancel-errors", None),
        "progress_url": reverse("campaigns:progress", args=[campaign.pk]),
        "now_utc": timezone.now(),
    }


@require_capability("view_campaigns")
@require_GET
@never_cache
def progress(request, campaign_id: int):
    """Read-only figures for the live panel (polled every 2 s)."""
    return JsonResponse(progress_figures(visible_campaign(request.user, campaign_id)))


# --- control ----------------------------------------------------------------------------------------


@require_capability("approve_campaigns")
@require_POST
def pause(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    reason = (request.POST.get("reason") or "").strip()
    errors = []
    if not reason:
        errors.append(_("Say why the campaign is paused: the reason is shown on its page."))
    elif len(reason) > PAUSE_REASON_MAX_LENGTH:
        errors.append(_("A reason is at most %(max)s characters.") % {"max": PAUSE_REASON_MAX_LENGTH})
    if errors:
        request.session[f"campaign-{campaign.pk}-pause-errors"] = errors
        return redirect(f"{reverse('campaigns:detail', args=[campaign.pk])}#control")
    text = _("Paused by %(user)s: %(reason)s") % {"user": request.user.get_username(), "reason": reason}
    if services.pause_campaign(campaign.pk, text, actor=request.user):
        messages.success(request, _("Paused: nothing more is sent until it is resumed."))
    else:
        messages.error(request, _("Only a scheduled or running campaign can be paused."))
    return redirect("campaigns:detail", campaign.pk)


@require_capability("approve_campaigns")
@require_POST
def resume(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    try:
        dispatch.resume_campaign(campaign.pk, actor=request.user)
    except dispatch.DispatchRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Resumed: sending continues where it stopped, nothing is sent twice."))
    return redirect("campaigns:detail", campaign.pk)


@require_capability("manage_campaigns")
@require_POST
def cancel(request, campaign_id: int):
    campaign = visible_campaign(request.user, campaign_id)
    if request.POST.get("confirm") != "yes":
        request.session[f"campaign-{campaign.pk}-cancel-errors"] = [
            _("Tick the box to confirm: a cancelled campaign cannot be resumed.")
        ]
        return redirect(f"{reverse('campaigns:detail', args=[campaign.pk])}#control")
    try:
        unsent = dispatch.cancel_campaign(campaign.pk, actor=request.user)
    except dispatch.DispatchRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Cancelled: %(count)s message(s) will not be sent.") % {"count": unsent})
    return redirect("campaigns:detail", campaign.pk)


@require_capability("manage_campaigns")
@require_POST
def start_now(request, campaign_id: int):
    """An approved campaign that is due: hand its start to a worker now (the start re-checks the
    approval, creates the messages and is audited there) rather than at the next periodic check."""
    campaign = visible_campaign(request.user, campaign_id)
    due = campaign.send_at is None or campaign.send_at <= timezone.now()
    if campaign.status != Campaign.Status.SCHEDULED or approval.live_approval(campaign) is None:
        messages.error(request, _("Only an approved, scheduled campaign can be started."))
    elif not due:
        messages.error(request, _("This campaign is scheduled for later; it starts by itself then."))
    else:
        jobs.enqueue(dispatch.START_JOB, campaign.pk)
        messages.success(request, _("Starting: a worker creates the messages and begins sending."))
    return redirect("campaigns:detail", campaign.pk)


# --- recipients -------------------------------------------------------------------------------------


def _masked(phone: str) -> str:
    try:
        return mask_phone(phone)
    except ValueError:
        return "***"


@require_capability("view_campaigns")
def recipients(request, campaign_id: int):
    """Every recipient of a started campaign, by id (keyset pagination: `after`), filtered by state."""
    campaign = visible_campaign(request.user, campaign_id)
    state = request.GET.get("state", "")
    if state not in S.values:
        state = ""
    after = request.GET.get("after", "")
    after_id = int(after) if after.isdigit() else 0
    rows = CampaignMessage.objects.filter(campaign_id=campaign.pk, pk__gt=after_id)
    if state:
        rows = rows.filter(state=state)
    page = list(
        rows.order_by("pk").values(
            "pk", "phone", "state", "attempts", "error_code", "provider_error_code", "updated_at"
        )[: PAGE_SIZE + 1]
    )
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    labels = dict(S.choices)
    for row in page:
        row["masked"] = _masked(row["phone"])
        row["state_label"] = labels.get(row["state"], row["state"])
        row["changed"] = vietnam_time(row["updated_at"])
        del row["phone"]
    counts = state_counts(campaign.pk)
    return render(
        request,
        "campaigns/recipients.html",
        {
            "campaign": campaign,
            "rows": page,
            "state": state,
            "states": [(value, label, counts.get(value, 0)) for value, label in S.choices],
            "total": sum(counts.values()),
            "next_after": page[-1]["pk"] if more and page else None,
            "after": after_id,
        },
    )


@require_capability("view_campaigns")
def timeline(request, campaign_id: int, message_id: int):
    """One recipient's message: every state with its time (Vietnam), the request and response codes,
    the reports and the failover leg."""
    campaign = visible_campaign(request.user, campaign_id)
    message = CampaignMessage.objects.filter(campaign_id=campaign.pk, pk=message_id).first()
    if message is None:
        raise Http404(_("No such recipient in this campaign."))
    labels = dict(S.choices)
    events = [
        {
            "at": vietnam_time(event.at),
            "from_state": labels.get(event.from_state, event.from_state) if event.from_state else "",
            "to_state": event.to_state,
            "to_label": labels.get(event.to_state, event.to_state),
            "error_code": event.error_code,
            "provider_code": event.provider_code,
            "detail": event.detail,
            "actor": event.actor,
            "failover": event.to_state == S.FAILED_OVER,
        }
        for event in message.events.order_by("at", "pk")
    ]
    return render(
        request,
        "campaigns/timeline.html",
        {
            "campaign": campaign,
            "message": message,
            "masked": _masked(message.phone),
            "state_label": labels.get(message.state, message.state),
            "events": events,
            "created": vietnam_time(message.created_at),
            "valid_until": vietnam_time(message.valid_until),
            "failover_at": vietnam_time(message.failed_over_at),
            "failover_enabled": campaign.sms_failover_enabled,
        },
    )
