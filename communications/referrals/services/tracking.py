"""Counting what a referral led to: a click on its email's links, and a sign-up in the browser
that clicked. The browser's session carries the referral's token from the click to the
sign-up, if the browser allows analytics cookies (the visitor's choice in the cookie banner);
otherwise the click is counted and nothing is remembered. The events record the referral and
the day only, never the account that signed up."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone

from communications.referrals.models import Referral, ReferralEvent

SESSION_KEY = "referral_token"
SIGNED_UP_KEY = "referral_signed_up"

Kind = ReferralEvent.Kind


def _counting(token: str) -> Referral | None:
    """The referral whose links still count: sent within its counting period
    (``RETENTION_REFERRAL_TOKENS_DAYS``; the retention job later empties the token)."""
    since = timezone.now() - timedelta(days=settings.RETENTION_REFERRAL_TOKENS_DAYS)
    return Referral.objects.filter(token=token, created_at__gte=since).only("pk").first()


@transaction.atomic
def record_click(*, token: str, session: SessionBase, remember: bool) -> bool:
    """Count a click on ``token``'s links; True if counted. With ``remember`` (the browser
    allows analytics cookies) the session keeps the token, so that a sign-up from it counts
    and a second click from it does not. An unknown or expired token counts nothing."""
    referral = _counting(token)
    if referral is None or session.get(SESSION_KEY) == token:
        return False
    ReferralEvent.objects.create(referral=referral, kind=Kind.CLICK, day=timezone.localdate())
    if remember:
        session[SESSION_KEY] = token
    return True


@transaction.atomic
def record_signup(*, session: SessionBase) -> bool:
    """Count a sign-up for the referral this browser last clicked, once; True if counted."""
    token = session.get(SESSION_KEY)
    if not token or session.get(SIGNED_UP_KEY) == token:
        return False
    referral = _counting(token)
    if referral is None:
        return False
    ReferralEvent.objects.create(referral=referral, kind=Kind.SIGNUP, day=timezone.localdate())
    session[SIGNED_UP_KEY] = token
    return True
