"""``POST /api/v1/orders/`` with a checkout's API key: the order, its customer, the order
form's marketing box on the consent ledger, and the disclosures to the bank and the carrier,
all or nothing; idempotent on the reference; closed and erased customers never linked."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api_keys.models import Scope
from api_keys.services import issue_api_key, revoke_api_key
from communications.models import Suppression
from communications.services import suppress_address
from consent.models import ConsentEvent, CurrentConsent
from consent.services import ConsentSource, grant_consent, withdraw_consent
from consent.services import LegalBasis as ConsentBasis
from sharing.models import Disclosure
from sharing.order_models import Order, OrderLine
from sharing.services import PartyDetails, change_third_party
from sharing.services.orders import OPT_OUT_WORDING, OrderRequest, take_order
from tests.sharing.conftest import BANK, PARCELFORCE, party

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]

ORDERS = "/api/v1/orders/"
ADDRESS = "203.0.113.9"


def order(reference: str = "JS-1001", **changes) -> dict:
    body = {
        "reference": reference,
        "customer": {
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Jones",
            "address": {"line_1": "1 High Street", "town": "Leeds", "postcode": "ls1 4ap"},
        },
        "lines": [
            {"product": "Canon EOS R8 body", "supplier": "Canon UK", "quantity": 1},
            {"product": "SD card 128 GB", "supplier": "SanDisk", "quantity": 2},
        ],
        "marketing_opt_out": False,
    }
    body.update(changes)
    return body


@pytest.fixture
def checkout(officer):
    """The checkout's key, with the orders:write scope, and its secret."""
    return issue_api_key(name="Checkout", scopes=[Scope.ORDERS_WRITE], actor=officer)


@pytest.fixture
def post(checkout):
    """POST an order as the checkout."""
    _, secret = checkout
    client = APIClient(REMOTE_ADDR=ADDRESS)

    def send(body, secret=secret):
        return client.post(ORDERS, body, format="json", HTTP_AUTHORIZATION=f"Api-Key {secret}")

    return send


def counts() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "people": get_user_model().objects.count(),
        "ledger": ConsentEvent.objects.count(),
        "disclosures": Disclosure.objects.count(),
    }


def special_offers_of(person) -> CurrentConsent | None:
    return CurrentConsent.objects.filter(subject=person, purpose__code="special_offers").first()


# --- A new customer -------------------------------------------------------------------------------


def test_an_order_from_a_new_address_records_the_customer_order_offers_and_disclosures(
    post, checkout
):
    key, _ = checkout

    response = post(order())

    assert response.status_code == 201
    body = response.json()
    ann = get_user_model().objects.get(email="ann@example.com")
    # the customer: an account nobody can log in to
    assert (ann.first_name, ann.last_name, ann.is_active) == ("Ann", "Jones", True)
    assert not ann.has_usable_password()
    assert body["customer"] == {"id": ann.pk, "status": "new"}
    # the order and its lines, the postcode as the Royal Mail writes it
    recorded = Order.objects.get()
    assert (recorded.reference, recorded.system, recorded.customer) == ("JS-1001", key, ann)
    assert recorded.delivery_name == "Ann Jones"
    assert (recorded.address_line_1, recorded.town, recorded.postcode) == (
        "1 High Street",
        "Leeds",
        "LS1 4AP",
    )
    assert [(line.product, line.supplier, line.quantity) for line in recorded.lines.all()] == [
        ("Canon EOS R8 body", "Canon UK", 1),
        ("SD card 128 GB", "SanDisk", 2),
    ]
    # special offers on the soft opt-in basis, from the order form, with the box's words
    (event,) = ConsentEvent.objects.filter(subject=ann)
    assert (event.purpose.code, event.granted, event.legal_basis, event.source) == (
        "special_offers",
        True,
        "soft_opt_in",
        "order_form",
    )
    assert event.wording == OPT_OUT_WORDING
    assert body["special_offers"] == {
        "granted": True,
        "legal_basis": "soft_opt_in",
        "changed": True,
    }
    # the bank and the carrier: name and address, for the contract, by the checkout's key
    disclosures = Disclosure.objects.filter(person=ann).order_by("purpose")
    assert [(d.party.name, d.purpose) for d in disclosures] == [
        (BANK, "card_authorisation"),
        (PARCELFORCE, "delivery"),
    ]
    for disclosure in disclosures:
        assert disclosure.categories == ["name", "postal_address"]
        assert disclosure.legal_basis == "contract"
        assert disclosure.reference == "order JS-1001"
        assert (disclosure.system, disclosure.actor) == (key, None)
    assert [d["recipient"] for d in body["disclosures"]] == [BANK, PARCELFORCE]
    assert body["refused"] == []
    assert recorded.answer == body


