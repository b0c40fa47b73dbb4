"""A NUL character in the path, query string or a urlencoded form is a clear 400, never a 500
(PostgreSQL text can't hold one), and nothing is written."""

from __future__ import annotations

import pytest
from django.test import Client

from consent.models import ConsentEvent
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

MESSAGE = "The request contains a NUL character, which is not allowed."


@pytest.fixture
def root(superuser) -> Client:
    return logged_in(superuser, raise_request_exception=False)


def test_an_admin_list_filter_with_a_nul_is_a_400(root):
    # when
    response = root.get("/admin/communications/campaign/?status__exact=%00")
    # then
    assert response.status_code == 400
    assert MESSAGE in response.content.decode()


def test_the_same_admin_list_without_a_nul_still_works(root):
    assert root.get("/admin/communications/campaign/?status__exact=draft").status_code == 200


def test_a_nul_in_a_query_parameter_name_or_the_path_is_a_400():
    client = Client(raise_request_exception=False)
    assert client.get("/privacy/?a%00b=1").status_code == 400
    assert client.get("/privacy%00/").status_code == 400


def test_a_nul_in_a_urlencoded_form_is_a_400_and_nothing_is_stored():
    client = Client(raise_request_exception=False)
    events_before = ConsentEvent.objects.count()
    # when
    response = client.post(
        "/newsletter/",
        "email=ann%40example.com&first_name=A%00nn&last_name=Lee",
        content_type="application/x-www-form-urlencoded",
    )
    # then
    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
    assert ConsentEvent.objects.count() == events_before


def test_an_api_query_with_a_nul_is_a_json_400(root):
    # when
    response = root.get("/api/v1/campaigns/?status=%00")
    # then
    assert response.status_code == 400
    assert response.json() == {"detail": MESSAGE}
