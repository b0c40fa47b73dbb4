"""A sign-up in a browser that followed a wishlist email's link counts for that referral.

django-allauth's ``user_signed_up`` is sent by every sign-up, in the request that made it;
counting it is a side record for the report, not part of signing up. Connected in
``CommunicationsConfig.ready``."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_signed_up
from django.dispatch import receiver
from django.http import HttpRequest

from .services import record_signup


@receiver(user_signed_up, dispatch_uid="communications.referral_signup")
def count_referral_signup(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        record_signup(session=session)
