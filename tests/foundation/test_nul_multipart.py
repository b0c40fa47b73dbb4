"""A NUL character in a multipart form's fields (Django's test client and many browsers post
forms as multipart) is the same clear 400 as in a urlencoded one, and changes nothing; a view
that parses its own body (the API, the provider webhooks) is left to do so."""

from __future__ import annotations

import pytest
from django.test import Client

from communications.models import Campaign
from tests.factories import CampaignFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

MESSAGE = "The request contains a NUL character, which is not allowed."
CAMPAIGNS = "/admin/communications/campaign/"


@pytest.fixture
def staff(superuser) -> Client:
    return logged_in(superuser, raise_request_exception=False)


def test_an_admin_action_on_a_selection_with_a_nul_is_a_400_and_changes_nothing(staff, superuser):
    draft = CampaignFactory(actor=superuser, name="Spring")
    # when (multipart: the test client's default, as a browser may send it)
    response = staff.post(
        CAMPAIGNS, {"action": "cancel_action", "_selected_action": [f"{draft.pk}\x00"]}
    )
    # then
    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT


def test_an_admin_add_form_with_a_nul_is_a_400_and_writes_nothing(staff):
    response = staff.post(
        f"{CAMPAIGNS}add/",
        {
            "name": "Spr\x00ing",
            "kind": "newsletter",
            "subject_line": "Hi",
            "body_format": "markdown",
            "body": "Hello",
            "segment": "{}",
        },
    )

    assert response.status_code == 400
    assert not Campaign.objects.exists()


def test_the_same_multipart_form_without_a_nul_still_works(staff):
    response = staff.post(
        f"{CAMPAIGNS}add/",
        {
            "name": "Spring",
            "kind": "newsletter",
            "subject_line": "Hi",
            "body_format": "markdown",
            "body": "Hello",
            "segment": "{}",
        },
    )

    assert response.status_code == 302
    assert Campaign.objects.get().name == "Spring"


def test_a_multipart_customer_form_with_a_nul_is_a_400():
    response = Client().post(
        "/newsletter/", {"email": "ann@example.com", "first_name": "A\x00nn", "last_name": "Lee"}
    )

    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
