"""The site's own URLs plus two bare views, the baselines of the benchmarks (same process,
same middleware, no work of their own): ``/bench/bare/`` answers 201 with a little JSON to
any method (the orders and webhook benchmarks POST to it), ``/bench/bare-page/`` a small HTML
page (the page benchmarks GET it).

And two floors for a durable write (the orders benchmark): ``/bench/one-write/`` parses the
JSON body and inserts it as one row in one transaction, ``/bench/ten-writes/`` inserts ten
rows by ten statements in one transaction (an order's count), both in plain SQL with no ORM,
no validation and no authentication, into ``bench_floor`` (the benchmark creates it). Each
commit waits for the write-ahead log as an order's does."""

import json

from django.db import connection, transaction
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


_INSERT = "INSERT INTO bench_floor (body) VALUES (%s)"


def _writes(request: HttpRequest, statements: int) -> HttpResponse:
    body = json.loads(request.body)
    document = json.dumps(body)
    with transaction.atomic(), connection.cursor() as cursor:
        for _ in range(statements):
            cursor.execute(_INSERT, [document])
    return HttpResponse(b'{"ok": true}', content_type="application/json", status=201)


@csrf_exempt
def one_write(request: HttpRequest) -> HttpResponse:
    return _writes(request, 1)


@csrf_exempt
def ten_writes(request: HttpRequest) -> HttpResponse:
    return _writes(request, 10)


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-page/", bare_page),
    path("bench/one-write/", one_write),
    path("bench/ten-writes/", ten_writes),
    *site_urlpatterns,
]
