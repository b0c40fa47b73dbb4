"""The marketing box at the point of collection (the order form), through
``record_collection_choice``: ticked withdraws, unticked grants on the soft opt-in basis only
to someone never asked, and the ledger and current state move together."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.services import (
    ConsentError,
    ConsentSource,
    LegalBasis,
    grant_consent,
    record_collection_choice,
    withdraw_consent,
)

pytestmark = pytest.mark.django_db

WORDING = "Tick this box if you do not want special offers."
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def choose(subject, *, opted_out: bool, may_grant: bool = True, **extra):
    return record_collection_choice(
        subject=subject,
        purpose=Purpose.SPECIAL_OFFERS,
        opted_out=opted_out,
        may_grant=may_grant,
        source=ConsentSource.ORDER_FORM,
        wording=WORDING,
        **extra,
    )


def events_of(subject) -> list[tuple[str, bool, str, str]]:
    return [
        (event.purpose.code, event.granted, event.legal_basis, event.wording)
        for event in ConsentEvent.objects.filter(subject=subject).order_by("id")
    ]


def test_an_unticked_box_grants_someone_never_asked_on_the_soft_opt_in_basis(customer):
    choice = choose(customer, opted_out=False)

    assert (choice.granted, choice.legal_basis, choice.changed) == (True, "soft_opt_in", True)
    assert events_of(customer) == [("special_offers", True, "soft_opt_in", WORDING)]
    current = CurrentConsent.objects.get(subject=customer)
    assert (current.granted, current.legal_basis) == (True, "soft_opt_in")


def test_an_unticked_box_grants_nothing_when_the_caller_may_not(customer):
    choice = choose(customer, opted_out=False, may_grant=False)

    assert (choice.granted, choice.legal_basis, choice.changed) == (False, None, False)
    assert events_of(customer) == []


def test_a_ticked_box_is_recorded_even_from_someone_never_asked(customer):
    choice = choose(customer, opted_out=True)

    assert (choice.granted, choice.legal_basis, choice.changed) == (False, "consent", True)
    assert events_of(customer) == [("special_offers", False, "consent", WORDING)]


def test_a_ticked_box_withdraws_an_earlier_yes_and_a_second_tick_writes_nothing(customer):
    grant_consent(subject=customer, purpose="special_offers", source=ConsentSource.SIGNUP_FORM)

    first = choose(customer, opted_out=True)
    again = choose(customer, opted_out=True)

    assert (first.granted, first.changed) == (False, True)
    assert (again.granted, again.changed) == (False, False)
    assert [granted for _, granted, _, _ in events_of(customer)] == [True, False]


def test_an_earlier_no_stands_and_an_earlier_yes_keeps_its_basis(customer, make_user):
    grant_consent(subject=customer, purpose="special_offers", source=ConsentSource.SIGNUP_FORM)
    bob = make_user("bob@example.com")
    grant_consent(subject=bob, purpose="special_offers", source=ConsentSource.SIGNUP_FORM)
    withdraw_consent(subject=bob, purpose="special_offers", source=ConsentSource.SIGNUP_FORM)

    yes = choose(customer, opted_out=False)
    no = choose(bob, opted_out=False)

    assert (yes.granted, yes.legal_basis, yes.changed) == (True, LegalBasis.CONSENT, False)
    assert (no.granted, no.legal_basis, no.changed) == (False, LegalBasis.CONSENT, False)
    assert len(events_of(customer)) == 1
    assert len(events_of(bob)) == 2


def test_the_box_touches_no_other_purpose(customer):
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)

    choose(customer, opted_out=True)

    assert CurrentConsent.objects.get(subject=customer, purpose__code="newsletter").granted


def test_an_unknown_source_is_refused_and_nothing_written(customer):
    with pytest.raises(ConsentError):
        record_collection_choice(
            subject=customer,
            purpose=Purpose.SPECIAL_OFFERS,
            opted_out=True,
            may_grant=True,
            source="carrier_pigeon",
            wording=WORDING,
        )
    assert events_of(customer) == []


def test_a_mandatory_purpose_has_no_box(customer):
    with pytest.raises(ConsentError):
        record_collection_choice(
            subject=customer,
            purpose=Purpose.SERVICE_ANNOUNCEMENTS,
            opted_out=True,
            may_grant=True,
            source=ConsentSource.ORDER_FORM,
            wording=WORDING,
        )


@pytest.mark.django_db(transaction=True)
def test_a_subject_locked_by_the_caller_costs_one_read_and_two_writes(make_user):
    ann = make_user("ann@example.com")
    with transaction.atomic():
        list(type(ann).objects.select_for_update().filter(pk=ann.pk))
        with CaptureQueriesContext(connection) as captured:
            choose(ann, opted_out=False, subject_locked=True)
    work = [q["sql"] for q in captured.captured_queries]
    assert not [sql for sql in work if sql.startswith(TRANSACTION_CONTROL)]
    assert not [sql for sql in work if "FOR UPDATE" in sql]
    assert len(work) == 3, "\n".join(work)


@pytest.mark.django_db(transaction=True)
def test_on_its_own_it_locks_the_subject_in_its_own_transaction(make_user):
    ann = make_user("ann@example.com")

    with CaptureQueriesContext(connection) as captured:
        choose(ann, opted_out=True)

    work = [q["sql"] for q in captured.captured_queries]
    assert work[0] == "BEGIN" and work[-1] == "COMMIT"
    assert "FOR UPDATE" in work[1]
    assert len(work) == 6, "\n".join(work)


@pytest.mark.django_db(transaction=True)
def test_a_subject_can_be_said_to_be_locked_only_inside_a_transaction(make_user):
    ann = make_user("ann@example.com")

    with pytest.raises(ConsentError):
        choose(ann, opted_out=True, subject_locked=True)

    assert events_of(ann) == []
