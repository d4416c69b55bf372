from django.db import models

from zalo_admin.roles import CAPABILITIES


class Access(models.Model):
    """Holds no rows: carries the capability permissions that roles are built from."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(codename, description) for codename, (description, _roles) in CAPABILITIES.items()]

    def __str__(self):
        return "access"
