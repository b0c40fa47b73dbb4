"""``/anymail/<provider>/...``: django-anymail's webhook views, for the providers in use only.

Mounting ``anymail.urls`` whole served every provider anymail knows, configured or not, and
anymail accepts an unauthenticated POST when no secret is set. Here a request reaches
anymail's view only when:

- the provider is in use (``webhook_providers.mounted_providers``); any other provider's URL
  answers 404, as does one whose view cannot be built (a key or package it needs is missing);
- the view has credentials to check (basic auth or the provider's signature); without them
  every request answers 404, in every environment (``manage.py check``: communications.W001).

A body anymail cannot read (not JSON, the wrong shape, not UTF-8, form data where JSON is
expected) answers 400 before any event is announced, so nothing is recorded; a provider API
or a database connection that is down answers 503, so the provider retries. Other errors in
our own receivers are not hidden.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from functools import cache
from typing import cast

from anymail.exceptions import AnymailConfigurationError
from anymail.webhooks.base import AnymailCoreWebhookView
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, URLResolver, path
from django.urls.resolvers import RegexPattern
from django.views.decorators.csrf import csrf_exempt
from requests import RequestException

from communications.services.webhooks import collecting_provider_events
from communications.webhook_providers import (
    AsViewFunction,
    build_view,
    has_credentials,
    mounted_providers,
    patterns_for,
    provider_key,
)

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # boto3 comes with anymail's amazon-ses extra only
    _BOTO_ERRORS: tuple[type[BaseException], ...] = ()
else:
    _BOTO_ERRORS = (BotoCoreError, ClientError)


logger = logging.getLogger(__name__)

# Failures of something else (Amazon SES fetching an inbound message from S3, a provider API,
# the database connection): the provider should try again later.
_TEMPORARY: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    RequestException,
    OperationalError,
    InterfaceError,
    *_BOTO_ERRORS,
)


class UnreadablePayload(Exception):
    """anymail could not read the request's body as the provider's payload."""


def _reading(step, provider: str):
    """Wrap a step that reads the request (validators, parse_events): anything but a refusal
    (SuspiciousOperation: a bad secret or signature, 400) or a temporary failure is the
    payload's fault. Events are parsed in full before any is announced."""

    passed_on: tuple[type[BaseException], ...] = (SuspiciousOperation, *_TEMPORARY)

    def read(request):
        try:
            result = step(request)
            return list(result) if result is not None else None
        except passed_on:
            raise
        except Exception as error:
            # The message may quote the payload (addresses): name only the kind of error.
            logger.warning("%s webhook: unreadable payload (%s)", provider, type(error).__name__)
            raise UnreadablePayload from error

    return read


@cache
def _resolver(provider: str) -> URLResolver | None:
    """The provider's anymail URLs when it is served, else None; made once per configuration."""
    if provider not in mounted_providers():
        return None
    return URLResolver(RegexPattern(r"^"), list(patterns_for(provider)))


@cache
def _configured_view(as_view: Callable[..., HttpResponse]) -> AnymailCoreWebhookView | None:
    """anymail's view as configured (it reads its settings when built), once per
    configuration; None when it can't be served."""
    view_function = cast(AsViewFunction, as_view)
    provider = provider_key(view_function.view_class.esp_name)
    try:
        view = build_view(view_function.view_class, **view_function.view_initkwargs)
    except AnymailConfigurationError as error:
        logger.error("%s webhook is not usable, answering 404: %s", provider, error)
        return None
    if not has_credentials(view):
        logger.error(
            "%s webhook has no WEBHOOK_SECRET or signing key: refusing its requests (404)",
            provider,
        )
        return None
    return view


@receiver(setting_changed, dispatch_uid="communications.webhook_configuration_changed")
def _configuration_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith(("ANYMAIL", "EMAIL_")):
        _resolver.cache_clear()
        _configured_view.cache_clear()


@csrf_exempt
@login_not_required
def provider_webhook(request: HttpRequest, route: str) -> HttpResponse:
    resolver = _resolver(route.split("/", 1)[0])
    if resolver is None:
        raise Http404("No such webhook.")
    try:
        match = resolver.resolve(route)
    except Resolver404:
        raise Http404("No such webhook.") from None
    configured = _configured_view(match.func)
    if configured is None:
        raise Http404("No such webhook.")
    # A view of its own for each request, as View.as_view() makes, without reading the
    # settings again.
    view = copy.copy(configured)
    provider = provider_key(view.esp_name)
    view.run_validators = _reading(view.run_validators, provider)
    view.parse_events = _reading(view.parse_events, provider)
    view.setup(request, *match.args, **match.kwargs)
    try:
        # The request's tracking events are recorded together once anymail has read them all.
        with collecting_provider_events():
            return view.dispatch(request, *match.args, **match.kwargs)
    except UnreadablePayload:
        return HttpResponse("Malformed webhook payload.\n", status=400, content_type="text/plain")
    except _TEMPORARY as error:
        logger.warning("%s webhook: temporary failure (%s)", provider, type(error).__name__)
        response = HttpResponse("Try again later.\n", status=503, content_type="text/plain")
        response["Retry-After"] = "60"
        return response


urlpatterns = [path("<path:route>", provider_webhook, name="provider-webhook")]
