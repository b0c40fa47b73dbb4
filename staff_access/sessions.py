"""Staff sessions: ended after ``STAFF_SESSION_IDLE_TIMEOUT`` seconds without a request (30
minutes; customers' sessions last Django's ``SESSION_COOKIE_AGE``), ended when the staff
member changes their password or second factor in another session, and kept out of the admin
until a second factor is set up (sent to set it up instead)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import urlencode

from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from staff_access.models import StaffSignInEvent
from staff_access.second_factor import must_set_up_second_factor
from staff_access.services import record_sign_in_event

SIGNED_IN_AT = "staff_signed_in_at"  # ISO time the session began
LAST_SEEN = "staff_last_seen"  # epoch seconds of the last request, refreshed once a minute
REFUSAL_RECORDED = "staff_mfa_refusal_recorded"
LAST_SEEN_REFRESH = 60
Kind = StaffSignInEvent.Kind


def start_staff_session(request: HttpRequest, user: AuthUser) -> None:
    """At log-in: the session of a member of staff expires after the idle timeout."""
    if not user.is_staff:
        return
    request.session[SIGNED_IN_AT] = timezone.now().isoformat()
    request.session[LAST_SEEN] = time.time()
    request.session.set_expiry(settings.STAFF_SESSION_IDLE_TIMEOUT)


def _session_mark(request: HttpRequest | None) -> str:
    """A keyed hash of the request's session key: which session made a change."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    return salted_hmac("staff_access.kept_session", key).hexdigest() if key else ""


def end_other_sessions(request: HttpRequest | None, user: AuthUser, *, why: str) -> None:
    """Every other session of ``user`` ends at its next request; this one (``request``'s)
    goes on."""
    record_sign_in_event(
        staff=user,
        kind=Kind.OTHER_SESSIONS_ENDED,
        detail=why,
        kept_session=_session_mark(request),
    )


def _ended_elsewhere(request: HttpRequest, user: AuthUser) -> bool:
    began = request.session.get(SIGNED_IN_AT)
    since = datetime.fromisoformat(began) if began else datetime.min.replace(tzinfo=UTC)
    return (
        StaffSignInEvent.objects.filter(
            staff_id=user.pk, kind=Kind.OTHER_SESSIONS_ENDED, occurred_at__gt=since
        )
        .exclude(kept_session=_session_mark(request))
        .exists()
    )


class StaffSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_staff:
            refused = self._check(request, user)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _check(self, request: HttpRequest, user: AuthUser) -> HttpResponse | None:
        now = time.time()
        last_seen = request.session.get(LAST_SEEN)
        if last_seen is not None and now - last_seen > settings.STAFF_SESSION_IDLE_TIMEOUT:
            record_sign_in_event(staff=user, kind=Kind.IDLE_EXPIRED, detail=request.path[:200])
            minutes = settings.STAFF_SESSION_IDLE_TIMEOUT // 60
            return self._end(
                request, f"Your session ended after {minutes} minutes without activity."
            )
        if _ended_elsewhere(request, user):
            return self._end(request, "Your session ended: your sign-in details were changed.")
        if last_seen is None or now - last_seen > LAST_SEEN_REFRESH:
            request.session[LAST_SEEN] = now
            request.session.set_expiry(settings.STAFF_SESSION_IDLE_TIMEOUT)
        if request.path.startswith(reverse("admin:index")) and is_active_staff(user):
            return self._second_factor_gate(request, user)
        return None

    def _end(self, request: HttpRequest, message: str) -> HttpResponse:
        path = request.get_full_path()
        logout(request)
        messages.info(request, message)
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': path})}")

    def _second_factor_gate(self, request: HttpRequest, user: AuthUser) -> HttpResponse | None:
        if request.path == reverse("admin:logout") or not must_set_up_second_factor(user):
            return None
        if not request.session.get(REFUSAL_RECORDED):
            record_sign_in_event(staff=user, kind=Kind.ADMIN_REFUSED, detail=request.path[:200])
            request.session[REFUSAL_RECORDED] = True
        messages.warning(
            request,
            "Staff who can see customers' data must use an authenticator app. "
            "Set one up to use the admin.",
        )
        target = reverse("mfa_activate_totp")
        return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
