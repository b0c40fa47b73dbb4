"""In Chromium: a customer goes from who received their data to Jessops Photo, joins, sees
CEWE among the recipients, and leaves; every page works under the Content-Security-Policy."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress

from tests.foundation.test_content_security_policy import refused, watched_page  # noqa: F401
from tests.sharing.conftest import CEWE
from tests.sharing.test_browser_my_data import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_joins_and_leaves_jessops_photo(watched_page, make_user):  # noqa: F811
    page = watched_page
    ann = make_user("ann@example.com", first_name="Ann", last_name="Jones")
    EmailAddress.objects.create(user=ann, email=ann.email, verified=True, primary=True)
    log_in(page, "ann@example.com")
    page.goto("/my-data/")

    page.get_by_role("main").get_by_role("link", name="Jessops Photo").click()
    page.wait_for_url("**/my-data/jessops-photo/")
    page.get_by_role(
        "button", name="Join Jessops Photo and share my name and email address with CEWE"
    ).click()
    page.wait_for_load_state()

    status = page.get_by_role("status")
    assert "We have given CEWE your name and email address" in status.inner_text()
    page.get_by_role("link", name="Who received your data").click()
    page.wait_for_url("**/my-data/")
    assert page.get_by_role("heading", level=2, name=CEWE).is_visible()

    page.goto("/my-data/jessops-photo/")
    page.get_by_role("button", name="Leave Jessops Photo").click()
    page.wait_for_load_state()
    assert "You have left Jessops Photo" in page.get_by_role("status").inner_text()
    history = page.get_by_role("table", name="Each time you joined and left, newest first.")
    assert "Not yet" in history.inner_text()
    assert refused(page) == []
