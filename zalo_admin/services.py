"""Role setup: the groups and their capabilities, applied idempotently."""

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from zalo_admin.roles import CAPABILITIES, ROLES


@transaction.atomic
def sync_roles(group_model=Group, permission_model=Permission, content_type_model=ContentType) -> None:
    """Create the role groups and give each exactly the capabilities the mapping grants it.

    Takes model classes so the migration can pass its historical models.
    """
    content_type, _ = content_type_model.objects.get_or_create(app_label="zalo_admin", model="access")
    permissions = {}
    for codename, (description, _roles) in CAPABILITIES.items():
        permission, _ = permission_model.objects.update_or_create(
            content_type=content_type, codename=codename, defaults={"name": description}
        )
        permissions[codename] = permission
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        granted = [permissions[code] for code, (_d, roles) in CAPABILITIES.items() if role in roles]
        group.permissions.set(granted)
