"""The role a member of staff acts in, as the audit records it: their groups by job (Customer
Support, Web Sales, Dispatch, Marketing, Privacy Officer), or "Superuser"."""

from __future__ import annotations

from privacy_site.auth_user import AuthUser

SUPERUSER = "Superuser"
NO_ROLE = "Staff (no role)"


def role_of(user: AuthUser) -> str:
    """The user's roles, comma-separated, alphabetical; superusers are "Superuser" whatever
    their groups, since they may see everything."""
    if user.is_superuser:
        return SUPERUSER
    names = sorted(group.name for group in user.groups.all())
    return ", ".join(names) if names else NO_ROLE
