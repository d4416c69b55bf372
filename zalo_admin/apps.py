from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


def _sync_roles_after_migrate(sender, **kwargs):
    from zalo_admin.services import sync_roles

    sync_roles()


class ZaloAdminConfig(AppConfig):
    default = True  # this module also holds the admin site's config below
    name = "zalo_admin"
    verbose_name = "Zalo OA admin"

    def ready(self):
        # The roles migration creates the groups; re-applying after every migrate keeps them in
        # step with CAPABILITIES when a later release adds a capability.
        post_migrate.connect(_sync_roles_after_migrate, sender=self)
        # Log and audit failed logins and lockouts (receivers connect on import).
        from zalo_admin import login_security  # noqa: F401


class ZaloAdminSiteConfig(admin_apps.AdminConfig):
    default = False
    default_site = "zalo_admin.admin.ZaloAdminSite"
