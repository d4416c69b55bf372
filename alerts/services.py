"""Alerts: raised from the hook events other apps announce, fanned out to people and endpoints.

The sending path never waits for an alert: a hook receiver (connected in `AlertsConfig.ready()`)
writes one Alert row inside the announcer's transaction and enqueues the fan-out after commit; the
fan-out job creates one Delivery per e-mail recipient and per webhook endpoint and enqueues each
(`alerts.delivery` sends and retries). Receivers return [] (announcers flatten their receivers'
results into paused campaign ids).

Who hears what: a kind is for the people who may see what it is about (KIND_CAPABILITY); each
person chooses per kind and channel (dashboard, e-mail), with DEFAULTS when they have not chosen.
Every configuration change (preferences, endpoints, acknowledgements) is audited.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alerts import signing
from alerts.models import (
    PERSONAL_CHANNELS,
    Alert,
    AlertPreference,
    Channel,
    Delivery,
    Kind,
    WebhookEndpoint,
)
from campaigns.models import Campaign
from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import LevelChange
from teams.scoping import visible
from zalo_admin.jobs import enqueue
from zalo_admin.lib.dates import today_in_vietnam
from zalo_admin.roles import has_capability

log = logging.getLogger(__name__)

FAN_OUT_JOB = "alerts.jobs.fan_out_alert"
DELIVER_JOB = "alerts.jobs.deliver"

# A kind is for those who may open what it is about.
KIND_CAPABILITY = {
    Kind.GUARDRAIL: "view_quality",
    Kind.VIOLATION: "view_quality",
    Kind.LEVEL_CHANGE: "view_quality",
    Kind.TEMPLATE_DISABLED: "view_oas",
    Kind.REAUTHORISATION: "view_oas",
    Kind.CAMPAIGN_PAUSED: "view_campaigns",
    Kind.CAMPAIGN_FINISHED: "view_campaigns",
}
# Without a choice: everything on the dashboard; by e-mail what someone must act on.
EMAIL_BY_DEFAULT = frozenset(
    {Kind.GUARDRAIL, Kind.VIOLATION, Kind.TEMPLATE_DISABLED, Kind.REAUTHORISATION, Kind.CAMPAIGN_PAUSED}
)


def default_enabled(kind: str, channel: str) -> bool:
    return channel == Channel.DASHBOARD or kind in EMAIL_BY_DEFAULT


def visible_kinds(user) -> list[str]:
    """The kinds this user may see (in Kind order)."""
    return [kind.value for kind in Kind if has_capability(user, KIND_CAPABILITY[kind])]


# --- what an alert says, in the reader's language ------------------------------------------------


def _limit(value) -> str:
    return _("unrestricted") if value is None else f"{value:,}"


def alert_title(alert: Alert) -> str:
    p = alert.params or {}
    oa, campaign = p.get("oa_name", ""), p.get("campaign_name", "")
    if alert.kind == Kind.GUARDRAIL:
        return _("Guardrail tripped on %(oa)s") % {"oa": oa}
    if alert.kind == Kind.VIOLATION:
        return _("Automatic violation on %(oa)s") % {"oa": oa}
    if alert.kind == Kind.LEVEL_CHANGE:
        return _("%(oa)s: daily limit %(old)s → %(new)s") % {
            "oa": oa,
            "old": _limit(p.get("old_limit")),
            "new": _limit(p.get("new_limit")),
        }
    if alert.kind == Kind.TEMPLATE_DISABLED:
        return _("Template %(template)s of %(oa)s can no longer send") % {
            "template": p.get("template_name", ""),
            "oa": oa,
        }
    if alert.kind == Kind.REAUTHORISATION:
        return _("%(oa)s needs re-authorisation") % {"oa": oa}
    if alert.kind == Kind.CAMPAIGN_PAUSED:
        return _("Campaign %(campaign)s paused") % {"campaign": campaign}
    if alert.kind == Kind.CAMPAIGN_FINISHED:
        return _("Campaign %(campaign)s finished") % {"campaign": campaign}
    return alert.get_kind_display()


def alert_text(alert: Alert) -> str:
    """The alert's details: the announcer's words plus what we counted."""
    p = alert.params or {}
    parts = [alert.message] if alert.message else []
    if alert.kind == Kind.GUARDRAIL and p.get("campaigns_paused"):
        n = p["campaigns_paused"]
        parts.append(
            ngettext("%(n)s marketing campaign paused.", "%(n)s marketing campaigns paused.", n) % {"n": n}
        )
    if alert.kind == Kind.LEVEL_CHANGE:
        labels = dict(LevelChange.Reason.choices)
        parts.insert(0, str(labels.get(p.get("reason"), p.get("reason", ""))))
    if alert.kind == Kind.CAMPAIGN_FINISHED:
        counts = p.get("counts") or {}
        parts.append(
            _(
                "%(sent)s accepted or delivered, %(failed)s failed, %(expired)s expired, "
                "%(unconfirmed)s unconfirmed."
            )
            % {
                "sent": counts.get("accepted", 0) + counts.get("delivered", 0),
                "failed": counts.get("failed", 0) + counts.get("failed_over", 0),
                "expired": counts.get("expired", 0),
                "unconfirmed": counts.get("unconfirmed", 0),
            }
        )
    return " ".join(part for part in parts if part)


def alert_path(alert: Alert) -> str:
    """Where to act on the alert (a path of this site), or the alert list."""
    p = alert.params or {}
    try:
        if alert.kind in (Kind.GUARDRAIL, Kind.VIOLATION, Kind.LEVEL_CHANGE) and alert.oa_id:
            return reverse("quotas:oa_detail", args=[alert.oa_id])
        if alert.kind == Kind.TEMPLATE_DISABLED and alert.oa_id and p.get("template_pk"):
            return reverse("oas:template_detail", args=[alert.oa_id, p["template_pk"]])
        if alert.kind == Kind.REAUTHORISATION and alert.oa_id:
            return reverse("oas:detail", args=[alert.oa_id])
        if alert.kind in (Kind.CAMPAIGN_PAUSED, Kind.CAMPAIGN_FINISHED) and alert.campaign_id:
            return reverse("campaigns:detail", args=[alert.campaign_id])
    except NoReverseMatch:
        pass
    return reverse("alerts:index")


def absolute(path: str) -> str:
    return f"{settings.ALERTS_PUBLIC_BASE_URL}{path}"


# --- raising (hook receivers) ----------------------------------------------------------------------


def raise_alert(
    kind: str, *, oa_id=None, campaign_id=None, params=None, message: str = "", dedup_key: str | None = None
) -> Alert | None:
    """One Alert row in the caller's transaction, its fan-out enqueued after commit; None when an
    alert with this `dedup_key` exists already (the same occurrence announced again)."""
    if dedup_key and Alert.objects.filter(dedup_key=dedup_key).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin must not break the caller
            alert = Alert.objects.create(
                kind=kind,
                oa_id=oa_id,
                campaign_id=campaign_id,
                params=json.loads(json.dumps(params or {}, default=str)),
                message=(message or "")[:2000],
                dedup_key=dedup_key,
            )
    except IntegrityError:
        return None
    enqueue(FAN_OUT_JOB, alert.pk)
    return alert


def _oa_name(oa_id) -> str:
    return OfficialAccount.objects.filter(pk=oa_id).values_list("name", flat=True).first() or f"#{oa_id}"


def on_quality_alert(*, oa_id, day, kind, message, campaigns_paused=0, **_extra) -> list:
    """QUALITY_ALERT_RAISED: a guardrail trip or an automatic violation (once per OA and day)."""
    alert_kind = Kind.VIOLATION if kind == "violation" else Kind.GUARDRAIL
    raise_alert(
        alert_kind,
        oa_id=oa_id,
        params={"oa_name": _oa_name(oa_id), "day": day, "campaigns_paused": campaigns_paused},
        message=message,
        dedup_key=f"{alert_kind}:{oa_id}:{day}",
    )
    return []


def on_level_changed(*, oa_id, change_id, day, old_limit, new_limit, reason, note="", **_extra) -> list:
    raise_alert(
        Kind.LEVEL_CHANGE,
        oa_id=oa_id,
        params={
            "oa_name": _oa_name(oa_id),
            "day": day,
            "old_limit": old_limit,
            "new_limit": new_limit,
            "reason": reason,
        },
        message=note,
        dedup_key=f"level:{change_id}",
    )
    return []


def on_template_unsendable(*, template_id, reason, actor="", **_extra) -> list:
    template = MessageTemplate.objects.filter(pk=template_id).select_related("oa").first()
    if template is None:
        return []
    day = today_in_vietnam().isoformat()
    raise_alert(
        Kind.TEMPLATE_DISABLED,
        oa_id=template.oa_id,
        params={
            "oa_name": template.oa.name,
            "template_name": template.name,
            "template_id": template.template_id,
            "template_pk": template.pk,
            "status": template.status,
        },
        message=reason,
        # The same template stopping for the same status is one alert a day.
        dedup_key=f"template:{template.pk}:{template.status}:{day}",
    )
    return []


def on_needs_reauthorisation(*, oa_id, reason, **_extra) -> list:
    raise_alert(
        Kind.REAUTHORISATION,
        oa_id=oa_id,
        params={"oa_name": _oa_name(oa_id)},
        message=reason,
        dedup_key=f"reauth:{oa_id}:{today_in_vietnam().isoformat()}",
    )
    return []


def _campaign_params(campaign_id) -> tuple[dict, int | None]:
    row = Campaign.objects.filter(pk=campaign_id).values("name", "oa_id", "oa__name").first() or {}
    return {"campaign_name": row.get("name", f"#{campaign_id}"), "oa_name": row.get("oa__name", "")}, row.get(
        "oa_id"
    )


def on_campaign_paused(*, campaign_id, reason, actor="", **_extra) -> list:
    params, oa_id = _campaign_params(campaign_id)
    params["actor"] = actor
    # Each pause is its own occurrence (a campaign may be paused, resumed and paused again).
    raise_alert(Kind.CAMPAIGN_PAUSED, oa_id=oa_id, campaign_id=campaign_id, params=params, message=reason)
    return []


def on_campaign_finished(*, campaign_id, status, counts=None, **_extra) -> list:
    params, oa_id = _campaign_params(campaign_id)
    params.update(status=status, counts=counts or {})
    raise_alert(
        Kind.CAMPAIGN_FINISHED,
        oa_id=oa_id,
        campaign_id=campaign_id,
        params=params,
        dedup_key=f"campaign_finished:{campaign_id}",
    )
    return []


# --- who hears what -------------------------------------------------------------------------------


def _holders(capability: str):
    """Active users who hold `capability` (through a role, directly, or as superusers)."""
    perm = Q(content_type__app_label="zalo_admin", codename=capability)
    permission_ids = list(Permission.objects.filter(perm).values_list("pk", flat=True))
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__permissions__in=permission_ids)
            | Q(user_permissions__in=permission_ids)
        )
        .distinct()
    )


def recipients(kind: str, channel: str) -> list:
    """Who receives `kind` on `channel`: holders of its capability, by their choice or the default."""
    users = list(_holders(KIND_CAPABILITY[Kind(kind)]).order_by("pk"))
    choices = dict(
        AlertPreference.objects.filter(user__in=users, kind=kind, channel=channel).values_list(
            "user_id", "enabled"
        )
    )
    default = default_enabled(kind, channel)
    return [user for user in users if choices.get(user.pk, default)]


def dashboard_kinds(user) -> list[str]:
    """The kinds this user chose to see on the dashboard (among those they may see)."""
    kinds = visible_kinds(user)
    choices = dict(
        AlertPreference.objects.filter(user=user, channel=Channel.DASHBOARD).values_list("kind", "enabled")
    )
    return [kind for kind in kinds if choices.get(kind, default_enabled(kind, Channel.DASHBOARD))]


def alerts_for(user, *, open_only: bool = False, kind: str = ""):
    """The alerts this user may see, newest first."""
    kinds = visible_kinds(user)
    if kind:
        kinds = [k for k in kinds if k == kind]
    rows = visible(user, Alert.objects.filter(kind__in=kinds))  # not another team's OA or campaign
    if open_only:
        rows = rows.filter(acknowledged_at=None)
    return rows.select_related("acknowledged_by")


def home_alerts(user, limit: int = 5) -> tuple[list[Alert], int]:
    """The open alerts of the kinds this user keeps on the dashboard, and how many there are."""
    rows = visible(user, Alert.objects.filter(kind__in=dashboard_kinds(user), acknowledged_at=None))
    return list(rows[:limit]), rows.count()


@dataclass(frozen=True)
class PreferenceRow:
    kind: str
    label: str
    channels: dict  # channel -> enabled


def preferences_for(user) -> list[PreferenceRow]:
    choices = {
        (kind, channel): enabled
        for kind, channel, enabled in AlertPreference.objects.filter(user=user).values_list(
            "kind", "channel", "enabled"
        )
    }
    return [
        PreferenceRow(
            kind,
            Kind(kind).label,
            {
                channel.value: choices.get((kind, channel.value), default_enabled(kind, channel))
                for channel in PERSONAL_CHANNELS
            },
        )
        for kind in visible_kinds(user)
    ]


@transaction.atomic
def update_preferences(user, chosen: set[tuple[str, str]], *, actor=None) -> list[str]:
    """Set the user's choices: `chosen` holds the (kind, channel) pairs they want; every other pair of
    the kinds they may see is off. Returns the changes ("kind/channel: on|off"), audited when any."""
    changes = []
    for row in preferences_for(user):
        for channel, was in row.channels.items():
            wanted = (row.kind, channel) in chosen
            if wanted != was:
                AlertPreference.objects.update_or_create(
                    user=user, kind=row.kind, channel=channel, defaults={"enabled": wanted}
                )
                changes.append(f"{row.kind}/{channel}: {'on' if wanted else 'off'}")
    if changes:
        record_audit_event(
            actor=actor_name(actor or user),
            action=actions.ALERT_PREFERENCES_UPDATE,
            target=user,
            details={"username": user.get_username(), "changes": ", ".join(changes)},
        )
    return changes


@transaction.atomic
def acknowledge(alert_id: int, user) -> bool:
    """Mark an open alert as seen and handled; False when it was acknowledged already."""
    done = Alert.objects.filter(pk=alert_id, acknowledged_at=None).update(
        acknowledged_at=timezone.now(), acknowledged_by=user
    )
    if done:
        record_audit_event(
            actor=actor_name(user),
            action=actions.ALERT_ACKNOWLEDGE,
            target_type="alerts.alert",
            target_id=alert_id,
            details={"alert_id": alert_id},
        )
    return bool(done)


# --- webhook endpoints (quality admins) -------------------------------------------------------------


class EndpointRejected(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


LOCAL_NAMES = re.compile(r"^(localhost|.*\.localhost|.*\.local|.*\.internal)$", re.IGNORECASE)


def endpoint_url_error(url: str) -> str | None:
    """Why an endpoint URL is refused when saved, in the reader's language (None: accepted). DNS is
    checked again before every post; here only what the URL itself says."""
    problem = signing.url_problem(url)
    if problem == signing.SCHEME:
        return _("Enter an http:// or https:// address.")
    if problem == signing.USERINFO:
        return _("Leave the user name and password out of the address.")
    if problem:
        return _("Enter a valid address.")
    if not settings.ALERTS_WEBHOOK_ALLOW_PRIVATE:
        host = urlsplit(url).hostname or ""
        literal = None
        try:
            literal = signing.is_public_address(host)
        except ValueError:
            literal = None
        if literal is False or LOCAL_NAMES.match(host):
            return _("Webhooks cannot go to private, loopback or link-local addresses.")
    return None


def _clean_endpoint(name: str, url: str, kinds) -> tuple[str, str, list[str]]:
    name, url = (name or "").strip(), (url or "").strip()
    if not name:
        raise EndpointRejected("name", _("Give the endpoint a name."))
    error = endpoint_url_error(url)
    if error:
        raise EndpointRejected("url", error)
    valid = set(Kind.values)
    return name[:100], url, [kind for kind in Kind.values if kind in set(kinds or ()) & valid]


def _endpoint_details(endpoint: WebhookEndpoint) -> dict:
    return {
        "endpoint_id": endpoint.pk,
        "name": endpoint.name,
        "url": endpoint.url,
        "kinds": ", ".join(endpoint.kinds) or "-",
        "relay_reports": endpoint.relay_reports,
        "is_active": endpoint.is_active,
    }


@transaction.atomic
def create_endpoint(
    *, name: str, url: str, kinds, relay_reports: bool = False, is_active: bool = True, actor
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint with a fresh secret; returns it and the secret (shown once, never again)."""
    name, url, kinds = _clean_endpoint(name, url, kinds)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        name=name, url=url, kinds=kinds, relay_reports=relay_reports, is_active=is_active, secret=secret
    )
    record_audit_event(
        actor=actor_name(actor),
        action=actions.ALERT_WEBHOOK_CREATE,
        target=endpoint,
        details=_endpoint_details(endpoint),
    )
    return endpoint, secret


