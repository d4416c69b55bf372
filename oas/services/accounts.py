"""Official Accounts: create and edit with their credentials, connect (OAuth), probe, stop and resume.

Every change is audited in the same transaction (compliance.services.record_audit_event).
"""

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas.models import OACredentials, OfficialAccount
from oas.services import report_urls
from oas.services.tokens import complete_authorisation
from providers.base import ProviderError
from providers.oauth import ZaloOAuth, new_pkce_pair
from quotas.models import OAQuotaState, Policy
from quotas.services.state import create_quota_state
from zalo_admin import hooks
from zalo_admin.lib import endpoints

# Credentials a form may set; secrets are only replaced when a new value is given.
CREDENTIAL_FIELDS = ("app_id", "infobip_base_url", "infobip_sender")
SECRET_FIELDS = ("app_secret", "oa_secret_key", "infobip_api_key")
ACCOUNT_FIELDS = ("name", "zalo_oa_id", "provider", "owner_team")


# Infobip's sender is the Zalo OA id (`{sender}` is an int64 path segment, the send body's
# `sender` an alphanumeric string such as "OFFICIAL-ACCOUNT-ID-XY12Z3"; the sandbox uses
# "demo-oa-2"). It goes into URL paths, so no dot either: "." and ".." are path segments.
INFOBIP_SENDER = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Secrets bound to the app id (OAuth `secret_key` header, webhook MAC key of the app's Webhook page).
APP_BOUND_SECRETS = ("app_secret", "oa_secret_key")


class PolicyChangeRefused(ValueError):
    """An OA that has already sent stays on its policy; levels are corrected in Quality & quota."""


class TeamChangeRefused(ValueError):
    """An OA with campaigns stays in its team: their lists and segments belong to that team."""


class CredentialsRefused(ValidationError):
    """Credentials that would send a stored secret somewhere new, or a malformed endpoint; the
    message dict is keyed by form field. Nothing was saved."""


def infobip_base_url_error(url: str) -> str | None:
    """Why an Infobip base URL is refused (zalo_admin.lib.endpoints; DEBUG is local mode), or None."""
    problem = endpoints.endpoint_problem(url, local_mode=settings.DEBUG)
    if problem is None:
        return None
    return {
        endpoints.INVALID: _("Enter a valid http(s) URL."),
        endpoints.USERINFO: _("The URL must not contain a user name or password."),
        endpoints.QUERY_OR_FRAGMENT: _("The URL must not contain a query (?) or a fragment (#)."),
        endpoints.HTTPS_REQUIRED: _(
            "Use an https URL: plain http is accepted only in local mode, for the sandbox on this machine."
        ),
        endpoints.HTTP_LOOPBACK_ONLY: _(
            "Plain http is accepted only for this machine (127.0.0.1, ::1, localhost); use https."
        ),
    }[problem]


def infobip_sender_error(sender: str) -> str | None:
    if INFOBIP_SENDER.fullmatch(sender):
        return None
    return _("Use 1 to 64 letters, digits, dashes and underscores (no spaces, dots, slashes, ? or #).")


def _infobip_endpoint(provider: str, url: str, sender: str, zalo_oa_id: str) -> tuple[str, str, str]:
    """Where the Infobip API key is sent, as InfobipClient resolves it."""
    return provider, (url or settings.INFOBIP_BASE_URL).rstrip("/"), sender or zalo_oa_id


def rebinding_errors(
    *, oa: OfficialAccount | None, stored: OACredentials | None, data: dict
) -> dict[str, list[str]]:
    """Stored secrets that `data` would send to a new endpoint or pair with a new app unless they
    are typed again in the same change, keyed by the secret's field.

    - Infobip: the API key goes to the OA's base URL for its sender; a new provider, base URL or
      sender (as InfobipClient resolves them) needs the key again, else whoever controls the new
      host would receive the stored key.
    - Zalo: the app secret and the webhook OA secret key belong to one Zalo app; a new app id needs
      them again.
    """
    if oa is None or oa.pk is None or stored is None:
        return {}
    errors: dict[str, list[str]] = {}
    provider = data.get("provider", oa.provider)
    key_kept = stored.infobip_api_key and not data.get("infobip_api_key")
    if provider == OfficialAccount.Provider.INFOBIP and key_kept:
        before = _infobip_endpoint(oa.provider, stored.infobip_base_url, stored.infobip_sender, oa.zalo_oa_id)
        after = _infobip_endpoint(
            provider,
            data.get("infobip_base_url", ""),
            data.get("infobip_sender", ""),
            data.get("zalo_oa_id", oa.zalo_oa_id),
        )
        if before != after:
            errors["infobip_api_key"] = [_("The endpoint changed: enter the API key again.")]
    app_id = data.get("app_id", "")
    if app_id and app_id != stored.app_id:
        messages = {
            "app_secret": _("The Zalo app id changed: enter the app secret again."),
            "oa_secret_key": _("The Zalo app id changed: enter the OA secret key again."),
        }
        for name in APP_BOUND_SECRETS:
            if getattr(stored, name) and not data.get(name):
                errors[name] = [messages[name]]
    return errors


def credential_errors(
    *, oa: OfficialAccount | None, stored: OACredentials | None, data: dict
) -> dict[str, list[str]]:
    """Every credential rule `data` breaks, keyed by form field (empty: acceptable)."""
    errors = rebinding_errors(oa=oa, stored=stored, data=data)
    url = data.get("infobip_base_url", "")
    if url and (message := infobip_base_url_error(url)):
        errors.setdefault("infobip_base_url", []).append(message)
    sender = data.get("infobip_sender", "")
    if data.get("provider") == OfficialAccount.Provider.INFOBIP and not sender:
        sender = data.get("zalo_oa_id", "")  # what InfobipClient puts in the path instead
    if sender and (message := infobip_sender_error(sender)):
        errors.setdefault("infobip_sender", []).append(message)
    return errors


def secret_hint(value: str) -> str:
    """What the UI may show of a stored secret: never more than its last four characters."""
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) > 8 else "••••"


