"""Settings the sending pipeline depends on, checked at start-up (``manage.py check``)."""

from __future__ import annotations

import warnings

from django.conf import settings
from django.core.checks import Error, register
from django.core.checks import Warning as CheckWarning


@register()
def sending_timeout_outlasts_tasks(app_configs, **kwargs) -> list[Error]:
    """A row claimed by a batch still running must not be declared uncertain: the sending
    timeout has to be longer than any task may run."""
    timeout = settings.EMAIL_SENDING_TIMEOUT
    limit = settings.CELERY_TASK_TIME_LIMIT
    if timeout <= limit:
        return [
            Error(
                f"EMAIL_SENDING_TIMEOUT ({timeout}s) must be longer than "
                f"CELERY_TASK_TIME_LIMIT ({limit}s).",
                hint="Raise EMAIL_SENDING_TIMEOUT, or lower CELERY_TASK_TIME_LIMIT.",
                id="communications.E001",
            )
        ]
    return []


@register()
def webhook_providers_are_known(app_configs, **kwargs) -> list[Error]:
    """A name in EMAIL_WEBHOOK_PROVIDERS that anymail has no webhook for is a typo: that
    provider's events would meet a 404."""
    from .webhook_providers import configured_providers, providers_with_webhooks

    known = providers_with_webhooks()
    return [
        Error(
            f"EMAIL_WEBHOOK_PROVIDERS names {name!r}, which has no django-anymail webhook.",
            hint="Use one of: " + ", ".join(sorted(known)) + ".",
            id="communications.E002",
        )
        for name in configured_providers()
        if name not in known
    ]


@register()
def mounted_webhooks_have_credentials(app_configs, **kwargs) -> list[CheckWarning]:
    """Every webhook we serve must be able to tell the provider from anyone else. One without
    a secret answers 404 to everything (so bounces and complaints are lost), and one whose
    view cannot be built (a missing key or package) likewise."""
    from anymail.exceptions import AnymailConfigurationError, AnymailWarning

    from .webhook_providers import build_view, has_credentials, mounted_providers, view_classes_for

    found: list[CheckWarning] = []
    for provider in sorted(mounted_providers()):
        open_views: list[str] = []
        for view_class in view_classes_for(provider):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AnymailWarning)
                try:
                    view = build_view(view_class)
                except AnymailConfigurationError as error:
                    found.append(
                        CheckWarning(
                            f"The {provider} webhook ({view_class.__name__}) cannot be "
                            f"served: {error}",
                            hint="Set what it names in ANYMAIL, or install the package.",
                            id="communications.W002",
                        )
                    )
                    continue
            if not has_credentials(view):
                open_views.append(view_class.__name__)
        if open_views:
            found.append(
                CheckWarning(
                    f"The {provider} webhook ({', '.join(open_views)}) has no secret or "
                    "signing key: it refuses every request (404), so this provider's events "
                    "are lost.",
                    hint=(
                        'Set ANYMAIL["WEBHOOK_SECRET"] ("user:password", long and random) '
                        "and give the provider https://user:password@your-site/anymail/"
                        f"{provider}/..., or set the provider's webhook signing key."
                    ),
                    id="communications.W001",
                )
            )
    return found
