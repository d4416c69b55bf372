from django.urls import path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:dashboard_alert_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("settings/", views.preferences, name="settings"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:endpoint_id>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:endpoint_id>/test/", views.webhook_test, name="webhook_test"),
]
