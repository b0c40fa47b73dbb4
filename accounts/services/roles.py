"""Setting the staff roles' groups to the table of ``accounts.staff_roles``."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.staff_roles import ROLE_PERMISSIONS


@transaction.atomic
def sync_staff_roles() -> list[Group]:
    """Each role's group, created if missing, holding exactly its permissions; the
    members stay. A permission the table names but the database lacks is an error, and
    nothing is changed."""
    groups = []
    for name, perms in ROLE_PERMISSIONS.items():
        found = []
        for perm in perms:
            app_label, codename = perm.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is None:
                raise ImproperlyConfigured(f"The {name} role names {perm}, which does not exist.")
            found.append(permission)
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(found)
        groups.append(group)
    return groups
