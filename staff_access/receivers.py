"""Staff sign-in events from allauth's and Django's signals: a change to a staff member's
second factor or password is recorded and ends their other sessions."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import password_changed, password_reset, password_set
from allauth.mfa.signals import (
    authentication_failed,
    authenticator_added,
    authenticator_removed,
    authenticator_reset,
)
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from privacy_site.auth_user import AuthUser
from staff_access.models import StaffSignInEvent
from staff_access.services import record_sign_in_event
from staff_access.sessions import end_other_sessions, start_staff_session

Kind = StaffSignInEvent.Kind


@receiver(user_logged_in, dispatch_uid="staff_access.session_started")
def _session_started(sender: Any, request: HttpRequest | None, user: AuthUser, **kwargs: Any):
    if request is not None and getattr(request, "session", None) is not None:
        start_staff_session(request, user)


def _second_factor_changed(kind: str, request: HttpRequest | None, user: AuthUser, authenticator):
    if not user.is_staff:
        return
    what = authenticator.get_type_display() if authenticator is not None else ""
    record_sign_in_event(staff=user, kind=kind, detail=what)
    end_other_sessions(request, user, why=f"{dict(Kind.choices)[kind]}: {what}")


@receiver(authenticator_added, dispatch_uid="staff_access.mfa_added")
def _added(sender: Any, request=None, user=None, authenticator=None, **kwargs: Any):
    _second_factor_changed(Kind.SECOND_FACTOR_ADDED, request, user, authenticator)


@receiver(authenticator_removed, dispatch_uid="staff_access.mfa_removed")
def _removed(sender: Any, request=None, user=None, authenticator=None, **kwargs: Any):
    _second_factor_changed(Kind.SECOND_FACTOR_REMOVED, request, user, authenticator)


@receiver(authenticator_reset, dispatch_uid="staff_access.mfa_reset")
def _reset(sender: Any, request=None, user=None, authenticator=None, **kwargs: Any):
    _second_factor_changed(Kind.SECOND_FACTOR_RESET, request, user, authenticator)


@receiver(authentication_failed, dispatch_uid="staff_access.mfa_failed")
def _failed(sender: Any, request=None, user=None, authenticator=None, **kwargs: Any):
    if user is not None and user.is_staff:
        record_sign_in_event(staff=user, kind=Kind.SECOND_FACTOR_FAILED)


def _password_changed(request: HttpRequest | None, user: AuthUser, how: str) -> None:
    if not user.is_staff:
        return
    record_sign_in_event(staff=user, kind=Kind.PASSWORD_CHANGED, detail=how)
    end_other_sessions(request, user, why=f"Password {how}")


@receiver(password_changed, dispatch_uid="staff_access.password_changed")
def _changed(sender: Any, request=None, user=None, **kwargs: Any):
    _password_changed(request, user, "changed")


@receiver(password_set, dispatch_uid="staff_access.password_set")
def _set(sender: Any, request=None, user=None, **kwargs: Any):
    _password_changed(request, user, "set")


@receiver(password_reset, dispatch_uid="staff_access.password_reset")
def _reset_password(sender: Any, request=None, user=None, **kwargs: Any):
    _password_changed(request, user, "reset")
