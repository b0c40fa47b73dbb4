"""Every answer under /api/ is JSON, errors included; pages elsewhere keep their HTML errors."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import include, path

from privacy_site import views
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing(marketer) -> Client:
    return logged_in(marketer, raise_request_exception=False)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/campaigns/0.5/", "/api/v1/no-such-thing/", "/api/nothing", "/api/v2/campaigns/"],
)
def test_an_api_url_that_matches_nothing_is_a_json_404(marketing, url):
    # when
    response = marketing.get(url)
    # then
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_api_404_is_json_for_anonymous_clients_too():
    response = Client().get("/api/v1/campaigns/0.5/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_page_url_that_matches_nothing_is_still_an_html_404():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- 500 and 403 outside DRF: through a urlconf that adds failing views to the project's --------


def _boom(request):
    raise RuntimeError("boom")


def _forbidden(request):
    raise PermissionDenied


urlpatterns = [
    path("api/test-boom/", _boom),
    path("test-boom/", _boom),
    path("api/test-forbidden/", _forbidden),
    path("", include("privacy_site.urls")),
]
handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error


@pytest.mark.urls(__name__)
def test_a_server_error_under_the_api_is_a_json_500():
    response = Client(raise_request_exception=False).get("/api/test-boom/")
    assert response.status_code == 500
    assert response.json() == {"detail": "A server error occurred."}


@pytest.mark.urls(__name__)
def test_a_server_error_on_a_page_is_still_html():
    response = Client(raise_request_exception=False).get("/test-boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls(__name__)
def test_a_permission_error_under_the_api_is_a_json_403():
    response = Client(raise_request_exception=False).get("/api/test-forbidden/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"


def test_the_project_urlconf_uses_these_handlers():
    from privacy_site import urls

    assert urls.handler404 is views.page_not_found
    assert urls.handler500 is views.server_error
