from django.apps import AppConfig


class OasConfig(AppConfig):
    name = "oas"
    verbose_name = "Official Accounts"
