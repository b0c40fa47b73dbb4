"""Project-wide request and response rules that no single app owns."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

NUL = "\x00"
NUL_MESSAGE = "The request contains a NUL character, which is not allowed."
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _has_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    # Keys and values, decoded: "%00" in the query string arrives here as a NUL.
    if any(
        NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()
    ):
        return True
    # Only urlencoded forms: a multipart upload may carry NUL bytes in a file legitimately.
    if request.method == "POST" and request.content_type == FORM_CONTENT_TYPE:
        return any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.POST.lists()
        )
    return False


class RejectNulCharactersMiddleware:
    """Answer 400 to a request whose path, query string or urlencoded form holds a NUL.

    PostgreSQL text can't hold one, so such input would otherwise reach a query (an admin list
    filter, an API filter) and end as a 500. Nothing downstream sees the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class NoStoreByDefaultMiddleware:
    """``Cache-Control: private, no-store`` on every response that sets no Cache-Control itself.

    Most pages and API answers carry someone's personal data (profile, preferences, consent), so
    no browser or shared cache may keep them unless a view says otherwise. Static files never
    get here: WhiteNoise, listed before this middleware, answers them with its own headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-store"
        return response
