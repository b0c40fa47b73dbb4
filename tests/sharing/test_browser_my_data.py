"""In Chromium: a customer finds who received their data from the footer, and the page and
the record of processing work under the Content-Security-Policy."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Permission

from sharing.models import DisclosurePurpose
from tests.factories import TEST_PASSWORD
from tests.foundation.test_content_security_policy import refused, watched_page  # noqa: F401
from tests.harness.browser import log_in_to_admin
from tests.sharing.conftest import BANK, PARCELFORCE, party

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_a_customer_follows_the_footer_link_to_who_received_their_data(
    watched_page,  # noqa: F811
    make_user,
    disclose,
):
    page = watched_page
    ann = make_user("ann@example.com", first_name="Ann")
    EmailAddress.objects.create(user=ann, email=ann.email, verified=True, primary=True)
    disclose(ann, reference="order 1001")
    disclose(
        ann, party=party(PARCELFORCE), purpose=DisclosurePurpose.DELIVERY, reference="order 1001"
    )
    log_in(page, "ann@example.com")

    page.get_by_role("contentinfo").get_by_role("link", name="Who received my data").click()

    page.wait_for_url("**/my-data/")
    assert page.get_by_role("heading", level=1).inner_text() == "Who received your data"
    assert page.get_by_role("heading", level=2, name=BANK).is_visible()
    assert page.get_by_role("heading", level=2, name=PARCELFORCE).is_visible()
    bank = page.get_by_role("table", name=f"What we gave {BANK}, newest first.")
    assert "Authorising your card payment" in bank.inner_text()
    assert refused(page) == []


def test_the_record_of_processing_renders_under_the_policy(
    watched_page,  # noqa: F811
    make_user,
):
    page = watched_page
    officer = make_user("dpo@jessops.example", is_staff=True, verified=True)
    officer.user_permissions.set(Permission.objects.filter(codename="view_thirdparty"))
    log_in_to_admin(page, officer, TEST_PASSWORD)

    page.goto("/admin/sharing/thirdparty/")
    page.get_by_role("link", name="Record of processing").click()

    page.wait_for_url("**/record-of-processing/")
    assert page.get_by_role("rowheader", name=BANK).is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("record-of-processing-")
    assert refused(page) == []
