"""The secret URL Infobip posts an OA's delivery reports to: `/webhooks/infobip/<token>/`.

Infobip signs nothing, so the URL itself is the secret. Every Infobip OA gets a random token when it
is created or its credentials are saved (oas.services.accounts.save_official_account); it is stored
twice: encrypted like the OA's other secrets, because every send puts the whole URL in the message
(Infobip's `webhooks.delivery.url`), and as a SHA-256 for the webhook's lookup
(providers.signatures.infobip_token_hash), because the encrypted column cannot be searched.
"""

import secrets

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from oas.models import OACredentials, OfficialAccount
from providers.signatures import infobip_token_hash


def needs_infobip_webhook_token(oa: OfficialAccount, creds: OACredentials) -> bool:
    return oa.provider == OfficialAccount.Provider.INFOBIP and not creds.infobip_webhook_token_hash


def issue_infobip_webhook_token(oa_id: int) -> str:
    """A new secret for the OA's Infobip webhook URL; the old one dies (its URL answers 404)."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        creds = OACredentials.objects.select_for_update().get(oa_id=oa_id)
        creds.infobip_webhook_token = token
        creds.infobip_webhook_token_hash = infobip_token_hash(token)
        creds.save(update_fields=["infobip_webhook_token", "infobip_webhook_token_hash", "updated_at"])
    return token


def infobip_report_url(creds: OACredentials) -> str:
    """The OA's delivery-report URL when PROVIDERS_PUBLIC_BASE_URL is set and it has a token, else ""
    (then the URL is given to Infobip support by hand, or not at all)."""
    public = settings.PROVIDERS_PUBLIC_BASE_URL
    if not public or not creds.infobip_webhook_token:
        return ""
    return public.rstrip("/") + reverse("providers:infobip_webhook", args=[creds.infobip_webhook_token])
