"""The site's own URLs plus ``POST /bench/bare/``: a view that reads nothing and writes
nothing, the baseline of the orders benchmark (same process, same middleware)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from privacy_site.urls import handler400, handler403, handler404, handler500  # noqa: F401
from privacy_site.urls import urlpatterns as site_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"ok": true}', content_type="application/json", status=201)


urlpatterns = [path("bench/bare/", bare), *site_urlpatterns]
