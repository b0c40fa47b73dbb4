"""Project-wide request and response rules that no single app owns."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

NUL = "\x00"
NUL_MESSAGE = "The request contains a NUL character, which is not allowed."
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MULTIPART_CONTENT_TYPE = "multipart/form-data"


def _holds_nul(data) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


def _has_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    # Keys and values, decoded: "%00" in the query string arrives here as a NUL.
    if _holds_nul(request.GET):
        return True
    # Urlencoded forms here; multipart ones in process_view, once the view is known.
    if request.method == "POST" and request.content_type == FORM_CONTENT_TYPE:
        return _holds_nul(request.POST)
    return False


class RejectNulCharactersMiddleware:
    """Answer 400 to a request whose path, query string or form fields hold a NUL.

    PostgreSQL text can't hold one, so such input would otherwise reach a query (an admin list
    filter, an API filter) and end as a 500. Nothing downstream sees the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return _refuse(request)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        """A multipart form's fields (its files may hold NUL bytes and are not looked at), for
        the views Django's CSRF check reads ``request.POST`` of anyway: not the ``csrf_exempt``
        ones (the API, the provider webhooks), which parse their own bodies, some from the raw
        bytes that reading ``request.POST`` first would consume."""
        if (
            request.method == "POST"
            and request.content_type == MULTIPART_CONTENT_TYPE
            and not getattr(view_func, "csrf_exempt", False)
            and _holds_nul(request.POST)
        ):
            return _refuse(request)
        return None


def _refuse(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": NUL_MESSAGE}, status=400)
    return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")


# The lookups of an admin list's querystring that reach the database unchecked: a regular
# expression PostgreSQL can't compile is an error there, not an empty list.
REGEX_LOOKUPS = ("__regex", "__iregex")
# The date drill-down's last year: Django computes the end of the year (or month) asked for
# without a guard, so 9999 would overflow the calendar.
LAST_LIST_YEAR = 9998


def _a_list_year(value: str) -> bool:
    return value.isascii() and value.isdigit() and 1 <= int(value[:6]) <= LAST_LIST_YEAR


def _bad_admin_lookup(request: HttpRequest) -> str:
    """Why an admin list's querystring is refused, or "" when it is not."""
    for key, values in request.GET.lists():
        if key.endswith(REGEX_LOOKUPS):
            return "Filtering a list by regular expression is not offered."
        if key.endswith("__year") and not all(map(_a_list_year, values)):
            return f"A year in a list's filter runs from 1 to {LAST_LIST_YEAR}."
    return ""


class AdminListLookupsMiddleware:
    """Answer 400 to an admin page whose querystring holds a lookup Django's list page lets
    through to a 500: a regular expression (``?role__regex=(``), or a date drill-down year
    past the calendar's end (``?occurred_at__year=9999``). Other bad values Django's list
    already answers itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/") and request.GET:
            reason = _bad_admin_lookup(request)
            if reason:
                return HttpResponseBadRequest(reason, content_type="text/plain; charset=utf-8")
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
