"""Helpers for browser tests."""

from __future__ import annotations

from django.conf import settings
from django.test import Client


def log_in(context, user, base_url: str) -> None:
    """Give the browser ``context`` a session of ``user`` on ``base_url``, without the form."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])


def answer_cookies(context, base_url: str) -> None:
    """Take the cookie banner out of the way, as a visitor who answered it would have."""
    page = context.new_page()
    try:
        page.goto(f"{base_url}/")
        page.get_by_role("button", name="Reject all").click()
        page.wait_for_load_state()
    finally:
        page.close()