def test_soft_opt_in_is_only_for_special_offers(post):
    post(order())

    ann = get_user_model().objects.get(email="ann@example.com")
    assert set(
        CurrentConsent.objects.filter(subject=ann).values_list("purpose__code", flat=True)
    ) == {"special_offers"}


def test_the_customer_sees_the_bank_and_the_carrier_on_my_data(post):
    post(order())
    ann = get_user_model().objects.get(email="ann@example.com")
    client = Client()
    client.force_login(ann, backend="django.contrib.auth.backends.ModelBackend")

    page = client.get("/my-data/").content.decode()

    assert BANK in page and PARCELFORCE in page and "order JS-1001" in page


def test_a_ticked_box_records_no_to_special_offers_for_a_customer_never_asked(post):
    response = post(order(marketing_opt_out=True))

    ann = get_user_model().objects.get(email="ann@example.com")
    (event,) = ConsentEvent.objects.filter(subject=ann)
    assert (event.purpose.code, event.granted, event.source) == (
        "special_offers",
        False,
        "order_form",
    )
    assert response.json()["special_offers"] == {
        "granted": False,
        "legal_basis": "consent",
        "changed": True,
    }
    assert Disclosure.objects.filter(person=ann).count() == 2


# --- An existing customer -------------------------------------------------------------------------


def test_an_existing_customer_is_found_whatever_the_case_and_keeps_their_details(post, make_user):
    ann = make_user("ann@example.com", first_name="Annie", last_name="Jones")

    response = post(order(customer={**order()["customer"], "email": "ANN@Example.COM"}))

    assert response.json()["customer"] == {"id": ann.pk, "status": "existing"}
    ann.refresh_from_db()
    assert ann.first_name == "Annie"
    assert ann.has_usable_password()
    assert get_user_model().objects.count() == 1 + 1  # Ann and the officer who issued the key
    assert Order.objects.get().customer == ann


def test_a_ticked_box_withdraws_special_offers_and_nothing_else(post, make_user):
    ann = make_user("ann@example.com")
    grant_consent(subject=ann, purpose="special_offers", source=ConsentSource.PREFERENCE_CENTRE)
    grant_consent(subject=ann, purpose="newsletter", source=ConsentSource.PREFERENCE_CENTRE)

    post(order(marketing_opt_out=True))

    assert special_offers_of(ann).granted is False
    assert ConsentEvent.objects.filter(subject=ann).latest("id").source == "order_form"
    newsletter = CurrentConsent.objects.get(subject=ann, purpose__code="newsletter")
    assert newsletter.granted is True


def test_an_earlier_no_to_special_offers_stands_when_the_box_is_not_ticked(post, make_user):
    ann = make_user("ann@example.com")
    grant_consent(subject=ann, purpose="special_offers", source=ConsentSource.PREFERENCE_CENTRE)
    withdraw_consent(subject=ann, purpose="special_offers", source=ConsentSource.UNSUBSCRIBE_LINK)
    before = ConsentEvent.objects.count()

    response = post(order())

    assert special_offers_of(ann).granted is False
    assert ConsentEvent.objects.count() == before
    assert response.json()["special_offers"]["changed"] is False


def test_an_earlier_yes_keeps_its_basis_when_the_box_is_not_ticked(post, make_user):
    ann = make_user("ann@example.com")
    grant_consent(subject=ann, purpose="special_offers", source=ConsentSource.SIGNUP_FORM)

    response = post(order())

    assert (special_offers_of(ann).granted, special_offers_of(ann).legal_basis) == (
        True,
        ConsentBasis.CONSENT,
    )
    assert response.json()["special_offers"] == {
        "granted": True,
        "legal_basis": "consent",
        "changed": False,
    }


