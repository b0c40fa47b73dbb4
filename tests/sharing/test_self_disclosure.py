"""A customer may be the one disclosing their own data, for a service they asked for (joining
Jessops Photo); never anyone else's, and never with anyone else's."""

from __future__ import annotations

import pytest

from sharing.models import DataCategory, DisclosurePurpose, LegalBasis
from sharing.services import DisclosureRefused, Rule, record_disclosure, record_disclosures
from tests.sharing.conftest import CEWE, party

pytestmark = pytest.mark.django_db

JOINING = {
    "categories": [DataCategory.NAME, DataCategory.EMAIL],
    "purpose": DisclosurePurpose.PHOTO_SERVICE,
    "legal_basis": LegalBasis.CONTRACT,
    "reference": "Jessops Photo membership 1",
}


def test_a_customer_discloses_their_own_data(make_user):
    ann = make_user("ann@example.com")

    disclosure = record_disclosure(person=ann, party=party(CEWE), actor=ann, **JOINING)

    assert (disclosure.person, disclosure.actor, disclosure.system) == (ann, ann, None)


def test_a_customer_never_discloses_someone_elses_data(make_user):
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")

    with pytest.raises(DisclosureRefused) as refusal:
        record_disclosure(person=bob, party=party(CEWE), actor=ann, **JOINING)

    assert refusal.value.rule == Rule.ACTOR_NOT_STAFF


def test_a_customer_never_discloses_their_data_along_with_others(make_user):
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")

    with pytest.raises(DisclosureRefused) as refusal:
        record_disclosures(people=[ann, bob], party=party(CEWE), actor=ann, **JOINING)

    assert refusal.value.rule == Rule.ACTOR_NOT_STAFF


def test_a_deactivated_customer_discloses_nothing(make_user):
    ann = make_user("ann@example.com", is_active=False)

    with pytest.raises(DisclosureRefused) as refusal:
        record_disclosure(person=ann, party=party(CEWE), actor=ann, **JOINING)

    assert refusal.value.rule == Rule.ACTOR_NOT_STAFF
