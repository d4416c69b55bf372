"""Teams and memberships in the admin (staff only, like users and groups): every change goes
through `teams.services`, which audits it; a team is never deleted (OAs and audiences point at it).

`TeamScopedAdmin` is the mixin the other apps' model admins use so that the admin, too, lists and
opens only the rows of the user's teams (`teams.scoping.visible`)."""

from django.contrib import admin, messages

from teams import scoping, services
from teams.models import Membership, Team


class TeamScopedAdmin:
    """A model admin whose rows are those the user sees (other teams' rows: not found)."""

    def get_queryset(self, request):
        return scoping.visible(request.user, super().get_queryset(request))


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "all_teams", "created_at")
    readonly_fields = ("user", "all_teams", "created_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # added on the membership page, through the audited service


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    fields = ("name",)
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return ("name",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return  # a team's name does not change here
        try:
            obj.pk = services.create_team(actor=request.user, name=form.cleaned_data["name"]).pk
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "all_teams", "created_at")
    list_filter = ("team", "all_teams")
    search_fields = ("user__username", "team__name")
    fields = ("user", "team", "all_teams")
    autocomplete_fields = ()

    def get_readonly_fields(self, request, obj=None):
        return ("user", "team") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            services.set_all_teams(
                actor=request.user, membership=obj, all_teams=form.cleaned_data["all_teams"]
            )
            return
        membership, _changed = services.add_member(
            actor=request.user,
            user=form.cleaned_data["user"],
            team=form.cleaned_data["team"],
            all_teams=form.cleaned_data["all_teams"],
        )
        obj.pk = membership.pk

    def delete_model(self, request, obj):
        services.remove_member(actor=request.user, membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "team"):
            services.remove_member(actor=request.user, membership=membership)