def test_an_address_on_the_do_not_email_list_gets_no_special_offers(post):
    suppress_address("ann@example.com", reason=Suppression.Reason.HARD_BOUNCE)

    response = post(order())

    assert response.json()["customer"]["status"] == "new"
    ann = get_user_model().objects.get(email="ann@example.com")
    assert special_offers_of(ann) is None
    assert Disclosure.objects.filter(person=ann).count() == 2


def test_the_checkout_may_name_another_registered_carrier(post):
    response = post(order(carrier="our OTHER parcel carriers"))

    assert response.status_code == 201
    recipients = {d["recipient"] for d in response.json()["disclosures"]}
    assert recipients == {BANK, "Our other parcel carriers"}
    assert Order.objects.get().carrier.name == "Our other parcel carriers"


# --- Closed and erased customers ----------------------------------------------------------------


def test_a_deactivated_customers_order_is_kept_without_them_and_discloses_nothing(post, make_user):
    from accounts.services.privacy import deactivate_account

    ann = make_user("ann@example.com")
    deactivate_account(user=ann, actor=ann)
    before = counts()

    response = post(order())

    assert response.status_code == 201
    assert response.json()["customer"] == {"id": None, "status": "closed"}
    assert response.json()["special_offers"] is None
    assert response.json()["disclosures"] == []
    recorded = Order.objects.get()
    assert recorded.customer is None
    assert (recorded.delivery_name, recorded.address_line_1, recorded.postcode) == ("", "", "")
    assert recorded.lines.count() == 2
    after = counts()
    assert (after["people"], after["ledger"], after["disclosures"]) == (
        before["people"],
        before["ledger"],
        before["disclosures"],
    )
    ann.refresh_from_db()
    assert not ann.is_active


def test_the_address_of_an_erased_account_gets_no_new_account(post, make_user, smtp):
    from accounts.services.privacy import erase_account, request_erasure

    ann = make_user("ann@example.com")
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)
    before = counts()

    response = post(order())

    assert response.status_code == 201
    assert response.json()["customer"] == {"id": None, "status": "erased"}
    assert not get_user_model().objects.filter(email="ann@example.com").exists()
    after = counts()
    assert after["people"] == before["people"]
    assert after["disclosures"] == before["disclosures"]
    assert after["ledger"] == before["ledger"]
    assert Order.objects.get().customer is None


def test_an_erased_address_suppressed_earlier_for_a_bounce_still_gets_no_new_account(
    post, make_user, smtp
):
    # The address bounced first, so it was on the do-not-email list before the erasure.
    from accounts.services.privacy import erase_account, request_erasure

    ann = make_user("ann@example.com")
    suppress_address("Ann@example.com", reason=Suppression.Reason.HARD_BOUNCE, detail="550")
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)
    listed = Suppression.objects.get()
    assert (listed.reason, listed.detail) == ("erasure", "Earlier: Hard bounce. 550")
    before = counts()

    response = post(order())

    assert response.status_code == 201
    assert response.json()["customer"] == {"id": None, "status": "erased"}
    assert not get_user_model().objects.filter(email="ann@example.com").exists()
    after = counts()
    assert (after["people"], after["disclosures"], after["ledger"]) == (
        before["people"],
        before["disclosures"],
        before["ledger"],
    )
    recorded = Order.objects.get()
    assert (recorded.customer, recorded.delivery_name, recorded.postcode) == (None, "", "")


# --- What the register refuses ------------------------------------------------------------------


def test_a_disclosure_the_register_refuses_is_reported_and_the_order_still_recorded(post, officer):
    bank = party(BANK)
    yesterday = timezone.localdate() - timedelta(days=1)
    details = PartyDetails.of(bank)
    change_third_party(
        party=bank,
        details=PartyDetails(**{**details.__dict__, "active_until": yesterday}),
        actor=officer,
        reason="Contract ended.",
    )

    response = post(order())

    assert response.status_code == 201
    body = response.json()
    assert [d["recipient"] for d in body["disclosures"]] == [PARCELFORCE]
    (refusal,) = body["refused"]
    assert (refusal["recipient"], refusal["rule"]) == (BANK, "party_not_active")
    assert Order.objects.count() == 1
    assert not Disclosure.objects.filter(party=bank).exists()


