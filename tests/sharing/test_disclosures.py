"""Logging disclosures: every rule of the register refuses with a clear error and writes
nothing; the log is append-only at the database, erasure's pseudonymisation aside."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from api_keys.models import Scope
from api_keys.services import issue_api_key, revoke_api_key
from consent.models import Purpose
from consent.services import ConsentSource, grant_consent, withdraw_consent
from sharing.models import DataCategory, Disclosure, DisclosurePurpose, LegalBasis
from sharing.privacy import erase_for_user
from sharing.services import (
    DisclosureRefused,
    PartyDetails,
    Rule,
    change_third_party,
    record_disclosures,
)
from tests.sharing.conftest import (
    ADVERTISERS,
    BANK,
    CEWE,
    COURTS,
    PARCELFORCE,
    SPONSORS,
    party,
)

pytestmark = pytest.mark.django_db
NAME_AND_ADDRESS = [DataCategory.NAME, DataCategory.POSTAL_ADDRESS]


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann")


def refused(rule: Rule, make, *args, **kwargs) -> DisclosureRefused:
    """Call ``make``; assert it was refused under ``rule`` and that nothing was logged."""
    before = Disclosure.objects.count()
    with pytest.raises(DisclosureRefused) as caught:
        make(*args, **kwargs)
    assert caught.value.rule == rule
    assert str(caught.value).startswith(f"Disclosure refused ({rule}): ")
    assert Disclosure.objects.count() == before
    return caught.value


def set_dates(officer, name: str, *, active_from, active_until) -> None:
    target = party(name)
    details = replace(PartyDetails.of(target), active_from=active_from, active_until=active_until)
    change_third_party(party=target, details=details, actor=officer, reason="Contract dates.")


# --- What is written ---------------------------------------------------------------------------


def test_a_disclosure_the_register_allows_is_logged_with_who_what_why_and_when(
    ann, officer, disclose
):
    before = timezone.now()

    disclosure = disclose(ann, reference="  order 1001 ")

    row = Disclosure.objects.get()
    assert row == disclosure
    assert row.person == ann
    assert row.party.name == BANK
    assert row.categories == ["name", "postal_address"]
    assert row.purpose == DisclosurePurpose.CARD_AUTHORISATION
    assert row.legal_basis == LegalBasis.CONTRACT
    assert row.reference == "order 1001"
    assert row.actor == officer
    assert row.system is None
    assert before <= row.occurred_at <= timezone.now()


def test_the_categories_are_kept_once_each_in_the_register_order(ann, disclose):
    disclosure = disclose(ann, categories=["postal_address", "name", "postal_address"])

    assert disclosure.categories == ["name", "postal_address"]


def test_one_of_the_shops_systems_discloses_by_its_api_key(ann, officer, disclose):
    key, _ = issue_api_key(
        name="Checkout", scopes=[Scope.CONSENTS_READ], expires_at=None, actor=officer
    )

    disclosure = disclose(
        ann,
        party=party(PARCELFORCE),
        purpose=DisclosurePurpose.DELIVERY,
        actor=None,
        system=key,
    )

    assert disclosure.system == key
    assert disclosure.actor is None


def test_several_people_are_logged_in_one_call(make_user, officer):
    winners = [make_user(f"winner{i}@example.com") for i in range(3)]
    for winner in winners:
        grant_consent(subject=winner, purpose=Purpose.SURVEYS, source=ConsentSource.SIGNUP_FORM)

    rows = record_disclosures(
        people=winners,
        party=party(SPONSORS),
        categories=[DataCategory.NAME, DataCategory.EMAIL],
        purpose=DisclosurePurpose.PRIZE_AWARD,
        legal_basis=LegalBasis.CONSENT,
        reference="summer contest 2026",
        actor=officer,
    )

    assert sorted(row.person_id for row in rows) == sorted(w.pk for w in winners)
    assert Disclosure.objects.filter(reference="summer contest 2026").count() == 3


# --- The register's rules ----------------------------------------------------------------------


def test_kinds_of_data_beyond_what_the_register_allows_are_refused(ann, disclose):
    error = refused(
        Rule.CATEGORY_NOT_REGISTERED,
        disclose,
        ann,
        categories=[DataCategory.NAME, DataCategory.EMAIL],
    )

    assert "Our bank (card authorisation) may not receive Email address" in str(error)
    assert "allows Name, Postal address" in str(error)


def test_any_personal_data_to_an_aggregate_only_recipient_is_refused(ann, disclose):
    error = refused(
        Rule.AGGREGATE_ONLY_PARTY,
        disclose,
        ann,
        party=party(ADVERTISERS),
        categories=[DataCategory.NAME],
        purpose=DisclosurePurpose.AGGREGATE_STATISTICS,
        legal_basis=LegalBasis.LEGITIMATE_INTERESTS,
    )

    assert "Suppliers and advertisers receives aggregate information only" in str(error)


def test_a_party_before_its_first_active_day_is_refused(ann, officer, disclose):
    tomorrow = timezone.localdate() + timedelta(days=1)
    set_dates(officer, BANK, active_from=tomorrow, active_until=None)

    error = refused(Rule.PARTY_NOT_ACTIVE, disclose, ann)

    assert f"from {tomorrow:%d %b %Y}" in str(error)


def test_a_party_after_its_last_active_day_is_refused(ann, officer, disclose):
    yesterday = timezone.localdate() - timedelta(days=1)
    set_dates(officer, BANK, active_from=yesterday - timedelta(days=30), active_until=yesterday)

    error = refused(Rule.PARTY_NOT_ACTIVE, disclose, ann)

    assert f"until {yesterday:%d %b %Y}" in str(error)


def test_the_last_active_day_itself_is_allowed(ann, officer, disclose):
    today = timezone.localdate()
    set_dates(officer, BANK, active_from=today - timedelta(days=30), active_until=today)

    assert disclose(ann).party.name == BANK


def test_a_purpose_the_party_is_not_registered_for_is_refused(ann, disclose):
    error = refused(Rule.PURPOSE_NOT_REGISTERED, disclose, ann, purpose=DisclosurePurpose.DELIVERY)

    assert "not registered to receive data for 'Delivering your order'" in str(error)


@pytest.mark.parametrize("closed_by", ["deactivation", "erasure request"])
def test_a_deactivated_or_erased_person_is_refused(ann, disclose, closed_by):
    ann.is_active = False
    if closed_by == "erasure request":
        ann.erasure_requested_at = timezone.now()
    ann.save()

    error = refused(Rule.PERSON_GONE, disclose, ann)

    assert f"the account {ann.pk} is deactivated or erased" in str(error)


def test_an_account_that_does_not_exist_is_refused(make_user, disclose):
    from django.contrib.auth import get_user_model

    ghost = get_user_model()(pk=987654, email="ghost@example.com")

    error = refused(Rule.PERSON_GONE, disclose, ghost)

    assert "no account 987654 exists" in str(error)


def test_the_check_reads_the_account_as_it_is_now_not_as_the_caller_saw_it(ann, disclose):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk=ann.pk).update(is_active=False)
    assert ann.is_active  # the caller's copy is stale

    refused(Rule.PERSON_GONE, disclose, ann)


def test_a_gone_person_may_be_disclosed_when_the_law_requires_it(ann, disclose):
    ann.is_active = False
    ann.save()

    disclosure = disclose(
        ann,
        party=party(COURTS),
        categories=[DataCategory.NAME, DataCategory.ORDER_HISTORY],
        purpose=DisclosurePurpose.LEGAL_OBLIGATION,
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        reference="Court order 2026/123",
    )

    assert disclosure.person == ann


def test_consent_as_the_basis_needs_the_linked_purpose_granted_now(ann, disclose):
    photo = {
        "party": party(CEWE),
        "categories": [DataCategory.NAME, DataCategory.EMAIL],
        "purpose": DisclosurePurpose.PHOTO_SERVICE,
        "legal_basis": LegalBasis.CONSENT,
        "reference": "Jessops Photo sign-up",
    }
    error = refused(Rule.NO_CONSENT, disclose, ann, **photo)
    assert "has not consented to 'Jessops Photo offers (CEWE)'" in str(error)

    grant_consent(
        subject=ann, purpose=Purpose.PARTNER_PHOTO, source=ConsentSource.PREFERENCE_CENTRE
    )
    assert disclose(ann, **photo).party.name == CEWE

    withdraw_consent(
        subject=ann, purpose=Purpose.PARTNER_PHOTO, source=ConsentSource.PREFERENCE_CENTRE
    )
    refused(Rule.NO_CONSENT, disclose, ann, **photo)


def test_consent_cannot_be_the_basis_for_a_party_no_consent_purpose_names(ann, disclose):
    error = refused(Rule.NO_CONSENT, disclose, ann, legal_basis=LegalBasis.CONSENT)

    assert "no consent purpose tells people about Our bank" in str(error)


def test_one_refused_person_refuses_the_whole_batch(make_user, officer):
    ready, gone = make_user("ready@example.com"), make_user("gone@example.com")
    gone.is_active = False
    gone.save()

    refused(
        Rule.PERSON_GONE,
        record_disclosures,
        people=[ready, gone],
        party=party(PARCELFORCE),
        categories=NAME_AND_ADDRESS,
        purpose=DisclosurePurpose.DELIVERY,
        legal_basis=LegalBasis.CONTRACT,
        reference="order 7",
        actor=officer,
    )


# --- Who discloses, and for what ---------------------------------------------------------------


def test_someone_must_be_named_as_disclosing(ann, disclose):
    refused(Rule.ACTOR_REQUIRED, disclose, ann, actor=None)


def test_staff_and_a_system_at_once_are_refused(ann, officer, disclose):
    key, _ = issue_api_key(
        name="Checkout", scopes=[Scope.CONSENTS_READ], expires_at=None, actor=officer
    )

    refused(Rule.ACTOR_REQUIRED, disclose, ann, system=key)


def test_a_customer_cannot_be_the_one_disclosing(ann, make_user, disclose):
    refused(Rule.ACTOR_NOT_STAFF, disclose, ann, actor=make_user("bob@example.com"))


def test_a_revoked_system_key_cannot_disclose(ann, officer, disclose):
    key, _ = issue_api_key(
        name="Old checkout", scopes=[Scope.CONSENTS_READ], expires_at=None, actor=officer
    )
    revoke_api_key(key=key, actor=officer)

    error = refused(Rule.SYSTEM_KEY_NOT_USABLE, disclose, ann, actor=None, system=key)

    assert "Old checkout" in str(error)


@pytest.mark.parametrize("reference", ["", "   ", "x" * 201])
def test_a_disclosure_needs_a_reference_of_sensible_length(ann, disclose, reference):
    refused(Rule.REFERENCE_REQUIRED, disclose, ann, reference=reference)


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"legal_basis": "because"}, Rule.UNKNOWN_LEGAL_BASIS),
        ({"purpose": "profiling"}, Rule.UNKNOWN_PURPOSE),
        ({"categories": ["name", "shoe_size"]}, Rule.UNKNOWN_CATEGORY),
        ({"categories": []}, Rule.NO_CATEGORIES),
    ],
)
def test_unknown_values_are_refused(ann, disclose, overrides, rule):
    refused(rule, disclose, ann, **overrides)


# --- Append-only at the database ---------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's"
)


@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sharing_disclosure SET legal_basis = 'consent' WHERE id = %s",
        "UPDATE sharing_disclosure SET categories = '[\"name\"]' WHERE id = %s",
        "UPDATE sharing_disclosure SET reference = 'order 9', person_id = person_id WHERE id = %s",
        # Emptying the reference together with anything else is not erasure's update.
        "UPDATE sharing_disclosure SET reference = '', occurred_at = now() WHERE id = %s",
        "DELETE FROM sharing_disclosure WHERE id = %s",
    ],
)
def test_the_database_refuses_to_change_or_delete_a_disclosure(ann, disclose, statement):
    disclosure = disclose(ann)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [disclosure.pk])

    disclosure.refresh_from_db()
    assert disclosure.reference == "order 1001"
    assert disclosure.legal_basis == LegalBasis.CONTRACT


@postgres_only
def test_the_orm_cannot_delete_a_disclosure_either(ann, disclose):
    disclosure = disclose(ann)

    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.filter(pk=disclosure.pk).delete()

    assert Disclosure.objects.filter(pk=disclosure.pk).exists()


@postgres_only
def test_erasure_empties_the_reference_and_nothing_else(ann, disclose):
    disclosure = disclose(ann)
    before = Disclosure.objects.filter(pk=disclosure.pk).values().get()

    erase_for_user(ann)

    after = Disclosure.objects.filter(pk=disclosure.pk).values().get()
    assert after == {**before, "reference": ""}


@postgres_only
def test_a_disclosure_the_law_required_keeps_its_reference_even_at_the_database(ann, disclose):
    disclosure = disclose(
        ann,
        party=party(COURTS),
        purpose=DisclosurePurpose.LEGAL_OBLIGATION,
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        reference="Court order 2026/123",
    )

    erase_for_user(ann)
    disclosure.refresh_from_db()
    assert disclosure.reference == "Court order 2026/123"

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Disclosure.objects.filter(pk=disclosure.pk).update(reference="")
