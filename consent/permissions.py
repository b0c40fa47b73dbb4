"""Who may read a person's consent record, and the one way staff code looks a subject up.

Staff with the ledger's view permission (their session), or one of the shop's systems with a
key holding the ``consents:read`` scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404

from api_keys.models import Scope, SystemAPIKey
from api_keys.permissions import APIKeyScopePermission, api_key_of
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

VIEW_LEDGER = "consent.view_consentevent"


def may_view_consent_records(
    user: AuthUser | AnonymousUser | None, *, api_key: SystemAPIKey | None = None
) -> bool:
    """Staff holding ``consent.view_consentevent`` (the same right the admin ledger needs), or
    a usable system key holding ``consents:read``."""
    if isinstance(api_key, SystemAPIKey) and api_key.has_scope(CanViewConsentRecords.api_key_scope):
        return True
    return is_active_staff(user, VIEW_LEDGER)


class CanViewConsentRecords(APIKeyScopePermission):
    """Like DjangoModelPermissions for the ledger's *view* permission, plus staff status; or a
    system key with the ``consents:read`` scope."""

    api_key_scope = Scope.CONSENTS_READ
    message = (
        "Reading consent records needs staff status and the consent.view_consentevent "
        "permission, or an API key with the consents:read scope."
    )

    def has_permission(self, request, view) -> bool:
        return may_view_consent_records(request.user, api_key=api_key_of(request))


def consent_subject_get(
    *, email: str, actor: AuthUser | AnonymousUser | None, api_key: SystemAPIKey | None = None
) -> AuthUser:
    """The person whose consent record ``actor`` (or the system holding ``api_key``) asks for,
    by email address, whatever its case.

    Refuses (PermissionDenied) a caller without the right to read consent records before
    looking anyone up, so a refused caller learns nothing about who has an account.
    """
    if not may_view_consent_records(actor, api_key=api_key):
        raise PermissionDenied(CanViewConsentRecords.message)
    subject = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if subject is None:
        raise Http404("No one with that email address has a consent record.")
    return subject