def test_an_unknown_carrier_is_a_field_error_and_nothing_is_written(post):
    before = counts()

    response = post(order(carrier="Pigeon Post Ltd"))

    assert response.status_code == 400
    assert list(response.json()) == ["carrier"]
    assert counts() == before


def test_a_party_not_registered_for_delivery_is_no_carrier(post):
    response = post(order(carrier=BANK))

    assert response.status_code == 400
    assert "carrier" in response.json()


# --- Idempotency --------------------------------------------------------------------------------


def test_the_same_request_again_gets_the_first_answer_and_writes_nothing(post):
    first = post(order())
    before = counts()

    again = post(order())

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert counts() == before


def test_the_same_order_spelt_differently_is_the_same_request(post):
    first = post(order())
    body = order()
    body["customer"]["email"] = "Ann@Example.com"
    body["customer"]["address"]["postcode"] = "LS14AP"

    again = post(body)

    assert again.status_code == 201
    assert again.json() == first.json()


def test_the_same_reference_with_another_body_is_a_conflict(post):
    post(order())
    before = counts()
    other = order()
    other["lines"][0]["quantity"] = 3

    response = post(other)

    assert response.status_code == 409
    assert "JS-1001" in response.json()["detail"]
    assert counts() == before


def test_the_same_reference_from_another_system_is_another_order(post, officer):
    _, other_secret = issue_api_key(name="Shop app", scopes=[Scope.ORDERS_WRITE], actor=officer)
    post(order())

    response = post(order(), secret=other_secret)

    assert response.status_code == 201
    assert Order.objects.count() == 2
    assert response.json()["customer"]["status"] == "existing"


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_record_one_order(checkout):
    key, _ = checkout
    request = _request(order())
    answers, errors = [], []
    barrier = threading.Barrier(2)

    def send():
        try:
            barrier.wait()
            answers.append(take_order(system=key, request=request))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Order.objects.count() == 1
    assert sorted(answer.repeated for answer in answers) == [False, True]
    assert answers[0].answer == answers[1].answer
    assert Disclosure.objects.count() == 2
    assert get_user_model().objects.filter(email="ann@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_orders_at_once_from_a_new_address_make_one_customer(checkout):
    key, _ = checkout
    requests = [_request(order("JS-1")), _request(order("JS-2"))]
    errors = []
    barrier = threading.Barrier(2)

    def send(request):
        try:
            barrier.wait()
            take_order(system=key, request=request)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    (ann,) = get_user_model().objects.filter(email="ann@example.com")
    assert sorted(Order.objects.values_list("customer_id", flat=True)) == [ann.pk, ann.pk]
    assert ConsentEvent.objects.filter(subject=ann).count() == 1
    assert Disclosure.objects.filter(person=ann).count() == 4


def _request(body: dict) -> OrderRequest:
    from sharing.order_serializers import OrderRequestSerializer

    serializer = OrderRequestSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    return serializer.order_request()


# --- Bad input ----------------------------------------------------------------------------------


def _without(body: dict, *path: str) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


def _with(body: dict, value, *path: str) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


BAD = [
    (_without(order(), "reference"), {"reference": ["This field is required."]}),
    (_with(order(), " spaced ref", "reference"), "reference"),
    (_with(order(), "x" * 101, "reference"), "reference"),
    (_without(order(), "marketing_opt_out"), "marketing_opt_out"),
    (_with(order(), "false", "marketing_opt_out"), "marketing_opt_out"),
    (_with(order(), 0, "marketing_opt_out"), "marketing_opt_out"),
    (_with(order(), [], "lines"), "lines"),
    (_with(order(), "not a list", "lines"), "lines"),
    (_with(order(), 0, "lines", 0, "quantity"), "lines"),
    (_with(order(), "two", "lines", 0, "quantity"), "lines"),
    (_with(order(), "Lens\ncap", "lines", 0, "product"), "lines"),
    (_with(order(), "not-an-email", "customer", "email"), "customer"),
    (_with(order(), "Ann\nVisit http://evil.example", "customer", "first_name"), "customer"),
    (_with(order(), "", "customer", "last_name"), "customer"),
    (_with(order(), "XX1 1XX", "customer", "address", "postcode"), "customer"),
    (_with(order(), "<b>1 High Street</b>", "customer", "address", "line_1"), "customer"),
    (_without(order(), "customer", "address"), "customer"),
    (_with(order(), "javascript:alert(1)", "referring_site"), "referring_site"),
    (_with(order(), "ftp://supplier.example/", "referring_site"), "referring_site"),
]


@pytest.mark.parametrize(("body", "expected"), BAD)
def test_a_malformed_order_is_a_400_naming_the_field_and_writes_nothing(post, body, expected):
    before = counts()

    response = post(body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    if isinstance(expected, dict):
        assert response.json() == expected
    else:
        assert expected in response.json()
    assert counts() == before


def test_a_body_that_is_not_an_object_is_a_400(post):
    response = post(["not", "an", "order"])

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_a_body_that_is_not_json_is_a_415(checkout):
    _, secret = checkout
    response = APIClient(REMOTE_ADDR=ADDRESS).post(
        ORDERS, "reference=1", content_type="text/plain", HTTP_AUTHORIZATION=f"Api-Key {secret}"
    )

    assert response.status_code == 415


# --- Who may send orders -------------------------------------------------------------------------


def test_without_a_key_the_answer_is_401_and_nothing_is_written():
    response = APIClient(REMOTE_ADDR=ADDRESS).post(ORDERS, order(), format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not Order.objects.exists()


def test_a_key_without_the_orders_scope_is_refused(post, officer):
    _, secret = issue_api_key(name="CRM", scopes=[Scope.CONSENTS_READ], actor=officer)

    response = post(order(), secret=secret)

    assert response.status_code == 403
    assert "orders:write" in response.json()["detail"]
    assert not Order.objects.exists()


def test_a_revoked_key_is_refused(post, checkout, officer):
    key, secret = checkout
    revoke_api_key(key=key, actor=officer)

    response = post(order(), secret=secret)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json() == {"detail": "Invalid API key."}


def test_staff_on_their_session_may_not_send_orders(superuser_client):
    api = APIClient(REMOTE_ADDR=ADDRESS)
    root = get_user_model().objects.get(email="root@jessops.example")
    api.force_login(root)

    response = api.post(ORDERS, order(), format="json")

    # (a session is not read here: the answer is the one for no key at all)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not Order.objects.exists()


# --- Documentation ------------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_orders_endpoint():
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)

    operation = schema["paths"]["/api/v1/orders/"]["post"]
    assert operation["security"] == [{"ApiKeyAuth": []}]
    assert {"201", "400", "401", "403", "409"} <= set(operation["responses"])
    assert "orders:write" in operation["description"]
    assert OPT_OUT_WORDING in operation["description"]


# --- The customer's copy and erasure -------------------------------------------------------------


def test_my_copy_lists_my_orders_and_erasure_keeps_only_what_was_bought(post, smtp):
    from accounts.services.privacy import erase_account, request_erasure

    post(order())
    bob = {**order()["customer"], "email": "bob@example.com", "first_name": "Bob"}
    post(order("JS-2002", customer=bob))
    ann = get_user_model().objects.get(email="ann@example.com")
    client = Client()
    client.force_login(ann, backend="django.contrib.auth.backends.ModelBackend")

    copy_of_data = client.get("/accounts/export/", {"format": "json"}).json()
    readable = client.get("/accounts/export/").content.decode()

    (mine,) = copy_of_data["third_parties"]["orders"]
    assert mine["order"] == "JS-1001"
    assert mine["delivered_to"] == "Ann Jones, 1 High Street, Leeds, LS1 4AP"
    assert mine["what"] == ["1 x Canon EOS R8 body (Canon UK)", "2 x SD card 128 GB (SanDisk)"]
    assert "JS-1001" in readable and "JS-2002" not in readable

    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)

    erased, bobs = Order.objects.get(customer=ann), Order.objects.get(reference="JS-2002")
    assert (erased.reference, erased.answer, erased.delivery_name, erased.postcode) == (
        None,
        {},
        "",
        "",
    )
    assert erased.lines.count() == 2
    assert (bobs.reference, bobs.delivery_name, bobs.postcode) == (
        "JS-2002",
        "Bob Jones",
        "LS1 4AP",
    )
