"""``/my-data/`` and the person's copy: who received my data, what, why and when, grouped by
recipient with its role and retention promise; never anyone else's disclosures. Erasure
keeps the log, pointing at the pseudonymous account, without the references."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from accounts.services.privacy import erase_account, request_erasure
from sharing.models import DataCategory, Disclosure, DisclosurePurpose, LegalBasis
from sharing.privacy import KEPT_ON_ERASURE, export_for_user
from tests.harness.http import text
from tests.sharing.conftest import BANK, COURTS, PARCELFORCE, party

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]
MY_DATA = "/my-data/"
EXPORT = "/accounts/export/"


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com", first_name="Bob")


@pytest.fixture
def shared(ann, bob, disclose):
    """Ann's order 1001 went to the bank and Parcelforce, her order 1002 to Parcelforce; Bob's
    order 2001 to the bank."""
    disclose(ann, reference="order 1001")
    delivery = {"party": party(PARCELFORCE), "purpose": DisclosurePurpose.DELIVERY}
    disclose(ann, reference="order 1001", **delivery)
    disclose(ann, reference="order 1002", **delivery)
    disclose(bob, reference="order 2001")


def logged_in(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_visitors_are_sent_to_log_in_first(client):
    response = client.get(MY_DATA)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={MY_DATA}"


def test_my_data_lists_each_recipient_with_its_role_promise_and_what_it_received(
    client, ann, shared
):
    response = logged_in(client, ann).get(MY_DATA)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    page = text(response)
    assert "Who received your data" in page
    # grouped by recipient, each once, by name
    assert page.count(f">{BANK}</h2>") == 1
    assert page.count(f">{PARCELFORCE}</h2>") == 1
    assert page.index(BANK) < page.index(PARCELFORCE)
    assert "Processor (acts only on our instructions)" in page
    assert "secondary purpose" in page
    assert "Authorising your card payment" in page
    assert "Delivering your order" in page
    assert "Needed for your order or a service you asked for" in page
    assert "Name, Postal address" in page
    # newest first within a recipient
    parcelforce = page[page.index(PARCELFORCE) :]
    assert parcelforce.index("order 1002") < parcelforce.index("order 1001")


def test_my_data_never_shows_another_persons_disclosures(client, bob, shared):
    page = text(logged_in(client, bob).get(MY_DATA))

    assert "order 2001" in page
    assert "order 1001" not in page
    assert "order 1002" not in page
    assert PARCELFORCE not in page


def test_someone_whose_data_went_nowhere_is_told_so(client, make_user, shared):
    page = logged_in(client, make_user("cat@example.com")).get(MY_DATA).content.decode()

    assert "We have not given your personal data to any other organisation." in page
    assert "<table" not in page


def test_the_page_takes_no_inline_style_or_script(client, ann, shared):
    page = logged_in(client, ann).get(MY_DATA).content.decode()

    assert "style=" not in page
    assert "<script" not in page


def test_the_copy_of_my_data_lists_my_disclosures_only(client, ann, shared):
    response = logged_in(client, ann).get(EXPORT, {"format": "json"})

    disclosures = json.loads(response.content)["third_parties"]["disclosures"]
    assert sorted(row["order_or_request"] for row in disclosures) == [
        "order 1001",
        "order 1001",
        "order 1002",
    ]
    bank = next(row for row in disclosures if row["recipient"] == BANK)
    assert bank == {
        "recipient": BANK,
        "recipient_role": "Processor (acts only on our instructions)",
        "what": ["Name", "Postal address"],
        "why": "Authorising your card payment",
        "legal_basis": "Needed for your order or a service you asked for",
        "order_or_request": "order 1001",
        "when": bank["when"],
        "how_long_they_keep_it": party(BANK).retention_promise,
    }
    assert bank["when"].startswith("20")


def test_the_readable_copy_shows_my_disclosures_and_not_anothers(client, bob, shared):
    page = text(logged_in(client, bob).get(EXPORT))

    section = page.split("Who we gave your data to", 2)[2].split("Surveys and contests")[0]
    assert "order 2001" in section
    assert BANK in section
    assert "order 1001" not in page
    assert PARCELFORCE not in page


def test_export_for_user_is_scoped_to_the_user(ann, bob, shared):
    assert len(export_for_user(ann)["disclosures"]) == 3
    assert [row["order_or_request"] for row in export_for_user(bob)["disclosures"]] == [
        "order 2001"
    ]


def test_erasure_keeps_the_log_without_references_except_what_the_law_required(
    ann, bob, shared, disclose, smtp
):
    disclose(
        ann,
        party=party(COURTS),
        categories=[DataCategory.NAME],
        purpose=DisclosurePurpose.LEGAL_OBLIGATION,
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        reference="Court order 2026/123",
    )
    ann_id = ann.pk

    request_erasure(user=ann, actor=ann)
    assert erase_account(user_id=ann_id) is True

    rows = Disclosure.objects.filter(person_id=ann_id)
    assert rows.count() == 4
    assert sorted(rows.values_list("reference", flat=True)) == ["", "", "", "Court order 2026/123"]
    assert get_user_model().objects.get(pk=ann_id).email == f"erased-{ann_id}@erased.invalid"
    # Bob's are untouched
    assert Disclosure.objects.get(person=bob).reference == "order 2001"
    # and the confirmation said the log is kept, and why
    (message,) = smtp.to("ann@example.com")
    assert "Article 19" in message.text()


def test_what_erasure_keeps_is_said_with_why():
    log, notices = KEPT_ON_ERASURE[:2]
    assert "which organisations received" in log["what"]
    assert "Article 5(2)" in log["why"]
    assert "until they have been told" in notices["what"]
    assert "Article 19" in notices["why"]
