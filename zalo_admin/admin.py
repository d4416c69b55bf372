from django.contrib import admin

from zalo_admin.roles import has_capability


class StaffOnly:
    """For a user without staff status (a quality admin) the page does not exist; staff users keep
    Django's model permissions."""

    def has_module_permission(self, request):
        return request.user.is_staff and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args, **kwargs):
        return request.user.is_staff and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return request.user.is_staff and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_staff and super().has_delete_permission(request, obj)


class ZaloAdminSite(admin.AdminSite):
    """The Django admin, open to staff and to quality admins (for policy versions); each model
    admin still decides what a user may see there.

    Users without staff status reach only the model admins written for quality admins (marked
    `open_to_quality_admins`, whose state changes go through the audited services); every other
    model admin registered here (Django's users and groups, …) is for staff only."""

    site_header = "Zalo OA admin"

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_staff or has_capability(user, "manage_quality"))

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not getattr(admin_class, "open_to_quality_admins", False):
            admin_class = type(
                admin_class.__name__, (StaffOnly, admin_class), {"__module__": admin_class.__module__}
            )
        super().register(model_or_iterable, admin_class, **options)
