"""An OA's provider client, with the duties that need the database around the plain HTTP client.

providers/ holds HTTP clients over a plain `Account` and `PublicKey` (providers.base); they never
read or write the database. `client_for(oa)` returns an `OAClient` that builds such a client from
the OA's rows for every call and does what only this layer may do:

- Tokens (oas.services.tokens): each call gets a valid access token, refreshed first when it is
  about to expire. An invalid-token answer (-124/-216/-220) refreshes once (single-flight under the
  row lock) and calls again once; a batch resends from the refused message on, which Zalo did not
  process (it refused the token).
- Kill switch: the OA's `sending_stopped` is read again just before each batch and passed in, and
  the client itself refuses to send while it is on (defence in depth, whoever calls).
- RSA keys (oas.services.keys): encrypted sends use the OA's active key, fetched from the provider
  and stored the first time; a key Zalo refuses (-123/-128/-142) is retired, so the next encrypted
  send fetches it again.
- Infobip delivery reports: sends carry the OA's secret report URL (oas.services.report_urls).
"""

import logging
from collections.abc import Callable, Sequence

from oas.models import OACredentials, OfficialAccount, RSAKey
from oas.services import keys, report_urls, tokens
from providers import errors
from providers.base import (
    Account,
    MessageRequest,
    Provider,
    ProviderError,
    PublicKey,
    Quality,
    Quota,
    SendResult,
    TemplateInfo,
    result_for_error,
)
from providers.http import HttpClient, interactive_client, shared_client
from providers.oauth import ZaloOAuth
from providers.services import client_class
from zalo_admin.lib import rsa

log = logging.getLogger(__name__)


def client_for(oa: OfficialAccount, **options) -> "OAClient":
    """The client this OA sends through (Zalo or Infobip, by `oa.provider`).

    `options`: `http`, `oauth` (Zalo) and what the provider's client takes (`api_base`, `oa_api_base`
    for Zalo). OACredentials.DoesNotExist for an Infobip OA without credentials; a Zalo OA without
    them fails its calls with OA_NEEDS_REAUTHORISATION."""
    return OAClient(oa, **options)


def _token_refused(error) -> bool:
    return error is not None and error.kind == errors.TOKEN


