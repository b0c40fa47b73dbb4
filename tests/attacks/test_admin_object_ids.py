"""Every admin address that names an object, given an id that names nothing (a word, a
number no row has, a quote): a 404 or the admin's own "doesn't exist" redirect, never a
server error, as the superuser (who may open every page) on GET and POST."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from tests.harness.http import logged_in
from tests.staff.test_walk import ARGUMENTS

pytestmark = pytest.mark.django_db

NOT_AN_ID = ["abc", "999999999", "1'", "-1"]


def _object_urls() -> list[tuple[str, str]]:
    urls = []
    for model_admin in admin.site._registry.values():
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None)
            keys = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
            if not name or "object_id" not in keys:
                continue
            for value in NOT_AN_ID:
                kwargs = {key: value if key == "object_id" else ARGUMENTS[key] for key in keys}
                try:
                    urls.append((name, reverse(f"admin:{name}", kwargs=kwargs)))
                except NoReverseMatch:
                    continue  # a converter that takes whole numbers only: nothing to try
    return urls


@pytest.fixture
def superuser_client(settings, tmp_path, admin_user):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    client = logged_in(admin_user)
    client.raise_request_exception = False  # a server error is a 500 answer, listed below
    return client


def test_an_id_that_names_nothing_is_never_a_server_error(superuser_client):
    urls = _object_urls()
    assert len(urls) > 50  # every model's change, history and delete pages, and our own views
    failures = []
    for name, url in urls:
        for method in ("get", "post"):
            response = getattr(superuser_client, method)(url)
            # 302: the admin's own "doesn't exist" redirect; 403: a page no one may use (the
            # delete page of a record kept as written); 405: a view for the other method
            if response.status_code not in (302, 403, 404, 405):
                failures.append(f"{method.upper()} {url} ({name}): {response.status_code}")
    assert failures == [], "\n".join(failures)
