"""The type of the site's user model, for the apps that may not import ``accounts``.

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

if TYPE_CHECKING:
    from django.contrib.auth.models import _User as AuthUser
else:
    from django.contrib.auth.base_user import AbstractBaseUser as AuthUser

__all__ = ["AuthUser"]
