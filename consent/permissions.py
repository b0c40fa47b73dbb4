"""Who may read a person's consent record, and the one way staff code looks a subject up."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.permissions import BasePermission

VIEW_LEDGER = "consent.view_consentevent"


def may_view_consent_records(user: AbstractBaseUser | None) -> bool:
    """Staff holding ``consent.view_consentevent``: the same right the admin ledger needs."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(VIEW_LEDGER)
    )


class CanViewConsentRecords(BasePermission):
    """Like DjangoModelPermissions for the ledger's *view* permission, plus staff status."""

    message = (
        "Reading consent records needs staff status and the consent.view_consentevent permission."
    )

    def has_permission(self, request, view) -> bool:
        return may_view_consent_records(request.user)


def consent_subject_get(*, email: str, actor: AbstractBaseUser) -> AbstractBaseUser:
    """The person whose consent record ``actor`` asks for, by email address, whatever its case.

    Refuses (PermissionDenied) an actor without the right to read consent records before
    looking anyone up, so a refused caller learns nothing about who has an account.
    """
    if not may_view_consent_records(actor):
        raise PermissionDenied(CanViewConsentRecords.message)
    subject = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if subject is None:
        raise Http404("No one with that email address has a consent record.")
    return subject
