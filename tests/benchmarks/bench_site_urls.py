"""The site's own URLs plus two bare views, the baselines of the benchmarks (same process,
same middleware, no work of their own): ``/bench/bare/`` answers 201 with a little JSON to
any method (the orders and webhook benchmarks POST to it), ``/bench/bare-page/`` a small HTML
page (the page benchmarks GET it)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from privacy_site.urls import handler400, handler403, handler404, handler500  # noqa: F401
from privacy_site.urls import urlpatterns as site_urlpatterns

PAGE = b"<!doctype html><html lang=en><title>Bare</title><p>Nothing here.</p></html>"


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"ok": true}', content_type="application/json", status=201)


def bare_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE, content_type="text/html; charset=utf-8")


urlpatterns = [path("bench/bare/", bare), path("bench/bare-page/", bare_page), *site_urlpatterns]
