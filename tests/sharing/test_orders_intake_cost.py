"""What an order costs the database, and that nothing it saves is cached beyond the request:
a key revoked, a party ended in the register, or a reference taken is seen by the very next
order. (The speed itself is measured by ``tests/benchmarks/test_orders_bench.py``.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api_keys.models import Scope
from api_keys.services import issue_api_key, revoke_api_key
from consent.models import ConsentEvent
from sharing.models import Disclosure
from sharing.order_models import Order
from sharing.services import PartyDetails, change_third_party
from tests.sharing.conftest import BANK, PARCELFORCE, party

ORDERS = "/api/v1/orders/"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def order(reference: str, email: str = "ann@example.com", **changes) -> dict:
    return {
        "reference": reference,
        "customer": {
            "email": email,
            "first_name": "Ann",
            "last_name": "Jones",
            "address": {"line_1": "1 High Street", "town": "Leeds", "postcode": "LS1 4AP"},
        },
        "lines": [
            {"product": "Canon EOS R8 body", "supplier": "Canon UK", "quantity": 1},
            {"product": "SD card 128 GB", "supplier": "SanDisk", "quantity": 2},
        ],
        "marketing_opt_out": False,
        **changes,
    }


@pytest.fixture
def checkout(officer):
    return issue_api_key(name="Checkout", scopes=[Scope.ORDERS_WRITE], actor=officer)


@pytest.fixture
def post(checkout, clean_cache):
    _, secret = checkout
    client = APIClient(REMOTE_ADDR="203.0.113.9")

    def send(body):
        return client.post(ORDERS, body, format="json", HTTP_AUTHORIZATION=f"Api-Key {secret}")

    return send


def statements_of(post, body) -> tuple[object, list[str], list[str]]:
    """(the answer, the statements that did the work, every statement with BEGIN and COMMIT)."""
    with CaptureQueriesContext(connection) as captured:
        response = post(body)
    assert response.status_code == 201, response.content
    sql = [q["sql"] for q in captured.captured_queries]
    return response, [s for s in sql if not s.startswith(TRANSACTION_CONTROL)], sql


@pytest.mark.django_db(transaction=True)
def test_an_order_from_a_returning_customer_is_seven_statements_in_one_transaction(post):
    post(order("JS-1"))  # Ann's first order: her account and her soft opt-in
    post(order("JS-2"))  # and the key's last use, written once a minute

    _, work, everything = statements_of(post, order("JS-3"))

    # the key; the register; Ann, locked, with the do-not-email list; her special offers;
    # both disclosures; the order; its lines
    assert len(work) == 7, "\n".join(work)
    assert [s for s in everything if s.startswith(TRANSACTION_CONTROL)] == ["BEGIN", "COMMIT"]
    assert sum("FOR UPDATE" in s for s in work) == 1
    assert sum(s.startswith('INSERT INTO "sharing_disclosure"') for s in work) == 1
    assert not [s for s in work if s.startswith("UPDATE")]


@pytest.mark.django_db(transaction=True)
def test_an_order_from_a_new_address_is_eleven_statements_and_one_savepoint(post):
    post(order("JS-1", email="someone@example.com"))

    _, work, everything = statements_of(post, order("JS-2"))

    # as above, plus the do-not-email list on its own, the new account, and the ledger
    # row with the current state; no query to check the account's constraints first
    assert len(work) == 11, "\n".join(work)
    assert not [s for s in work if s.startswith("SELECT 1")]
    assert [s.split()[0] for s in everything if s.startswith(TRANSACTION_CONTROL)] == [
        "BEGIN",
        "SAVEPOINT",
        "RELEASE",
        "COMMIT",
    ]


@pytest.mark.django_db
def test_a_key_revoked_between_two_orders_refuses_the_second(post, checkout, officer):
    key, _ = checkout
    assert post(order("JS-1")).status_code == 201

    revoke_api_key(key=key, actor=officer)

    response = post(order("JS-2"))
    assert response.status_code == 401
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_party_ended_in_the_register_between_two_orders_gets_nothing_from_the_second(
    post, officer
):
    assert post(order("JS-1")).json()["refused"] == []
    carrier = party(PARCELFORCE)
    change_third_party(
        party=carrier,
        details=replace(
            PartyDetails.of(carrier), active_until=timezone.localdate() - timedelta(days=1)
        ),
        actor=officer,
        reason="Contract ended.",
    )

    body = post(order("JS-2")).json()

    assert [d["recipient"] for d in body["disclosures"]] == [BANK]
    assert [(r["recipient"], r["rule"]) for r in body["refused"]] == [
        (PARCELFORCE, "party_not_active")
    ]


@pytest.mark.django_db
def test_a_taken_reference_with_an_unknown_carrier_is_a_conflict_not_a_field_error(post):
    post(order("JS-1"))
    before = (Order.objects.count(), Disclosure.objects.count(), ConsentEvent.objects.count())

    response = post(order("JS-1", carrier="Pigeon Post Ltd"))

    assert response.status_code == 409
    after = (Order.objects.count(), Disclosure.objects.count(), ConsentEvent.objects.count())
    assert after == before


@pytest.mark.django_db
def test_a_repeat_redoes_the_work_then_rolls_it_back_and_writes_nothing(post):
    from django.contrib.auth import get_user_model

    first = post(order("JS-1", email="new@example.com", marketing_opt_out=True))
    people = get_user_model().objects.count()

    again = post(order("JS-1", email="new@example.com", marketing_opt_out=True))

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert get_user_model().objects.count() == people
    assert ConsentEvent.objects.count() == 1
    assert Disclosure.objects.count() == 2
