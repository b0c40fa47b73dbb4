"""``record_disclosures_to``: one person's data to several parties (an order's bank and
carrier), each judged by the register on its own, written in one statement."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sharing.models import DataCategory, Disclosure, DisclosurePurpose, LegalBasis
from sharing.services import DisclosureRefused, PartyDetails, Rule, change_third_party
from sharing.services.disclosures import Recipient, record_disclosures_to
from tests.sharing.conftest import BANK, CEWE, PARCELFORCE, party

pytestmark = pytest.mark.django_db
NAME_AND_ADDRESS = [DataCategory.NAME, DataCategory.POSTAL_ADDRESS]
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann")


def bank_and_carrier() -> list[Recipient]:
    return [
        Recipient(party=party(BANK), purpose=DisclosurePurpose.CARD_AUTHORISATION),
        Recipient(party=party(PARCELFORCE), purpose=DisclosurePurpose.DELIVERY),
    ]


def disclose_to(person, recipients, *, officer, **overrides):
    arguments = {
        "person": person,
        "recipients": recipients,
        "categories": NAME_AND_ADDRESS,
        "legal_basis": LegalBasis.CONTRACT,
        "reference": "order 1001",
        "actor": officer,
        **overrides,
    }
    return record_disclosures_to(**arguments)


def test_each_party_gets_its_own_row_for_its_own_purpose(ann, officer):
    outcomes = disclose_to(ann, bank_and_carrier(), officer=officer)

    assert all(isinstance(outcome, Disclosure) for outcome in outcomes)
    rows = Disclosure.objects.filter(person=ann).order_by("id")
    assert [(row.party.name, row.purpose) for row in rows] == [
        (BANK, "card_authorisation"),
        (PARCELFORCE, "delivery"),
    ]
    assert [row.pk for row in rows] == [outcome.pk for outcome in outcomes]
    for row in rows:
        assert (row.categories, row.legal_basis, row.reference, row.actor) == (
            NAME_AND_ADDRESS,
            "contract",
            "order 1001",
            officer,
        )


def test_a_party_the_register_refuses_gets_nothing_and_the_others_are_logged(ann, officer):
    bank = party(BANK)
    yesterday = timezone.localdate() - timedelta(days=1)
    change_third_party(
        party=bank,
        details=replace(PartyDetails.of(bank), active_until=yesterday),
        actor=officer,
        reason="Contract ended.",
    )
    stale = bank_and_carrier()  # read after the change; the service reads it again anyway

    refused, logged = disclose_to(ann, stale, officer=officer)

    assert isinstance(refused, DisclosureRefused)
    assert refused.rule == Rule.PARTY_NOT_ACTIVE
    assert isinstance(logged, Disclosure)
    assert [row.party.name for row in Disclosure.objects.filter(person=ann)] == [PARCELFORCE]


def test_the_register_is_read_as_it_stands_not_as_the_caller_saw_it(ann, officer):
    recipients = bank_and_carrier()
    bank = party(BANK)
    change_third_party(
        party=bank,
        details=replace(PartyDetails.of(bank), categories=[DataCategory.NAME]),
        actor=officer,
        reason="Address no longer needed.",
    )

    refused, _ = disclose_to(ann, recipients, officer=officer)

    assert isinstance(refused, DisclosureRefused)
    assert refused.rule == Rule.CATEGORY_NOT_REGISTERED


def test_a_purpose_a_party_does_not_serve_refuses_that_party_only(ann, officer):
    recipients = [
        Recipient(party=party(BANK), purpose=DisclosurePurpose.DELIVERY),
        Recipient(party=party(PARCELFORCE), purpose=DisclosurePurpose.DELIVERY),
    ]

    refused, logged = disclose_to(ann, recipients, officer=officer)

    assert isinstance(refused, DisclosureRefused)
    assert refused.rule == Rule.PURPOSE_NOT_REGISTERED
    assert isinstance(logged, Disclosure)


def test_a_closed_account_is_refused_by_every_party(ann, officer):
    get_user_model().objects.filter(pk=ann.pk).update(is_active=False)
    assert ann.is_active  # the caller's copy is stale: the service reads the account again

    outcomes = disclose_to(ann, bank_and_carrier(), officer=officer)

    assert [outcome.rule for outcome in outcomes] == [Rule.PERSON_GONE, Rule.PERSON_GONE]
    assert not Disclosure.objects.filter(person=ann).exists()


def test_consent_as_the_basis_is_checked_per_party(ann, officer):
    outcomes = disclose_to(
        ann,
        [Recipient(party=party(CEWE), purpose=DisclosurePurpose.PHOTO_SERVICE)],
        officer=officer,
        legal_basis=LegalBasis.CONSENT,
    )

    assert [outcome.rule for outcome in outcomes] == [Rule.NO_CONSENT]


def test_a_request_no_party_could_take_is_refused_outright(ann, officer):
    with pytest.raises(DisclosureRefused) as caught:
        disclose_to(ann, bank_and_carrier(), officer=officer, reference="  ")

    assert caught.value.rule == Rule.REFERENCE_REQUIRED
    assert not Disclosure.objects.exists()


def test_a_customer_discloses_only_their_own_data(ann, make_user, officer):
    bob = make_user("bob@example.com")

    with pytest.raises(DisclosureRefused) as caught:
        disclose_to(ann, bank_and_carrier(), officer=bob)

    assert caught.value.rule == Rule.ACTOR_NOT_STAFF


@pytest.mark.django_db(transaction=True)
def test_it_reads_the_register_and_locks_the_person_once_for_all_parties(make_user, officer):
    ann = make_user("ann@example.com")
    recipients = bank_and_carrier()

    with CaptureQueriesContext(connection) as captured:
        disclose_to(ann, recipients, officer=officer)

    work = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("BEGIN")]
    work = [sql for sql in work if not sql.startswith(TRANSACTION_CONTROL)]
    assert len(work) == 3, "\n".join(work)
    assert "sharing_thirdparty" in work[0]
    assert "FOR NO KEY UPDATE" in work[1]
    assert work[2].startswith('INSERT INTO "sharing_disclosure"')


@pytest.mark.django_db(transaction=True)
def test_rows_the_caller_read_in_its_transaction_are_not_read_again(make_user, officer):
    ann = make_user("ann@example.com")
    with transaction.atomic():
        locked = get_user_model().objects.select_for_update().get(pk=ann.pk)
        recipients = bank_and_carrier()
        with CaptureQueriesContext(connection) as captured:
            outcomes = disclose_to(locked, recipients, officer=officer, as_read_in_transaction=True)

    assert [q["sql"][:32] for q in captured.captured_queries] == [
        'INSERT INTO "sharing_disclosure"'
    ]
    assert Disclosure.objects.filter(pk__in=[o.pk for o in outcomes]).count() == 2


@pytest.mark.django_db(transaction=True)
def test_rows_read_in_a_transaction_cannot_be_used_outside_one(make_user, officer):
    ann = make_user("ann@example.com")

    with pytest.raises(ValueError):
        disclose_to(ann, bank_and_carrier(), officer=officer, as_read_in_transaction=True)

    assert not Disclosure.objects.exists()
