"""Who counts as staff for a rule: one check for the services, the API and its permissions.

Any app may import this module; it imports nothing from the apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from privacy_site.auth_user import AuthUser


def is_active_staff(user: AuthUser | AnonymousUser | None, *perms: str) -> bool:
    """An active, logged-in member of staff holding every one of ``perms`` (none named: any
    active member of staff)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and (not perms or user.has_perms(perms))
    )
