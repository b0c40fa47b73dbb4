"""The type of the site's user model, for the apps that may not import ``accounts``, and the
user behind a request that a login check has admitted.

The lower apps point at users through ``settings.AUTH_USER_MODEL`` and never import the
``accounts`` app that defines the model. For the type checker ``AuthUser`` is that model all
the same: django-stubs' plugin resolves its ``_User`` alias to ``AUTH_USER_MODEL``, so a
function typed ``user: AuthUser`` accepts what a ``ForeignKey(settings.AUTH_USER_MODEL)``
holds, and ``user.email`` type-checks. At run time it is ``AbstractBaseUser``, the base of
every user model, for code that reads annotations.

Any app may import this module; it imports nothing from the apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import _User as AuthUser
    from django.http import HttpRequest
    from rest_framework.request import Request
else:
    from django.contrib.auth.base_user import AbstractBaseUser as AuthUser

__all__ = ["AuthUser", "logged_in_user"]


def logged_in_user(request: HttpRequest | Request) -> AuthUser:
    """The user of a request that a login check has already admitted: ``login_required``, the
    admin's own login, an API permission requiring an authenticated user. A request reaching
    here anonymously is refused (403) rather than served to ``AnonymousUser``."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return user
