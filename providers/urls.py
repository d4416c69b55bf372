from django.urls import path

from providers import webhooks

app_name = "providers"

urlpatterns = [
    path("zalo/", webhooks.zalo_webhook, name="zalo_webhook"),
    path("infobip/<str:token>/", webhooks.infobip_webhook, name="infobip_webhook"),
]
