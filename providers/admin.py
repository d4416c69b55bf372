"""Read-only admin pages (staff only): alerts that need a person, and the stored webhook events.

A re-authorisation alert is resolved by connecting the OA with Zalo again (audited), never here;
webhook events are kept to recognise redeliveries, so none is deleted.
"""

from django.contrib import admin

from providers.models import ProviderAlert, WebhookEvent
from teams.admin import TeamScopedAdmin


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProviderAlert)
class ProviderAlertAdmin(TeamScopedAdmin, ReadOnly):
    list_display = ("created_at", "oa", "kind", "message", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))


@admin.register(WebhookEvent)
class WebhookEventAdmin(TeamScopedAdmin, ReadOnly):
    list_display = ("received_at", "provider", "event_name", "oa", "status", "attempts")
    list_filter = ("provider", "status", "event_name")
    search_fields = ("unique_key",)
