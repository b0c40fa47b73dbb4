"""The consent services' rules, one transaction per decision with the current state always the
fold of the ledger, the database's refusal to change the ledger, and audience_for."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.provenance import Provenance
from consent.selectors import audience_for, consent_status
from consent.services import (
    ConsentError,
    ConsentSource,
    LegalBasis,
    current_policy_version,
    grant_consent,
    record_decisions,
    withdraw_all_marketing,
    withdraw_consent,
)
from tests.factories import PolicyVersionFactory, UserFactory, subscribers

OPTIONAL = [Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS, Purpose.SURVEYS, Purpose.PARTNER_PHOTO]


def purpose(code: str) -> Purpose:
    return Purpose.objects.get(code=code)


# --- Grant, withdraw, no-ops ---------------------------------------------------------------------


@pytest.mark.django_db
def test_granting_writes_one_ledger_row_and_the_current_state(customer):
    event = grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)

    assert event is not None
    assert ConsentEvent.objects.filter(subject=customer).count() == 1
    current = CurrentConsent.objects.get(subject=customer, purpose=purpose("newsletter"))
    assert current.granted is True
    assert current.event == event
    assert current.legal_basis == LegalBasis.CONSENT
    assert consent_status(subject=customer)["newsletter"].granted is True


@pytest.mark.django_db
def test_withdrawing_appends_a_second_row_and_keeps_the_first(customer):
    granted = grant_consent(
        subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM
    )

    withdrawn = withdraw_consent(
        subject=customer, purpose="newsletter", source=ConsentSource.PREFERENCE_CENTRE
    )

    assert withdrawn is not None and withdrawn.granted is False
    assert list(
        ConsentEvent.objects.filter(subject=customer)
        .order_by("id")
        .values_list("granted", flat=True)
    ) == [True, False]
    assert ConsentEvent.objects.get(pk=granted.pk).granted is True
    current = CurrentConsent.objects.get(subject=customer, purpose=purpose("newsletter"))
    assert (current.granted, current.event_id) == (False, withdrawn.pk)
    assert consent_status(subject=customer)["newsletter"].granted is False


@pytest.mark.django_db
def test_withdraw_all_marketing_withdraws_every_granted_optional_purpose(customer):
    record_decisions(
        subject=customer,
        choices={"newsletter": True, "special_offers": True, "surveys": True},
        source=ConsentSource.SIGNUP_FORM,
    )

    events = withdraw_all_marketing(subject=customer, source=ConsentSource.UNSUBSCRIBE_LINK)

    assert sorted(e.purpose.code for e in events) == ["newsletter", "special_offers", "surveys"]
    assert all(e.granted is False and e.source == ConsentSource.UNSUBSCRIBE_LINK for e in events)
    assert not CurrentConsent.objects.filter(subject=customer, granted=True).exists()
    # Purposes never granted get no withdrawal row: there was nothing to withdraw.
    assert not ConsentEvent.objects.filter(subject=customer, purpose__code="partner_photo").exists()


@pytest.mark.django_db
def test_a_decision_equal_to_the_state_in_force_records_nothing(customer):
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)

    again = grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.API)
    never_asked = withdraw_consent(subject=customer, purpose="surveys", source=ConsentSource.API)
    unchanged = record_decisions(
        subject=customer, choices={"newsletter": True, "surveys": False}, source=ConsentSource.API
    )

    assert again is None
    assert never_asked is None
    assert unchanged == []
    assert ConsentEvent.objects.filter(subject=customer).count() == 1


@pytest.mark.django_db
def test_withdraw_all_marketing_with_nothing_granted_returns_an_empty_list(customer):
    assert withdraw_all_marketing(subject=customer, source=ConsentSource.UNSUBSCRIBE_LINK) == []
    assert not ConsentEvent.objects.exists()


# --- Refusals ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_mandatory_purpose_is_refused_and_nothing_is_written(customer):
    with pytest.raises(ConsentError, match="service_announcements is mandatory"):
        record_decisions(
            subject=customer,
            choices={"newsletter": True, "service_announcements": False},
            source=ConsentSource.API,
        )

    assert not ConsentEvent.objects.exists()
    assert not CurrentConsent.objects.exists()


@pytest.mark.django_db
def test_an_unknown_purpose_is_refused_and_nothing_is_written(customer):
    with pytest.raises(ConsentError, match="Unknown purpose: carrier_pigeon"):
        record_decisions(
            subject=customer,
            choices={"newsletter": True, "carrier_pigeon": True},
            source=ConsentSource.API,
        )

    assert not ConsentEvent.objects.exists()
    assert not CurrentConsent.objects.exists()


@pytest.mark.django_db
def test_an_unknown_source_is_refused(customer):
    with pytest.raises(ConsentError, match="Unknown source"):
        grant_consent(subject=customer, purpose="newsletter", source="carrier_pigeon")
    assert not ConsentEvent.objects.exists()


# --- What each row proves ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_form_opt_in_is_recorded_as_soft_opt_in(customer):
    event = grant_consent(
        subject=customer,
        purpose="special_offers",
        source=ConsentSource.ORDER_FORM,
        legal_basis=LegalBasis.SOFT_OPT_IN,
    )

    event.refresh_from_db()
    assert (event.source, event.legal_basis) == ("order_form", "soft_opt_in")
    current = CurrentConsent.objects.get(subject=customer, purpose=purpose("special_offers"))
    assert current.legal_basis == "soft_opt_in"
    assert consent_status(subject=customer)["special_offers"].legal_basis == "soft_opt_in"


@pytest.mark.django_db
def test_the_row_records_the_policy_version_in_force_and_the_exact_wording(customer):
    newsletter = purpose("newsletter")
    first = grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    v2 = PolicyVersionFactory()

    second = withdraw_consent(subject=customer, purpose="newsletter", source=ConsentSource.API)
    shown = "Send me the old newsletter wording."
    third = grant_consent(
        subject=customer, purpose="newsletter", source=ConsentSource.IMPORT, wording=shown
    )

    first.refresh_from_db()
    assert first.policy_version.number == 1
    assert first.wording == newsletter.wording
    assert second.policy_version == v2 == current_policy_version()
    assert ConsentEvent.objects.get(pk=third.pk).wording == shown


@pytest.mark.django_db
def test_the_member_of_staff_who_recorded_a_decision_is_the_actor(customer, make_user):
    staff = make_user("clerk@jessops.example", is_staff=True)

    event = grant_consent(
        subject=customer, purpose="surveys", source=ConsentSource.STAFF, actor=staff
    )
    own = grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.API)

    assert ConsentEvent.objects.get(pk=event.pk).actor == staff
    assert ConsentEvent.objects.get(pk=own.pk).actor is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote_addr", "stored"),
    [("203.0.113.77", "203.0.113.0"), ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::")],
)
def test_the_ip_address_is_stored_truncated(customer, remote_addr, stored):
    request = RequestFactory().post(
        "/preferences/", REMOTE_ADDR=remote_addr, HTTP_USER_AGENT="Firefox/140"
    )

    event = grant_consent(
        subject=customer,
        purpose="newsletter",
        source=ConsentSource.PREFERENCE_CENTRE,
        provenance=Provenance.from_request(request),
    )

    event.refresh_from_db()
    assert event.ip_address == stored
    assert event.user_agent == "Firefox/140"


# --- One transaction, and the current state is the fold of the ledger ---------------------------


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def test_record_decisions_takes_at_most_five_queries_in_one_transaction(transactional_db):
    # given someone with one choice already in force (outside any test transaction, so the
    # service's atomic block is a real BEGIN/COMMIT rather than a savepoint)
    user = UserFactory(consents=[Purpose.SURVEYS])
    # when
    with CaptureQueriesContext(connection) as captured:
        events = record_decisions(
            subject=user,
            choices={
                "newsletter": True,
                "special_offers": True,
                "surveys": False,
                "partner_photo": True,
            },
            source=ConsentSource.PREFERENCE_CENTRE,
        )
    # then: Django logs BEGIN/COMMIT too; they are the one transaction, not work done in it
    statements = [q["sql"] for q in captured.captured_queries]
    work = [sql for sql in statements if not sql.startswith(TRANSACTION_CONTROL)]
    assert len(work) <= 5, "\n".join(work)
    assert [sql for sql in statements if sql.startswith(TRANSACTION_CONTROL)] == [
        "BEGIN",
        "COMMIT",
    ]
    assert len(events) == 4


OPERATIONS = st.one_of(
    st.tuples(st.just("grant"), st.integers(0, 1), st.sampled_from(OPTIONAL)),
    st.tuples(st.just("withdraw"), st.integers(0, 1), st.sampled_from(OPTIONAL)),
    st.tuples(
        st.just("record"),
        st.integers(0, 1),
        st.dictionaries(st.sampled_from(OPTIONAL), st.booleans(), max_size=4),
    ),
    st.tuples(st.just("withdraw_all"), st.integers(0, 1), st.none()),
)


@hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(OPERATIONS, max_size=15))
def test_current_consent_is_always_the_fold_of_the_ledger(db, operations):
    # given fresh people for each example: the ledger is append-only, so nothing is cleaned up
    users = UserFactory.create_batch(2)
    source = ConsentSource.PREFERENCE_CENTRE
    # when
    for name, index, argument in operations:
        subject = users[index]
        if name == "grant":
            grant_consent(subject=subject, purpose=argument, source=source)
        elif name == "withdraw":
            withdraw_consent(subject=subject, purpose=argument, source=source)
        elif name == "record":
            record_decisions(subject=subject, choices=argument, source=source)
        else:
            withdraw_all_marketing(subject=subject, source=source)
    # then
    fold: dict[tuple[int, int], ConsentEvent] = {}
    for event in ConsentEvent.objects.filter(subject__in=users).order_by("id"):
        fold[(event.subject_id, event.purpose_id)] = event
    current = {
        (row.subject_id, row.purpose_id): (row.granted, row.legal_basis, row.event_id)
        for row in CurrentConsent.objects.filter(subject__in=users)
    }
    assert current == {
        key: (event.granted, event.legal_basis, event.id) for key, event in fold.items()
    }


# --- The database refuses to change the ledger ---------------------------------------------------


@pytest.fixture
def ledger_row(transactional_db, make_user) -> ConsentEvent:
    subject = make_user("bob@example.com")
    return grant_consent(subject=subject, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_consentevent SET granted = NOT granted WHERE id = %s",
        "DELETE FROM consent_consentevent WHERE id = %s",
    ],
)
def test_the_database_refuses_update_and_delete_on_the_ledger(ledger_row, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [ledger_row.pk])

    ledger_row.refresh_from_db()
    assert ledger_row.granted is True


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_orm_cannot_update_or_delete_ledger_rows_either(ledger_row):
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=ledger_row.pk).update(granted=False)
    with pytest.raises(DatabaseError), transaction.atomic():
        CurrentConsent.objects.filter(event=ledger_row).delete()
        ConsentEvent.objects.filter(pk=ledger_row.pk).delete()

    assert ConsentEvent.objects.filter(pk=ledger_row.pk, granted=True).exists()
    assert CurrentConsent.objects.filter(event=ledger_row).exists()


# --- audience_for --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_audience_for_walks_granted_active_subjects_in_ascending_keyset_batches(make_user):
    newsletter = purpose("newsletter")
    users = subscribers(7, prefix="reader")
    withdraw_consent(subject=users[2], purpose="newsletter", source=ConsentSource.UNSUBSCRIBE_LINK)
    users[4].is_active = False
    users[4].save(update_fields=["is_active"])
    make_user("never-asked@example.com")
    expected = sorted(u.pk for i, u in enumerate(users) if i not in {2, 4})

    batches, after = [], 0
    while batch := list(audience_for(purpose=newsletter, after=after, limit=2)):
        batches.append(batch)
        after = batch[-1]

    assert [len(b) for b in batches] == [2, 2, 1]
    assert [pk for batch in batches for pk in batch] == expected


@pytest.mark.django_db
def test_audience_for_a_mandatory_purpose_is_every_active_account(make_user):
    announcements = purpose("service_announcements")
    active = [make_user(f"member{i}@example.com") for i in range(3)]
    make_user("gone@example.com", is_active=False)

    first = list(audience_for(purpose=announcements, limit=2))
    rest = list(audience_for(purpose=announcements, after=first[-1], limit=2))

    assert first + rest == sorted(u.pk for u in active)