class OAClient:
    """The provider calls of one OA (the interface of providers.base.Provider), bound to its rows."""

    def __init__(
        self,
        oa: OfficialAccount,
        *,
        http: HttpClient | None = None,
        oauth: ZaloOAuth | None = None,
        **client_options,
    ):
        self.oa = oa
        self.client_class: type[Provider] = client_class(oa.provider)
        self.name = self.client_class.name
        self.http = http or shared_client()
        self.client_options = client_options
        self.uses_tokens = oa.provider == OfficialAccount.Provider.ZALO
        self.oauth = (oauth or ZaloOAuth(http=self.http)) if self.uses_tokens else None
        if not self.uses_tokens:
            OACredentials.objects.get(oa=oa)  # as before: no credentials, no Infobip client

    # --- building the plain client ---------------------------------------------------------------

    def client(
        self,
        *,
        rejected_token: str | None = None,
        key: PublicKey | None = None,
        key_error: Exception | None = None,
        sends_stopped: bool = False,
    ) -> Provider:
        """A provider client over the OA's current rows (ProviderError when no token can be had)."""
        creds = OACredentials.objects.select_related("oa").filter(oa_id=self.oa.pk).first()
        token = ""
        if self.uses_tokens and not sends_stopped:
            token = tokens.get_access_token(self.oa.pk, oauth=self.oauth, rejected_token=rejected_token)
        if creds is None and not self.uses_tokens:
            raise OACredentials.DoesNotExist(f"OA #{self.oa.pk} has no credentials")
        account = Account(
            provider=self.oa.provider,
            zalo_oa_id=creds.oa.zalo_oa_id if creds else self.oa.zalo_oa_id,
            oa_pk=self.oa.pk,
            access_token=token,
            infobip_base_url=creds.infobip_base_url if creds else "",
            infobip_api_key=creds.infobip_api_key if creds else "",
            infobip_sender=creds.infobip_sender if creds else "",
            report_url=report_urls.infobip_report_url(creds) if creds and not self.uses_tokens else "",
            sends_stopped=sends_stopped,
        )
        return self.client_class(account, key, key_error=key_error, http=self.http, **self.client_options)

    def call(self, operation: Callable[[Provider], object]):
        """`operation(client)`; an invalid-token answer refreshes the token once and calls again once."""
        client = self.client()
        try:
            return operation(client)
        except ProviderError as exc:
            if not (self.uses_tokens and _token_refused(exc.error)):
                raise
            log.info(
                "Zalo refused the access token of OA #%s (%s); refreshing once", self.oa.pk, exc.provider_code
            )
            return operation(self.client(rejected_token=client.account.access_token))

    # --- sending ---------------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[MessageRequest]) -> list[SendResult]:
        messages = list(messages)
        stopped = OfficialAccount.objects.filter(pk=self.oa.pk, sending_stopped=True).exists()
        if stopped:
            return self.client(sends_stopped=True).send_batch(messages)
        key, key_error = (None, None)
        if any(m.encrypted for m in messages):
            key, key_error = self._encryption_key()
        try:
            client = self.client(key=key, key_error=key_error)
        except ProviderError as exc:  # no usable token: nothing was sent
            return _halted(messages, exc, attempted=False)
        results = client.send_batch(messages)
        refused = next((i for i, r in enumerate(results) if r.attempted and _token_refused(r.error)), None)
        if refused is not None and self.uses_tokens:
            log.info("Zalo refused the access token of OA #%s; refreshing once", self.oa.pk)
            # Zalo refused the token, so it did not process that message: resending it is safe.
            rest = messages[refused:]
            try:
                client = self.client(rejected_token=client.account.access_token, key=key, key_error=key_error)
            except ProviderError as exc:
                return results[:refused] + _halted(rest, exc, attempted=True)
            results = results[:refused] + client.send_batch(rest)
        for result in results:
            if result.key_refused:
                keys.retire_active_key(self.oa.pk, f"Zalo refused the key (error {result.provider_code})")
                break
        return results

    def _encryption_key(self) -> tuple[PublicKey | None, Exception | None]:
        """The OA's active key, fetched and stored the first time; (None, why) when there is none."""
        active = keys.active_key(self.oa.pk)
        if active is not None:
            return active, None
        try:
            stored = fetch_key_from_provider(actor=f"system:{self.name}", oa=self.oa, client=self).key
        except (ProviderError, rsa.EncryptionError) as exc:
            return None, exc
        return PublicKey(stored.public_key, stored.fingerprint), None

    # --- the other calls, each with a valid token --------------------------------------------------

    def list_templates(self, *args, **kwargs) -> list[TemplateInfo]:
        return self.call(lambda c: c.list_templates(*args, **kwargs))

    def get_template(self, template_id: str) -> TemplateInfo:
        return self.call(lambda c: c.get_template(template_id))

    def get_sample_data(self, template_id: str) -> dict:
        return self.call(lambda c: c.get_sample_data(template_id))

    def get_quota(self) -> Quota:
        return self.call(lambda c: c.get_quota())

    def get_quality(self) -> Quality | None:
        return self.call(lambda c: c.get_quality())

    def get_public_key(self) -> str:
        return self.call(lambda c: c.get_public_key())

    def create_public_key(self) -> str:
        return self.call(lambda c: c.create_public_key())


def _halted(messages: Sequence[MessageRequest], exc: ProviderError, *, attempted: bool) -> list[SendResult]:
    """The batch stopped by `exc` at its first message (`attempted`: that one reached the provider)."""
    return [
        result_for_error(
            m,
            exc.error or errors.SERVER_ERROR,
            provider_code=exc.provider_code,
            provider_message=exc.provider_message or str(exc),
            retry_after=exc.retry_after,
            attempted=attempted and i == 0,
        )
        for i, m in enumerate(messages)
    ]


# --- RSA keys at the provider ----------------------------------------------------------------------


def create_key_at_provider(*, actor, oa: OfficialAccount) -> keys.KeyOutcome:
    """Ask the provider to generate a key pair (it keeps the private half). ProviderError on refusal."""
    public_key = client_for(oa, http=interactive_client()).create_public_key()
    return keys.store_public_key(actor=actor, oa=oa, public_key=public_key, origin=RSAKey.Origin.CREATED)


def fetch_key_from_provider(*, actor, oa: OfficialAccount, client: OAClient | None = None) -> keys.KeyOutcome:
    """Fetch the provider's existing key; a different key than ours rotates it in."""
    public_key = (client or client_for(oa, http=interactive_client())).get_public_key()
    return keys.store_public_key(actor=actor, oa=oa, public_key=public_key, origin=RSAKey.Origin.FETCHED)
