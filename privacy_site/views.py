import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from . import health

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker both answer; 503 naming the part that does not."""
    checks = health.check_all()
    healthy = all(value == health.OK for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


# --- Error answers: JSON under /api/, the usual pages elsewhere ---------------------------------
# DRF answers its own errors in JSON; these cover what Django answers before or around a view
# (no URL matched, such as /api/v1/campaigns/0.5/, or an exception outside DRF).

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        detail = "You do not have permission to perform this action."
        return JsonResponse({"detail": detail}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    try:
        return defaults.page_not_found(request, exception)
    except Exception:  # the page of the site failed in turn: a 404 is still a 404
        logger.exception("the 404 page could not be rendered")
        return HttpResponseNotFound(
            "There is no page at this address. Nothing has been changed.",
            content_type="text/plain; charset=utf-8",
        )


# Seconds a client is asked to wait when the database can't be reached.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = (
    "The service can't reach its records just now; nothing was changed. Try again shortly."
)


def server_error(request: HttpRequest) -> HttpResponse:
    """500, or 503 when the error was the database being out of reach (restarting, down, or
    the connection lost): a temporary failure the client may retry, and one in which nothing
    was written (each write is one transaction, rolled back by the error)."""
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        return service_unavailable(request)
    if _is_api(request):
        return JsonResponse({"detail": "A server error occurred."}, status=500)
    return defaults.server_error(request)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: JSON under /api/, else a page that needs nothing but the
    template (no context processor, no query: the database is what is missing)."""
    if _is_api(request):
        response: HttpResponse = JsonResponse({"detail": UNAVAILABLE}, status=503)
    else:
        try:
            page = loader.get_template("503.html").render({"site_name": settings.SITE_NAME})
        except Exception:  # the page must not fail in turn: say it in plain words
            logger.exception("the 503 page could not be rendered")
            page, content_type = UNAVAILABLE, "text/plain; charset=utf-8"
        else:
            content_type = "text/html; charset=utf-8"
        response = HttpResponse(page, status=503, content_type=content_type)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


# --- The OpenAPI schema and its documentation page ----------------------------------------------


class JsonErrors(APIView):
    """Errors of a DRF view whose renderer is not JSON (the schema's YAML, the docs page's
    HTML) are rendered as JSON, as every other API error is: a ``POST`` to ``/api/docs/``
    answered a bare text "405 Method Not Allowed", and to ``/api/schema/`` a YAML one."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class ApiSchemaView(JsonErrors, SpectacularAPIView):
    pass


class ApiDocsView(JsonErrors, SpectacularSwaggerSplitView):
    """Swagger UI from our own static files (drf-spectacular-sidecar), its start-up script a
    file of its own (``?script``), so the page needs no inline script under the CSP."""
