from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self):
        # Other apps register webhook handlers in their `webhook_handlers.py` (see providers.handlers).
        autodiscover_modules("webhook_handlers")
