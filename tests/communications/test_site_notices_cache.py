"""Every page shows the site notices; a process reads them at most every ``SITE_NOTICES_TTL``
seconds, and at once after a version or a transition is saved in it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from communications.templatetags.site_notices import forget_site_notices
from consent.models import PolicyVersion
from consent.services import publish_policy_version


@pytest.fixture
def cached_notices(settings):
    settings.SITE_NOTICES_TTL = 60
    forget_site_notices()
    yield
    forget_site_notices()


def notice_queries(client, path: str = "/") -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(path).content.decode()
    tables = ("consent_policyversion", "communications_businesstransition")
    return page, [q["sql"] for q in queries if any(table in q["sql"] for table in tables)]


def test_the_notices_are_read_once_and_again_after_a_version_is_published(
    db, client, cached_notices
):
    _, first = notice_queries(client)
    page, second = notice_queries(client)
    assert first and not second
    assert "Our privacy policy changed" not in page

    publish_policy_version(
        text="Version two of our policy.",
        summary="We now share orders with our carrier.",
        change_type=PolicyVersion.ChangeType.PRACTICE_CHANGE,
    )

    page, _ = notice_queries(client)
    assert "Our privacy policy changed" in page
    assert "We now share orders with our carrier." in page