@transaction.atomic
def save_official_account(
    *, actor, oa: OfficialAccount | None, data: dict, policy: Policy
) -> OfficialAccount:
    """Create or update an OA, its credentials and its quota policy from cleaned form data.

    CredentialsRefused (nothing saved) when `credential_errors` finds a problem, e.g. a new Infobip
    endpoint without the API key typed again."""
    creating = oa is None
    if creating:
        before, stored = None, None
    else:
        before = OfficialAccount.objects.select_for_update().get(pk=oa.pk)
        stored = OACredentials.objects.select_for_update().filter(oa=before).first()
    errors = credential_errors(oa=before, stored=stored, data=data)
    if errors:
        raise CredentialsRefused(errors)
    oa = oa or OfficialAccount()
    changed = [name for name in ACCOUNT_FIELDS if getattr(oa, name) != data[name]]
    for name in ACCOUNT_FIELDS:
        setattr(oa, name, data[name])
    team = data.get("team")  # None: the OA keeps its team (a new one gets the default team)
    if team is not None and team.pk != oa.team_id:
        if not creating and before.campaigns.exists():
            raise TeamChangeRefused(before.team.name)
        oa.team = team
        changed.append("team")
    oa.save()

    creds, _ = OACredentials.objects.select_for_update().get_or_create(oa=oa)
    for name in CREDENTIAL_FIELDS:
        if getattr(creds, name) != data.get(name, ""):
            setattr(creds, name, data.get(name, ""))
            changed.append(name)
    replaced_secrets = [name for name in SECRET_FIELDS if data.get(name)]
    for name in replaced_secrets:
        setattr(creds, name, data[name])
    creds.save()
    # An Infobip OA has its secret delivery-report URL from the start; saving again keeps it.
    token_issued = report_urls.needs_infobip_webhook_token(oa, creds)
    if token_issued:
        report_urls.issue_infobip_webhook_token(oa.pk)

    state = OAQuotaState.objects.select_for_update().filter(oa=oa).first()
    if state is None:
        create_quota_state(oa, policy)
    elif state.policy_id != policy.pk:
        if state.first_send_day is not None:
            raise PolicyChangeRefused(state.policy.code)
        state.policy = policy
        state.current_limit = policy.starting_level
        state.save(update_fields=["policy", "current_limit", "updated_at"])
        changed.append("policy")

    record_audit_event(
        actor=actor_name(actor),
        action=actions.OA_CREATE if creating else actions.OA_UPDATE,
        target=oa,
        # Which secrets were replaced, never their values.
        details={
            "name": oa.name,
            "zalo_oa_id": oa.zalo_oa_id,
            "changed": changed,
            "secrets_replaced": replaced_secrets,
            "policy": policy.code,
            "team": oa.team.name,
            **({"webhook_token_issued": True} if token_issued else {}),
        },
    )
    return oa


