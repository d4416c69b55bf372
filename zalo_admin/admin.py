from django.contrib import admin

from zalo_admin.roles import has_capability


class ZaloAdminSite(admin.AdminSite):
    """The Django admin, open to staff and to quality admins (for policy versions); each model
    admin still decides what a user may see there."""

    site_header = "Zalo OA admin"

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_staff or has_capability(user, "manage_quality"))
