"""The browser's cookie choice, for the banner every page shows until it is answered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from consent.anonymous_id import parse_anonymous_id
from consent.models import CookieConsent
from consent.selectors import PolicyChangedSince, cookie_choice_for

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

COOKIE_NAME = "cookie_consent_id"


def browser_cookie_choice(
    request: HttpRequest,
) -> WithAnnotations[CookieConsent, PolicyChangedSince] | None:
    """The choice in force for this browser; looked up once per request."""
    if hasattr(request, "_cookie_choice"):
        return request._cookie_choice
    anonymous_id = parse_anonymous_id(request.COOKIES.get(COOKIE_NAME))
    # No (valid) id cookie means the browser never chose: no query needed.
    choice = cookie_choice_for(anonymous_id=anonymous_id) if anonymous_id else None
    # Kept on the request for the rest of it: an attribute of our own, not in its stubs.
    request._cookie_choice = choice  # type: ignore[attr-defined]
    return choice


def cookie_consent(request: HttpRequest) -> dict[str, object]:
    """``cookie_choice`` (the row in force or None) and ``show_cookie_banner``.

    Both are lazy: a template that uses neither (the admin, say) costs no query, and one that
    uses both costs one.
    """
    return {
        "cookie_choice": SimpleLazyObject(lambda: browser_cookie_choice(request)),
        "show_cookie_banner": SimpleLazyObject(
            lambda: (
                (choice := browser_cookie_choice(request)) is None or choice.policy_changed_since
            )
        ),
    }
