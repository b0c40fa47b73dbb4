"""Settings the wishlist referrals depend on, checked at start-up (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from .sealing import check_key


@register()
def referral_settings_are_usable(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    try:
        check_key()
    except ImproperlyConfigured as error:
        errors.append(
            Error(
                str(error),
                hint="Generate one with Fernet.generate_key().",
                id="communications.E101",
            )
        )
    window = settings.REFERRAL_SEND_WINDOW
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    visibility = options.get("visibility_timeout", 0)
    needed = max(settings.EMAIL_RETRY_BACKOFF_MAX * 2, visibility)
    if window <= needed:
        errors.append(
            Error(
                f"REFERRAL_SEND_WINDOW ({window}s) leaves no room for the retries "
                f"(EMAIL_RETRY_BACKOFF_MAX is {settings.EMAIL_RETRY_BACKOFF_MAX:.0f}s) or for "
                f"a dead worker's task to come back (visibility timeout {visibility}s).",
                hint="Give it several hours (the default is 6).",
                id="communications.E102",
            )
        )
    return errors