@transaction.atomic
def set_account_active(*, actor, oa_id: int, active: bool) -> OfficialAccount:
    """Disable (no sends, hidden from campaign building) or re-enable an OA."""
    oa = OfficialAccount.objects.select_for_update().get(pk=oa_id)
    if oa.is_active == active:
        return oa
    oa.is_active = active
    oa.save(update_fields=["is_active"])
    paused = 0 if active else _pause_active_campaigns(oa, f"OA {oa.name} was disabled", actor)
    record_audit_event(
        actor=actor_name(actor),
        action=actions.OA_ENABLE if active else actions.OA_DISABLE,
        target=oa,
        details={"name": oa.name, "campaigns_paused": paused},
    )
    return oa


def _pause_active_campaigns(oa: OfficialAccount, reason: str, actor) -> int:
    """Announce that the OA stopped sending (campaigns pause its campaigns); how many were paused."""
    paused = hooks.emit(hooks.OA_SENDS_STOPPED, oa_id=oa.pk, reason=reason, actor=actor_name(actor))
    return sum(len(ids) for ids in paused)


@transaction.atomic
def stop_sending(*, actor, oa_id: int, reason: str) -> OfficialAccount:
    """The kill switch: stop every send of the OA at once and pause its campaigns."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    oa = OfficialAccount.objects.select_for_update().get(pk=oa_id)
    if oa.sending_stopped:
        return oa
    oa.sending_stopped = True
    oa.stop_reason = reason
    oa.stopped_at = timezone.now()
    oa.stopped_by = actor
    oa.save(update_fields=["sending_stopped", "stop_reason", "stopped_at", "stopped_by"])
    paused = _pause_active_campaigns(oa, f"Kill switch on OA {oa.name}: {reason}", actor)
    record_audit_event(
        actor=actor_name(actor),
        action=actions.OA_KILL_SWITCH,
        target=oa,
        details={"name": oa.name, "reason": reason, "campaigns_paused": paused},
    )
    return oa


@transaction.atomic
def resume_sending(*, actor, oa_id: int, reason: str) -> OfficialAccount:
    """Lift the kill switch (quality admins only, checked by the view); paused campaigns stay paused."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    oa = OfficialAccount.objects.select_for_update().get(pk=oa_id)
    if not oa.sending_stopped:
        return oa
    previous = oa.stop_reason
    oa.sending_stopped = False
    oa.stop_reason = ""
    oa.stopped_at = None
    oa.stopped_by = None
    oa.save(update_fields=["sending_stopped", "stop_reason", "stopped_at", "stopped_by"])
    record_audit_event(
        actor=actor_name(actor),
        action=actions.OA_RESUME,
        target=oa,
        details={"name": oa.name, "reason": reason, "stopped_for": previous},
    )
    return oa


# --- OAuth v4 with PKCE ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorisationStart:
    url: str
    state: str
    code_verifier: str


def start_authorisation(oa: OfficialAccount, redirect_uri: str) -> AuthorisationStart:
    """The Zalo permission URL for this OA; the caller keeps state and verifier in the session."""
    creds = OACredentials.objects.get(oa=oa)
    verifier, challenge = new_pkce_pair()
    state = secrets.token_urlsafe(32)
    url = ZaloOAuth().authorization_url(creds.app_id, redirect_uri, challenge, state=state)
    return AuthorisationStart(url=url, state=state, code_verifier=verifier)


@transaction.atomic
def finish_authorisation(*, actor, oa: OfficialAccount, code: str, code_verifier: str) -> None:
    """Exchange the code for the first token pair (raises ProviderError with the provider's words)."""
    complete_authorisation(oa.pk, code, code_verifier)
    record_audit_event(
        actor=actor_name(actor),
        action=actions.OA_CONNECT,
        target=oa,
        details={"name": oa.name},
    )


# --- reading the provider ------------------------------------------------------------------------


def provider_error_text(exc: ProviderError) -> str:
    """The error in the user's language, with the provider's own words when they add something."""
    if exc.error is None:
        return str(exc)
    text = exc.error.text()
    if exc.provider_message and exc.provider_message not in text:
        text = f"{text} ({exc.provider_message})"
    return text
