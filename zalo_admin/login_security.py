"""Login throttling around django-axes: the lockout page, and the log and audit of failed logins.

django-axes counts failed logins per username + client address (settings.AXES_*) for the site login
and the Django admin login alike, refuses further attempts while locked, and calls
`lockout_response` for the answer. The receivers below write one log line and one audit entry per
failed login and one audit entry when a lockout begins. Passwords never reach them: Django masks
every credential but the username before sending `user_login_failed`, and only the username is read.
"""

import logging
import math

# Importing axes.signals connects axes' own receivers first, so that ours below run after axes has
# counted the failure (request.axes_failures_since_start, request.axes_locked_out).
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.shortcuts import render
from django.utils.translation import ngettext

from compliance import actions
from compliance.services import record_audit_event

logger = logging.getLogger("zalo_admin.auth")


def _client(request) -> dict:
    if request is None:
        return {"ip_address": None, "path": ""}
    return {
        "ip_address": getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR"),
        "path": request.path,
    }


def _user_target(username: str) -> dict:
    """The audit target: the account tried, when it exists (the username is in the details anyway)."""
    user_model = get_user_model()
    user_id = (
        user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username})
        .values_list("pk", flat=True)
        .first()
    )
    return {"target_type": "auth.user", "target_id": "" if user_id is None else user_id}


def cool_off_minutes(request=None) -> int:
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds() / 60) if cool_off else 0


@receiver(user_login_failed, dispatch_uid="zalo_admin.audit_failed_login")
def audit_failed_login(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get(get_user_model().USERNAME_FIELD) or "")[:150]
    client = _client(request)
    locked_out = bool(getattr(request, "axes_locked_out", False))
    failures = getattr(request, "axes_failures_since_start", None)
    # twofactor.views sends this signal for a wrong second-factor code (the password was right).
    two_factor = bool((credentials or {}).get("two_factor"))
    logger.warning(
        "Failed login for username %r from %s at %s (failures: %s%s%s)",
        username,
        client["ip_address"],
        client["path"],
        failures if failures is not None else "?",
        ", wrong two-factor code" if two_factor else "",
        ", locked out" if locked_out else "",
    )
    record_audit_event(
        actor=actions.ANONYMOUS_ACTOR,
        action=actions.AUTH_TWO_FACTOR_FAILED if two_factor else actions.AUTH_LOGIN_FAILED,
        details={"username": username, **client, "failures": failures, "locked_out": locked_out},
        **_user_target(username),
    )


@receiver(user_locked_out, dispatch_uid="zalo_admin.audit_lockout")
def audit_lockout(sender, request, username, ip_address, **kwargs):
    """axes sends this on every refused attempt; the entry records the attempt that began the lockout."""
    credentials = getattr(request, "axes_credentials", None)
    if getattr(request, "axes_failures_since_start", None) != get_failure_limit(request, credentials):
        return
    minutes = cool_off_minutes(request)
    username = str(username or "")[:150]
    logger.warning("Locked out username %r from %s for %d minutes", username, ip_address, minutes)
    record_audit_event(
        actor=actions.ANONYMOUS_ACTOR,
        action=actions.AUTH_LOCKED_OUT,
        details={
            "username": username,
            "ip_address": ip_address,
            "path": request.path,
            "failures": request.axes_failures_since_start,
            "cool_off_minutes": minutes,
        },
        **_user_target(username),
    )


def lockout_response(request, original_response=None, credentials=None):
    """settings.AXES_LOCKOUT_CALLABLE: a page in the user's language, 429 with Retry-After."""
    minutes = cool_off_minutes(request)
    message = ngettext(
        "Too many failed logins for the account “%(username)s” from your address. "
        "Logging in is locked for %(minutes)d minute; please try again later.",
        "Too many failed logins for the account “%(username)s” from your address. "
        "Logging in is locked for %(minutes)d minutes; please try again later.",
        minutes,
    ) % {"username": get_client_username(request, credentials) or "", "minutes": minutes}
    response = render(request, "registration/locked_out.html", {"lockout_message": message}, status=429)
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response
