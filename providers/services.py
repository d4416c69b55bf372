"""The provider clients by name: a table of dotted paths, each imported on first use.

Like healthchecks' `Channel.transport`: nothing here imports a client module until it is asked for,
so the registry has no import cycle and a provider is added with one line. Building a client for an
OA from the database is the caller's business (oas.services.clients.client_for).
"""

from functools import cache

from django.utils.module_loading import import_string

from providers.base import Provider

PROVIDER_CLIENTS: dict[str, str] = {
    "zalo": "providers.zalo.ZaloClient",
    "infobip": "providers.infobip.InfobipClient",
}


@cache
def client_class(provider: str) -> type[Provider]:
    """The client class of a provider name ("zalo", "infobip"); ValueError for any other."""
    try:
        path = PROVIDER_CLIENTS[provider]
    except KeyError:
        raise ValueError(f"no provider client is registered for {provider!r}") from None
    return import_string(path)
