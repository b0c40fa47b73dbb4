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


def log_in_to_admin(page, user, password: str) -> None:
    """Log ``user`` in to the admin as staff do: the admin's login sends them to the site's,
    then the code of their authenticator app (``user.totp_secret``, set by the factories) if
    they have one. The user needs a verified address, as everyone does to log in."""
    from tests.harness.totp import code_for

    page.goto("/admin/login/?next=/admin/")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_login", user.email)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()
    secret = getattr(user, "totp_secret", None)
    if secret:
        page.wait_for_url("**/2fa/authenticate/**")
        page.fill("#id_code", code_for(secret))
        page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/admin/")
