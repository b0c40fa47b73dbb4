"""Pages and API answers with personal data are never stored by a browser or a shared cache."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_user) -> Client:
    client = Client()
    client.force_login(make_user("ann@example.com", first_name="Ann"))
    return client


@pytest.mark.parametrize("url", ["/accounts/profile/", "/preferences/", "/api/v1/me/preferences/"])
def test_a_response_with_personal_data_is_not_stored(customer, url):
    # when
    response = customer.get(url)
    # then
    assert response.status_code == 200
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives


def test_an_anonymous_page_and_an_error_are_not_stored_either():
    client = Client()
    assert client.get("/").headers["Cache-Control"] == "private, no-store"
    assert client.get("/no-such-page/").headers["Cache-Control"] == "private, no-store"


def test_a_view_that_sets_its_own_cache_control_keeps_it():
    # /healthz uses never_cache, which sets a fuller header of its own
    response = Client().get("/healthz")
    assert "must-revalidate" in response["Cache-Control"]


def test_static_files_are_answered_before_the_no_store_rule():
    # WhiteNoise answers static files itself (with long-lived caching) before later middleware.
    middleware = settings.MIDDLEWARE
    assert middleware.index("whitenoise.middleware.WhiteNoiseMiddleware") < middleware.index(
        "privacy_site.middleware.NoStoreByDefaultMiddleware"
    )
