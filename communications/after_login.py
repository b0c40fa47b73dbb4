"""The choice on a new use of data, offered once after each login while unanswered: a page,
skippable, never a wall. Logging in marks the session (Django's ``user_logged_in``, sent by
every login); the next page the person asks for is the choice, with a link back to where
they were going."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from consent.selectors import use_change_versions_unanswered_by

SESSION_KEY = "policy_choice_pending"
# Pages the offer never interrupts: the choice itself, leaving, and what is not a page.
_PASS_THROUGH = ("/privacy/", "/accounts/logout/", "/admin/", "/static/", "/api/", "/anymail/")


@receiver(user_logged_in, dispatch_uid="communications.policy_choice_after_login")
def offer_choice_after_login(sender, request: HttpRequest, user, **kwargs) -> None:
    if use_change_versions_unanswered_by(subject=user).exists():
        request.session[SESSION_KEY] = True


class PolicyChoiceAfterLoginMiddleware:
    """Sends the first page view after a login to the choice page, once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.get(SESSION_KEY)
            and request.method == "GET"
            and not request.path.startswith(_PASS_THROUGH)
            and request.user.is_authenticated
        ):
            del session[SESSION_KEY]  # once: skipping it is an answer for this login
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('policy-choice')}?{query}")
        return self.get_response(request)
