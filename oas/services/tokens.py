"""The OAuth token lifecycle of each Zalo OA: the row lock and the writes; the HTTP is providers.oauth.

Zalo's refresh token is single-use and rotating, so refreshing is single-flight per OA: the refresh
runs while holding `select_for_update()` on the OA's credentials row, and the new pair is saved in
that same transaction. A worker that waited for the lock re-reads the row and uses the pair the
other worker just stored instead of spending the (now dead) refresh token again.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oas.models import OACredentials
from providers import errors
from providers.base import ProviderError
from providers.models import ProviderAlert
from providers.oauth import TokenPair, ZaloOAuth
from zalo_admin import hooks

log = logging.getLogger(__name__)


def refresh_margin() -> timedelta:
    """Refresh this long before expiry (Zalo tokens live 25 h; S-SPEC suggests refreshing at ~20 h)."""
    return timedelta(seconds=settings.ZALO_TOKEN_REFRESH_MARGIN_SECONDS)


def _usable(creds: OACredentials, now, rejected_token: str | None) -> bool:
    return bool(
        creds.access_token
        and creds.access_token != rejected_token
        and creds.access_expires_at
        and creds.access_expires_at - refresh_margin() > now
    )


def _needs_reauthorisation_error(oa_id) -> ProviderError:
    return ProviderError(
        f"OA #{oa_id} needs re-authorisation", permanent=True, error=errors.NEEDS_REAUTHORISATION
    )


def get_access_token(oa_id: int, *, oauth: ZaloOAuth | None = None, rejected_token: str | None = None) -> str:
    """A valid access token for the OA, refreshing first when it is close to expiry.

    `rejected_token`: the token Zalo just refused (-124/-216/-220); it is never returned again.
    """
    creds = OACredentials.objects.filter(oa_id=oa_id).first()
    if creds is None:
        raise ProviderError(
            f"OA #{oa_id} has no credentials", permanent=True, error=errors.NEEDS_REAUTHORISATION
        )
    if creds.needs_reauthorisation:
        raise _needs_reauthorisation_error(oa_id)
    if _usable(creds, timezone.now(), rejected_token):
        return creds.access_token
    return refresh_access_token(oa_id, oauth=oauth, rejected_token=rejected_token)


def refresh_access_token(
    oa_id: int, *, oauth: ZaloOAuth | None = None, rejected_token: str | None = None, force: bool = False
) -> str:
    """Refresh under the per-OA row lock, unless someone else already did while we waited."""
    oauth = oauth or ZaloOAuth()
    failure: ProviderError | None = None
    with transaction.atomic():
        creds = OACredentials.objects.select_for_update().get(oa_id=oa_id)
        if creds.needs_reauthorisation:
            raise _needs_reauthorisation_error(oa_id)
        now = timezone.now()
        if not force and _usable(creds, now, rejected_token):
            return creds.access_token
        if not creds.refresh_token:
            failure = ProviderError(
                "no refresh token stored", permanent=True, error=errors.NEEDS_REAUTHORISATION
            )
        else:
            try:
                pair = oauth.refresh(creds.app_id, creds.app_secret, creds.refresh_token)
            except ProviderError as exc:
                if not exc.permanent or exc.error in errors.TRANSPORT_ERRORS:
                    # Network trouble or our own configuration (bad URL, untrusted certificate): the
                    # refresh token was not refused and may still be good, try again later.
                    raise
                failure = exc
            else:
                _store_pair(creds, pair, now)
                log.info("refreshed Zalo tokens of OA #%s", oa_id)
                return creds.access_token
        _mark_needs_reauthorisation(creds, failure)
    raise _needs_reauthorisation_error(oa_id) from failure


def complete_authorisation(
    oa_id: int, code: str, code_verifier: str, *, oauth: ZaloOAuth | None = None
) -> None:
    """Exchange the one-time authorisation code (PKCE) and store the first token pair."""
    oauth = oauth or ZaloOAuth()
    with transaction.atomic():
        creds = OACredentials.objects.select_for_update().get(oa_id=oa_id)
        pair = oauth.exchange_code(creds.app_id, creds.app_secret, code, code_verifier)
        _store_pair(creds, pair, timezone.now())
        ProviderAlert.objects.filter(
            oa_id=oa_id, kind=ProviderAlert.Kind.REAUTHORISATION, resolved_at=None
        ).update(resolved_at=timezone.now())


def refresh_expiring_tokens() -> dict:
    """Refresh every Zalo OA whose access token enters the refresh margin (run periodically)."""
    limit = timezone.now() + refresh_margin()
    due = OACredentials.objects.filter(needs_reauthorisation=False, oa__is_active=True).exclude(
        refresh_token=""
    )
    due = due.filter(access_expires_at__lte=limit) | due.filter(access_expires_at=None)
    outcome = {"refreshed": 0, "failed": 0}
    for oa_id in due.values_list("oa_id", flat=True):
        try:
            refresh_access_token(oa_id)
            outcome["refreshed"] += 1
        except ProviderError as exc:
            log.warning("could not refresh tokens of OA #%s: %s", oa_id, exc)
            outcome["failed"] += 1
    return outcome


def _store_pair(creds: OACredentials, pair: TokenPair, now) -> None:
    creds.access_token = pair.access_token
    creds.refresh_token = pair.refresh_token
    creds.access_expires_at = now + timedelta(seconds=pair.expires_in)
    creds.refreshed_at = now
    creds.needs_reauthorisation = False
    creds.reauthorisation_reason = ""
    creds.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "access_expires_at",
            "refreshed_at",
            "needs_reauthorisation",
            "reauthorisation_reason",
            "updated_at",
        ]
    )


def _mark_needs_reauthorisation(creds: OACredentials, failure: ProviderError) -> None:
    reason = f"token refresh refused: {failure}"
    if failure.provider_message:
        reason += f" ({failure.provider_message})"
    creds.needs_reauthorisation = True
    creds.reauthorisation_reason = reason[:300]
    creds.save(update_fields=["needs_reauthorisation", "reauthorisation_reason", "updated_at"])
    if not ProviderAlert.objects.filter(
        oa_id=creds.oa_id, kind=ProviderAlert.Kind.REAUTHORISATION, resolved_at=None
    ).exists():
        ProviderAlert.objects.create(
            oa_id=creds.oa_id, kind=ProviderAlert.Kind.REAUTHORISATION, message=reason
        )
        hooks.emit(hooks.OA_NEEDS_REAUTHORISATION, oa_id=creds.oa_id, reason=reason)
    log.error("OA #%s needs re-authorisation: %s", creds.oa_id, reason)
