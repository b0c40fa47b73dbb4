"""The staff roles: who does which job, and so who may see which personal data.

A role is a Django group of the same name, created with exactly the permissions its job needs
by ``accounts/migrations/0007_staff_roles.py`` (docs/STAFF.md lists them). A member of staff
holds the roles of the groups they are in; the declarations of ``privacy_site.need_to_know``
name these roles field by field.

Any app may import this module; it imports nothing from the apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from privacy_site.auth_user import AuthUser

CUSTOMER_SUPPORT = "Customer Support"
WEB_SALES = "Web Sales"
DISPATCH = "Dispatch"
MARKETING = "Marketing"
PRIVACY_OFFICER = "Privacy Officer"

STAFF_ROLES = (CUSTOMER_SUPPORT, WEB_SALES, DISPATCH, MARKETING, PRIVACY_OFFICER)

# Not a group: a request made with one of the shop's system API keys (``api_keys``). A
# declaration names it where a system needs a field.
SHOP_SYSTEMS = "Shop systems"

_CACHE = "_staff_roles_cache"


def roles_of(user: AuthUser | AnonymousUser | None) -> frozenset[str]:
    """The staff roles ``user`` holds: those of their groups, for an active member of staff;
    none for anyone else. Read once per user object (one query per request)."""
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, _CACHE, None)
    if cached is None:
        names = user.groups.filter(name__in=STAFF_ROLES).values_list("name", flat=True)
        cached = frozenset(names)
        setattr(user, _CACHE, cached)
    return cached
