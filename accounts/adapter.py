"""How django-allauth fits the product: sign-up writes consent, and every email it would send
goes through the communications outbox instead.

Claiming a newsletter subscriber's record
-----------------------------------------
A newsletter-only subscriber is an account with an unusable password. Signing up with their
address must not hand the record to whoever typed it, so the sign-up form changes nothing:
allauth treats the address as taken and shows the same "check your inbox" page as for a new
address (no enumeration). Instead of allauth's "you already have an account" email, the
address gets a link to choose a password (a password-reset token, which is single-use and
expires). Whoever opens that link proves they read the inbox, and only they choose the
password; setting it also marks the address verified. The account, and its consent history,
stay the subscriber's. Name and choices typed on the sign-up form are not applied: nobody
has proven them yet, and the preference centre and profile are a click away after login.
"""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import filter_users_by_email, user_pk_to_url_str
from allauth.core import context as allauth_context
from django import forms
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sites.shortcuts import get_current_site
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string

from accounts.models import AuditSource, User
from accounts.services.privacy import reactivate_account
from communications.kinds import MessageKind
from communications.services import enqueue_email
from consent.provenance import Provenance
from consent.services import ConsentSource, record_decisions

logger = logging.getLogger(__name__)

# The longest address a mailbox can have (RFC 5321's 256-octet path less its angle brackets),
# and the length of every email column (``User.email``, allauth's ``EmailAddress.email``).
EMAIL_MAX_LENGTH = 254


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        """Every allauth form that takes an address (sign-up, adding an address, password
        reset) asks this. Django's ``EmailField`` accepts up to 320 characters, but the columns
        hold 254 and allauth would cut the address to fit (losing its "@"): refuse it instead."""
        email = super().clean_email(email)
        if len(email) > EMAIL_MAX_LENGTH:
            raise forms.ValidationError(
                f"An email address has at most {EMAIL_MAX_LENGTH} characters.",
                code="max_length",
            )
        return email

    def save_user(self, request: HttpRequest, user: User, form, commit: bool = True) -> User:
        """Save the new account and its ticked marketing choices in one transaction."""
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            choices = form.marketing_choices() if hasattr(form, "marketing_choices") else {}
            if commit and choices:
                record_decisions(
                    subject=user,
                    choices=choices,
                    source=ConsentSource.SIGNUP_FORM,
                    provenance=Provenance.from_request(request),
                )
        return user

    def pre_login(self, request: HttpRequest, user: User, **kwargs):
        """Logging in with the right password reopens an account its owner deactivated (the
        password was checked before allauth calls this). An account closed by staff, or
        erased, stays closed: allauth shows its "account inactive" page."""
        if user.can_reactivate_by_login:
            reactivate_account(user=user, actor=user, source=AuditSource.ACCOUNT)
            user.refresh_from_db(fields=["is_active", "deactivated_at"])
            messages.success(request, "Welcome back: your account is active again.")
        return super().pre_login(request, user, **kwargs)

    def send_confirmation_mail(self, request: HttpRequest, emailconfirmation, signup: bool) -> None:
        """An account not yet verified gets our welcome email, which carries the link; a new
        address added to a verified account gets allauth's own wording (``send_mail``)."""
        address = emailconfirmation.email_address
        user = address.user
        if EmailAddress.objects.filter(user=user, verified=True).exclude(pk=address.pk).exists():
            super().send_confirmation_mail(request, emailconfirmation, signup)
            return
        enqueue_email(
            kind=MessageKind.WELCOME,
            user=user,
            to_email=address.email,
            context={"verify_url": self.get_email_confirmation_url(request, emailconfirmation)},
        )

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's other emails (password reset, email change, notifications): its own
        subject and text, queued as an ``account_security`` delivery. Never to an address
        with no account behind it (``ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS`` is off)."""
        user = context.get("user") or next(iter(filter_users_by_email(email)), None)
        if user is None:
            logger.info("allauth email %s to an unknown address not sent", template_prefix)
            return
        request = allauth_context.request
        ctx = {"email": email, "current_site": get_current_site(request), **context}
        subject = render_to_string(f"{template_prefix}_subject.txt", ctx)
        body = render_to_string(f"{template_prefix}_message.txt", ctx)
        enqueue_email(
            kind=MessageKind.ACCOUNT_SECURITY,
            user=user,
            to_email=email,
            context={"subject": " ".join(subject.split()), "body": body.strip()},
        )

    def send_notification_mail(
        self,
        template_prefix: str,
        user: AbstractBaseUser,
        context: dict[str, Any] | None = None,
        email: str | None = None,
    ) -> None:
        """allauth's security notices (password changed, address added or changed) name the
        account they are about: the notice of an email change goes to the *old* address,
        which by then belongs to no account, so ``send_mail`` could not find it by address."""
        super().send_notification_mail(
            template_prefix, user, {**(context or {}), "user": user}, email
        )

    def send_account_already_exists_mail(self, email: str) -> None:
        """Sign-up with a taken address. A newsletter-only subscriber gets a link to claim
        the record by choosing a password (see the module docstring); anyone else gets
        allauth's "you already have an account" email."""
        subscriber = next(
            (u for u in filter_users_by_email(email) if not u.has_usable_password()), None
        )
        if subscriber is None:
            super().send_account_already_exists_mail(email)
            return
        key = f"{user_pk_to_url_str(subscriber)}-{default_token_generator.make_token(subscriber)}"
        self.send_mail(
            "account/email/claim_account",
            email,
            {"user": subscriber, "password_reset_url": self.get_reset_password_from_key_url(key)},
        )

    def set_password(self, user: User, password: str) -> None:
        """A first password can only be set through a link mailed to the account's address
        (reset or claim; a subscriber cannot log in to use the set-password page), so it
        proves the address: mark it verified rather than send a second link."""
        first = not user.has_usable_password()
        with transaction.atomic():
            super().set_password(user, password)
            if first and user.email:
                EmailAddress.objects.update_or_create(
                    user=user,
                    email__iexact=user.email,
                    defaults={"email": user.email, "verified": True, "primary": True},
                )
