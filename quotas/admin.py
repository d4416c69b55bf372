"""Admin: quality admins add policy versions and move OAs between policies without a deploy."""

from django.contrib import admin

from quotas.models import LevelChange, OAQuotaState, Policy, QualityAlert
from zalo_admin.roles import has_capability


class ManagedByQualityAdmins:
    """The `manage_quality` capability grants these admin pages (and the admin site itself)."""

    def has_module_permission(self, request):
        return has_capability(request.user, "manage_quality")

    def has_view_permission(self, request, obj=None):
        return has_capability(request.user, "manage_quality")

    def has_add_permission(self, request):
        return has_capability(request.user, "manage_quality")

    def has_change_permission(self, request, obj=None):
        return has_capability(request.user, "manage_quality")

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Policy)
class PolicyAdmin(ManagedByQualityAdmins, admin.ModelAdmin):
    list_display = ("code", "name", "effective_from", "starting_level", "penalty_zone")
    search_fields = ("code", "name")


@admin.register(OAQuotaState)
class OAQuotaStateAdmin(ManagedByQualityAdmins, admin.ModelAdmin):
    list_display = (
        "oa",
        "policy",
        "current_limit",
        "review_clock_start",
        "guardrail_share",
        "guardrail_action",
    )
    list_filter = ("policy", "guardrail_action")
    # Limits change through reviews, violations and the written-reason correction on the quality page.
    readonly_fields = (
        "current_limit",
        "pending_limit",
        "pending_from_day",
        "first_send_day",
        "first_marketing_day",
    )


@admin.register(LevelChange)
class LevelChangeAdmin(ManagedByQualityAdmins, admin.ModelAdmin):
    list_display = ("oa", "effective_day", "old_limit", "new_limit", "reason", "changed_by")
    list_filter = ("reason",)

    def has_change_permission(self, request, obj=None):
        return False  # the history is written by the engine and by corrections with a reason

    def has_add_permission(self, request):
        return False


@admin.register(QualityAlert)
class QualityAlertAdmin(ManagedByQualityAdmins, admin.ModelAdmin):
    list_display = ("oa", "day", "kind", "campaigns_paused", "resolved_at")
    list_filter = ("kind",)