@transaction.atomic
def update_endpoint(
    endpoint_id: int, *, name: str, url: str, kinds, relay_reports: bool, is_active: bool, actor
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    name, url, kinds = _clean_endpoint(name, url, kinds)
    before = _endpoint_details(endpoint)
    endpoint.name, endpoint.url, endpoint.kinds = name, url, kinds
    endpoint.relay_reports, endpoint.is_active = relay_reports, is_active
    endpoint.save(update_fields=["name", "url", "kinds", "relay_reports", "is_active", "updated_at"])
    after = _endpoint_details(endpoint)
    changed = sorted(key for key in after if after[key] != before[key])
    if changed:
        record_audit_event(
            actor=actor_name(actor),
            action=actions.ALERT_WEBHOOK_UPDATE,
            target=endpoint,
            details={**after, "fields": ", ".join(changed)},
        )
    return endpoint


@transaction.atomic
def rotate_secret(endpoint_id: int, *, actor) -> str:
    """A new secret for the endpoint (the old one stops verifying at once); returned to show once."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    secret = signing.new_secret()
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "updated_at"])
    record_audit_event(
        actor=actor_name(actor),
        action=actions.ALERT_WEBHOOK_ROTATE,
        target=endpoint,
        details={"endpoint_id": endpoint.pk, "name": endpoint.name},
    )
    return secret


def masked_secret(secret: str) -> str:
    return "••••" + secret[-4:] if len(secret) > 8 else "••••"


@transaction.atomic
def send_test(endpoint_id: int, *, actor) -> Delivery:
    """Post a signed test message to the endpoint (through the same delivery path, retries included)."""
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    body = {
        "type": "test",
        "text": _("Test message from the Zalo OA console to %(name)s.") % {"name": endpoint.name},
        "endpoint": endpoint.name,
        "created_at": timezone.now().isoformat(),
    }
    delivery = Delivery.objects.create(
        channel=Channel.WEBHOOK,
        endpoint=endpoint,
        address=endpoint.url,
        body=_json(body),
        next_attempt_at=timezone.now(),
    )
    record_audit_event(
        actor=actor_name(actor),
        action=actions.ALERT_WEBHOOK_TEST,
        target=endpoint,
        details={"endpoint_id": endpoint.pk, "name": endpoint.name, "delivery_id": delivery.pk},
    )
    enqueue(DELIVER_JOB, delivery.pk)
    return delivery


def unregistered_notify_urls(limit: int = 20) -> list[str]:
    """notifyUrls of campaigns past their draft that no active relaying endpoint covers (their
    delivery reports are not relayed until a quality admin registers the URL)."""
    registered = WebhookEndpoint.objects.filter(is_active=True, relay_reports=True).values("url")
    return list(
        Campaign.objects.exclude(notify_url="")
        .exclude(status=Campaign.Status.DRAFT)
        .exclude(notify_url__in=registered)
        .order_by("notify_url")
        .values_list("notify_url", flat=True)
        .distinct()[:limit]
    )


# --- fan-out (job) ----------------------------------------------------------------------------------


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def webhook_body(alert: Alert) -> str:
    title, text = alert_title(alert), alert_text(alert)
    p = alert.params or {}
    return _json(
        {
            "type": "alert",
            "id": alert.pk,
            "kind": alert.kind,
            "title": title,
            "message": text,
            "text": f"{title}: {text}" if text else title,  # what chat tools' incoming webhooks show
            "oa": {"id": alert.oa_id, "name": p.get("oa_name", "")} if alert.oa_id else None,
            "campaign": {"id": alert.campaign_id, "name": p.get("campaign_name", "")}
            if alert.campaign_id
            else None,
            "created_at": alert.created_at.isoformat(),
            "url": absolute(alert_path(alert)),
        }
    )


def email_message(alert: Alert) -> tuple[str, str]:
    title, text = alert_title(alert), alert_text(alert)
    created = timezone.localtime(alert.created_at).strftime("%Y-%m-%d %H:%M")
    lines = [
        title,
        "",
        text,
        "",
        _("When: %(when)s (Vietnam time)") % {"when": created},
        _("Open: %(url)s") % {"url": absolute(alert_path(alert))},
        "",
        _("Choose which alerts you receive: %(url)s") % {"url": absolute(reverse("alerts:settings"))},
    ]
    return f"[Zalo OA] {title}"[:300], "\n".join(lines)


def fan_out(alert_id: int) -> list[int]:
    """Create the alert's deliveries (once: a conditional UPDATE claims the alert) and enqueue them."""
    now = timezone.now()
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert_id, fanned_out_at=None).update(fanned_out_at=now):
            return []
        alert = Alert.objects.get(pk=alert_id)
        deliveries = []
        # Texts in the site's language: people have no language of their own on record.
        with translation.override(settings.LANGUAGE_CODE):
            # Only people whose teams see the alert's OA or campaign (teams.scoping).
            people = [
                user
                for user in recipients(alert.kind, Channel.EMAIL)
                if user.email and visible(user, Alert.objects.filter(pk=alert.pk)).exists()
            ]
            if people:
                subject, body = email_message(alert)
                for user in people:
                    if user.email:
                        deliveries.append(
                            Delivery(
                                channel=Channel.EMAIL,
                                alert=alert,
                                user=user,
                                address=user.email,
                                subject=subject,
                                body=body,
                                next_attempt_at=now,
                            )  # fmt: skip
                        )
            endpoints = [
                e
                for e in WebhookEndpoint.objects.filter(is_active=True).order_by("pk")
                if alert.kind in e.kinds
            ]
            if endpoints:
                body = webhook_body(alert)
                for endpoint in endpoints:
                    deliveries.append(
                        Delivery(
                            channel=Channel.WEBHOOK,
                            alert=alert,
                            endpoint=endpoint,
                            address=endpoint.url,
                            body=body,
                            next_attempt_at=now,
                        )  # fmt: skip
                    )
        created = Delivery.objects.bulk_create(deliveries)
        ids = [d.pk for d in created]
        for delivery_id in ids:
            enqueue(DELIVER_JOB, delivery_id)
    return ids
