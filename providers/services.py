"""State changes of provider credentials (the only place they are written, besides token refresh)."""

import secrets

from django.db import transaction

from oas.models import OACredentials, OfficialAccount
from providers.base import Provider
from providers.webhooks import infobip_token_hash


def issue_infobip_webhook_token(oa_id: int) -> str:
    """A new secret for the OA's Infobip webhook URL `/webhooks/infobip/<token>/`; the old one dies."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        creds = OACredentials.objects.select_for_update().get(oa_id=oa_id)
        creds.infobip_webhook_token = token
        creds.infobip_webhook_token_hash = infobip_token_hash(token)
        creds.save(update_fields=["infobip_webhook_token", "infobip_webhook_token_hash", "updated_at"])
    return token


def client_for(oa: OfficialAccount, **kwargs) -> Provider:
    """The provider client this OA sends through."""
    from providers.infobip import InfobipClient
    from providers.zalo import ZaloClient

    if oa.provider == OfficialAccount.Provider.INFOBIP:
        return InfobipClient(oa, **kwargs)
    return ZaloClient(oa, **kwargs)
