"""``python manage.py staff_roles``: set each staff role's group to exactly the permissions
``accounts.staff_roles.ROLE_PERMISSIONS`` gives it, and list them."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.services.roles import sync_staff_roles


class Command(BaseCommand):
    help = "Set each staff role's group to exactly the permissions its job needs."

    def handle(self, *args, **options) -> None:
        for group in sync_staff_roles():
            perms = sorted(
                f"{p.content_type.app_label}.{p.codename}"
                for p in group.permissions.select_related("content_type")
            )
            self.stdout.write(f"{group.name}: {', '.join(perms)}")
