"""Which provider webhooks this site serves, and whether each one can tell the provider from
anyone else.

django-anymail has webhook views for every provider it supports. We serve only the providers
in use: the provider of an anymail ``EMAIL_BACKEND``, plus those named in
``EMAIL_WEBHOOK_PROVIDERS`` (for instance a second provider that receives inbound mail).
A provider's webhook has credentials when anymail checks HTTP basic auth
(``ANYMAIL["WEBHOOK_SECRET"]``) or a signature made with the provider's key (Mailgun,
MailerSend, Mandrill, Postal, Resend, SendGrid, Unisender Go, Mailtrap, when their key is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any, Protocol, cast

from anymail import urls as anymail_urls
from anymail.backends.base import AnymailBaseBackend
from anymail.webhooks.base import AnymailCoreWebhookView
from django.conf import settings
from django.urls import URLPattern
from django.utils.module_loading import import_string


class AsViewFunction(Protocol):
    """A view function ``View.as_view()`` made: it carries its class and arguments (which
    Django's stubs don't declare)."""

    view_class: type[AnymailCoreWebhookView]
    view_initkwargs: dict[str, Any]


def provider_key(esp_name: str) -> str:
    """anymail's ``esp_name`` as it appears in its webhook URLs: "Amazon SES" → amazon_ses."""
    return esp_name.strip().lower().replace(" ", "_")


@cache
def _anymail_patterns() -> dict[str, tuple[URLPattern, ...]]:
    by_provider: dict[str, list[URLPattern]] = {}
    for pattern in anymail_urls.urlpatterns:
        key = provider_key(pattern.callback.view_class.esp_name)
        by_provider.setdefault(key, []).append(pattern)
    return {key: tuple(patterns) for key, patterns in by_provider.items()}


def providers_with_webhooks() -> frozenset[str]:
    """Every provider anymail has a webhook view for."""
    return frozenset(_anymail_patterns())


def patterns_for(provider: str) -> tuple[URLPattern, ...]:
    """anymail's URL patterns of one provider (relative to ``/anymail/``)."""
    return _anymail_patterns().get(provider, ())


def backend_provider() -> str | None:
    """The provider of ``EMAIL_BACKEND`` when it is an anymail backend with webhooks."""
    try:
        backend = import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return None
    if not (isinstance(backend, type) and issubclass(backend, AnymailBaseBackend)):
        return None
    key = provider_key(getattr(backend, "esp_name", "") or "")
    return key if key in providers_with_webhooks() else None


def configured_providers() -> list[str]:
    """The providers named in ``EMAIL_WEBHOOK_PROVIDERS``, normalised (unknown ones kept, for
    the system check to name)."""
    names = getattr(settings, "EMAIL_WEBHOOK_PROVIDERS", None) or []
    return [provider_key(name) for name in names if name and name.strip()]


def mounted_providers() -> frozenset[str]:
    """The providers whose webhook URLs this site serves."""
    mounted = set(configured_providers()) & providers_with_webhooks()
    backend = backend_provider()
    if backend is not None:
        mounted.add(backend)
    return frozenset(mounted)


def view_classes_for(provider: str) -> Iterator[type[AnymailCoreWebhookView]]:
    seen: set[type] = set()
    for pattern in patterns_for(provider):
        view_class = cast(AsViewFunction, pattern.callback).view_class
        if view_class not in seen:
            seen.add(view_class)
            yield view_class


def build_view(view_class: type[AnymailCoreWebhookView], **initkwargs) -> AnymailCoreWebhookView:
    """Instantiate anymail's view as ``View.as_view`` would; anymail reads its settings here and
    raises ``AnymailConfigurationError`` (``AnymailImproperlyInstalled`` for a missing package)
    when one it needs is missing."""
    return view_class(**initkwargs)


def has_credentials(view: AnymailCoreWebhookView) -> bool:
    """Whether anymail refuses a request that lacks the shared secret or the provider's
    signature."""
    # anymail turns its "no basic auth" warning off exactly when the view checks a signature.
    checks_signature = not getattr(view, "warn_if_no_basic_auth", True)
    if checks_signature and getattr(view, "webhook_key", True) is None:
        # Mandrill's view: it defers a missing key to the first POST, then fails every one.
        return False
    return bool(getattr(view, "basic_auth", None)) or checks_signature
