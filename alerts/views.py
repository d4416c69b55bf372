"""Alert pages: the list (acknowledge), each person's choices, and the webhook endpoints."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alerts import services
from alerts.forms import EndpointForm
from alerts.models import PERSONAL_CHANNELS, Alert, Channel, Delivery, Kind, WebhookEndpoint
from teams.scoping import get_visible_or_404
from zalo_admin.roles import require_capability

PAGE_SIZE = 50


def _row(alert: Alert) -> dict:
    return {
        "alert": alert,
        "title": services.alert_title(alert),
        "text": services.alert_text(alert),
        "path": services.alert_path(alert),
    }


@require_capability("view_dashboard")
def index(request):
    state = "all" if request.GET.get("state") == "all" else "open"
    kinds = services.visible_kinds(request.user)
    kind = request.GET.get("kind", "")
    kind = kind if kind in kinds else ""
    rows = services.alerts_for(request.user, open_only=state == "open", kind=kind)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [_row(alert) for alert in page],
        "state": state,
        "kind": kind,
        "kinds": [(k, Kind(k).label) for k in kinds],
    }
    return render(request, "alerts/index.html", context)


@require_capability("view_dashboard")
@require_POST
def acknowledge(request, dashboard_alert_id):
    alert = get_visible_or_404(request.user, Alert, pk=dashboard_alert_id)
    if alert.kind not in services.visible_kinds(request.user):
        raise Http404("No such alert")
    if services.acknowledge(alert.pk, request.user):
        messages.success(request, _("Alert acknowledged."))
    else:
        messages.info(request, _("This alert was acknowledged already."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    return redirect(target or "alerts:index")


@require_capability("view_dashboard")
def preferences(request):
    if request.method == "POST":
        chosen = set()
        for value in request.POST.getlist("pref"):
            kind, _sep, channel = value.partition(":")
            chosen.add((kind, channel))
        changes = services.update_preferences(request.user, chosen, actor=request.user)
        if changes:
            messages.success(request, _("Your alert choices are saved."))
        else:
            messages.info(request, _("Nothing changed."))
        return redirect("alerts:settings")
    context = {
        "rows": services.preferences_for(request.user),
        "channels": [(c.value, c.label) for c in PERSONAL_CHANNELS],
        "has_email": bool(request.user.email),
    }
    return render(request, "alerts/settings.html", context)


def _secret_page(request, endpoint, secret, *, rotated: bool):
    context = {"endpoint": endpoint, "secret": secret, "rotated": rotated}
    return render(request, "alerts/secret.html", context)


@require_capability("manage_alert_webhooks")
def webhooks(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.create_endpoint(**form.cleaned_data, actor=request.user)
        except services.EndpointRejected as exc:
            form.add_error(exc.field, str(exc))
        else:
            return _secret_page(request, endpoint, secret, rotated=False)
    endpoints = [
        {
            "endpoint": endpoint,
            "secret": services.masked_secret(endpoint.secret),
            "kinds": [Kind(k).label for k in endpoint.kinds if k in Kind.values],
            "last": endpoint.deliveries.order_by("-pk").first(),
        }
        for endpoint in WebhookEndpoint.objects.all()
    ]
    context = {"form": form, "endpoints": endpoints, "unregistered": services.unregistered_notify_urls()}
    return render(request, "alerts/webhooks.html", context)


@require_capability("manage_alert_webhooks")
def webhook_edit(request, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    initial = {
        "name": endpoint.name,
        "url": endpoint.url,
        "kinds": endpoint.kinds,
        "relay_reports": endpoint.relay_reports,
        "is_active": endpoint.is_active,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_endpoint(endpoint.pk, **form.cleaned_data, actor=request.user)
        except services.EndpointRejected as exc:
            form.add_error(exc.field, str(exc))
        else:
            messages.success(request, _("Webhook saved."))
            return redirect("alerts:webhook_edit", endpoint_id=endpoint.pk)
    deliveries = (
        Delivery.objects.filter(endpoint=endpoint, channel=Channel.WEBHOOK)
        .prefetch_related("attempt_rows")
        .order_by("-pk")[:20]
    )
    context = {
        "endpoint": endpoint,
        "form": form,
        "secret": services.masked_secret(endpoint.secret),
        "deliveries": deliveries,
    }
    return render(request, "alerts/webhook_edit.html", context)


@require_capability("manage_alert_webhooks")
@require_POST
def webhook_rotate(request, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    secret = services.rotate_secret(endpoint.pk, actor=request.user)
    endpoint.refresh_from_db()
    return _secret_page(request, endpoint, secret, rotated=True)


@require_capability("manage_alert_webhooks")
@require_POST
def webhook_test(request, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    services.send_test(endpoint.pk, actor=request.user)
    messages.success(request, _("A test message is on its way; its delivery appears below."))
    return redirect("alerts:webhook_edit", endpoint_id=endpoint.pk)
