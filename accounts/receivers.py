"""What the accounts app does when django-allauth or Django report something about a login or
a password. Connected in ``AccountsConfig.ready``.

- A password changed, set or reset writes its audit row (``record_secret_change``): the
  person acted on their own account. Our password views run the change and these receivers
  in one transaction (``accounts.views``), so the new password is never saved without its row.
- A change of email address (allauth, once the new address is verified) writes its audit row
  and tells every party that received the person's email address (``notify_recipients_of_
  correction``: Article 19), in the transaction of the change (``accounts.views``).
- A successful login forgets that account's failed attempts from that address, and a reset
  password forgets the account's failed attempts from everywhere (``accounts.lockout``).
"""

from __future__ import annotations

from allauth.account import signals as allauth_signals
from allauth.account.models import EmailAddress
from django.contrib.auth import signals as auth_signals
from django.http import HttpRequest

from accounts.lockout import clear_failures
from accounts.models import AuditSource, User
from accounts.services.audit import record_secret_change
from accounts.services.profile import record_email_change


def record_password_change(sender: type, request: HttpRequest | None, user: User, **kwargs) -> None:
    record_secret_change(subject=user, actor=user, field="password", source=AuditSource.ACCOUNT)


def record_changed_email(
    sender: type,
    request: HttpRequest | None,
    user: User,
    from_email_address: EmailAddress | None,
    to_email_address: EmailAddress,
    **kwargs,
) -> None:
    old = from_email_address.email if from_email_address is not None else ""
    record_email_change(user=user, old=old, new=to_email_address.email)


def forget_failures_after_login(
    sender: type, request: HttpRequest | None, user: User, **kwargs
) -> None:
    clear_failures(request=request, email=user.email, everywhere=False)


def forget_failures_after_reset(
    sender: type, request: HttpRequest | None, user: User, **kwargs
) -> None:
    clear_failures(request=request, email=user.email, everywhere=True)


def connect() -> None:
    for signal in (
        allauth_signals.password_changed,
        allauth_signals.password_set,
        allauth_signals.password_reset,
    ):
        signal.connect(record_password_change, dispatch_uid="accounts-audit-password")
    allauth_signals.email_changed.connect(record_changed_email, dispatch_uid="accounts-email")
    allauth_signals.password_reset.connect(
        forget_failures_after_reset, dispatch_uid="accounts-lockout-reset"
    )
    auth_signals.user_logged_in.connect(
        forget_failures_after_login, dispatch_uid="accounts-lockout-login"
    )
