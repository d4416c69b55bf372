"""Admin: quality admins add policies and policy versions without a deploy; the rest is read-only.

Every state change here goes through the audited services of `quotas.services`: saving a policy's
change form makes a new policy version (the old row stays as it was), alerts are marked as handled
by an admin action calling `levels.resolve_alert`, and an OA's quota state is changed on the OA's
own pages (policy: the OA form; level and guardrail: the quality page). Nothing is deleted here.
"""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from quotas.models import LevelChange, OAQuotaState, Policy, QualityAlert
from quotas.services import levels, policies
from teams.admin import TeamScopedAdmin
from zalo_admin.roles import has_capability


class ManagedByQualityAdmins:
    """The `manage_quality` capability grants these admin pages (and the admin site itself)."""

    open_to_quality_admins = True  # reachable without staff status (see ZaloAdminSite)

    def has_module_permission(self, request):
        return has_capability(request.user, "manage_quality")

    def has_view_permission(self, request, obj=None):
        return has_capability(request.user, "manage_quality")

    def has_add_permission(self, request):
        return has_capability(request.user, "manage_quality")

    def has_change_permission(self, request, obj=None):
        return has_capability(request.user, "manage_quality")

    def has_delete_permission(self, request, obj=None):
        return False  # OAs, levels and the audit log refer to these rows: history is never deleted


class ReadOnlyForQualityAdmins(ManagedByQualityAdmins):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Policy)
class PolicyAdmin(ManagedByQualityAdmins, admin.ModelAdmin):
    list_display = ("code", "name", "effective_from", "starting_level", "penalty_zone")
    search_fields = ("code", "name")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        description = _(
            "Saving makes a new version of this policy (a new row, its code followed by -v2, -v3… "
            "unless you give a new code); this version stays unchanged for the OAs on it and for "
            "history. New OAs get the latest version in force on their registration day."
        )
        return [(None, {**fieldsets[0][1], "description": description}), *fieldsets[1:]]

    def save_model(self, request, obj, form, change):
        values = {name: value for name, value in form.cleaned_data.items() if name in policies.POLICY_FIELDS}
        if not change:
            saved = policies.add_policy(values, request.user)
        elif form.has_changed():
            obj.superseded_code = Policy.objects.get(pk=obj.pk).code
            saved = policies.new_policy_version(obj.pk, values, request.user)
        else:
            return  # nothing changed: nothing is saved
        # The admin's log entry, message and redirect then name the row the service created.
        for field in Policy._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))

    def response_change(self, request, obj):
        superseded = getattr(obj, "superseded_code", None)
        if superseded is None:
            self.message_user(request, _("Nothing changed, so no new version was made."), messages.INFO)
        else:
            self.message_user(
                request,
                _("Saved as the new policy version %(new)s; %(old)s stays unchanged for history.")
                % {"new": obj.code, "old": superseded},
                messages.SUCCESS,
            )
        if "_continue" in request.POST:
            return redirect(reverse("admin:quotas_policy_change", args=[obj.pk]))
        return redirect(reverse("admin:quotas_policy_changelist"))


@admin.register(OAQuotaState)
class OAQuotaStateAdmin(TeamScopedAdmin, ReadOnlyForQualityAdmins, admin.ModelAdmin):
    """Read-only: each of these changes has its audited form on the OA's pages (linked)."""

    list_display = (
        "oa",
        "policy",
        "current_limit",
        "review_clock_start",
        "guardrail_share",
        "guardrail_action",
    )
    list_filter = ("policy", "guardrail_action")
    fields = (
        "where_to_change",
        "oa",
        "policy",
        "current_limit",
        "pending_limit",
        "pending_from_day",
        "review_clock_start",
        "first_send_day",
        "first_marketing_day",
        "guardrail_share",
        "guardrail_action",
    )
    readonly_fields = ("where_to_change",)

    @admin.display(description=_("Where to change this"))
    def where_to_change(self, state):
        return format_html(
            '<a href="{}">{}</a><br><a href="{}">{}</a><br>{}',
            reverse("oas:edit", args=[state.oa_id]),
            _("Policy: the OA's form (refused once the OA has sent messages)."),
            reverse("quotas:oa_detail", args=[state.oa_id]),
            _("Level correction (with a written reason) and guardrail: the OA's quality page."),
            _("The review clock follows the level changes; it is not set by hand."),
        )


@admin.register(LevelChange)
class LevelChangeAdmin(TeamScopedAdmin, ReadOnlyForQualityAdmins, admin.ModelAdmin):
    """The history is written by the engine and by corrections with a reason, never here."""

    list_display = ("oa", "effective_day", "old_limit", "new_limit", "reason", "changed_by")
    list_filter = ("reason",)


@admin.register(QualityAlert)
class QualityAlertAdmin(TeamScopedAdmin, ReadOnlyForQualityAdmins, admin.ModelAdmin):
    list_display = ("oa", "day", "kind", "campaigns_paused", "resolved_at", "resolved_by")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    actions = ["mark_handled"]

    def has_resolve_permission(self, request):
        return has_capability(request.user, "manage_quality")

    @admin.action(description=_("Mark the selected alerts as handled"), permissions=["resolve"])
    def mark_handled(self, request, queryset):
        resolved = sum(
            levels.resolve_alert(alert_id, request.user)
            for alert_id in queryset.filter(resolved_at__isnull=True).values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("%(count)d alert marked as handled.", "%(count)d alerts marked as handled.", resolved)
            % {"count": resolved},
            messages.SUCCESS,
        )
