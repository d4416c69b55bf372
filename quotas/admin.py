"""Admin: quality admins add policy versions and move OAs between policies without a deploy."""

from django.contrib import admin

from quotas.models import LevelChange, OAQuotaState, Policy, QualityAlert


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "effective_from", "starting_level", "penalty_zone")
    search_fields = ("code", "name")


@admin.register(OAQuotaState)
class OAQuotaStateAdmin(admin.ModelAdmin):
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
class LevelChangeAdmin(admin.ModelAdmin):
    list_display = ("oa", "effective_day", "old_limit", "new_limit", "reason", "changed_by")
    list_filter = ("reason",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(QualityAlert)
class QualityAlertAdmin(admin.ModelAdmin):
    list_display = ("oa", "day", "kind", "campaigns_paused", "resolved_at")
    list_filter = ("kind",)
