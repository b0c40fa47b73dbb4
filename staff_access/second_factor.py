"""Who must sign in with a second factor, and whether they have one.

Staff who can see people's data (a superuser, or a member of staff holding the view or change
permission of any model whose admin records access, see ``admin_audit``) must have an
authenticator app (TOTP, django-allauth's MFA, with recovery codes) before the admin lets them
in. Signing in goes through allauth's login, which asks for the code of everyone who has one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.mfa.models import Authenticator

from privacy_site.staff import is_active_staff
from staff_access.admin_audit import personal_data_models

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from privacy_site.auth_user import AuthUser


def sees_personal_data(user: AuthUser | AnonymousUser) -> bool:
    """An active member of staff who may view or change a model holding people's data."""
    if not is_active_staff(user):
        return False
    if user.is_superuser:
        return True
    return any(
        user.has_perm(f"{model._meta.app_label}.{verb}_{model._meta.model_name}")
        for model in personal_data_models()
        for verb in ("view", "change")
    )


def has_second_factor(user: AuthUser) -> bool:
    """An authenticator app set up (recovery codes alone do not count)."""
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def must_set_up_second_factor(user: AuthUser | AnonymousUser) -> bool:
    return sees_personal_data(user) and not has_second_factor(user)  # type: ignore[arg-type]
