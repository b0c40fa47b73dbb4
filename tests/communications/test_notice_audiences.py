"""Opted in to communications, opted out of all communication, gone: the definitions the
policy-change notices use (docs/CONSENT.md), over people in every state."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from communications.audiences import NoticeAudience, in_audience, notice_subjects
from consent.selectors import (
    gone_subjects,
    opted_in_to_communications,
    opted_out_of_all_communication,
)
from tests.communications.people import (
    GONE,
    OPTED_IN,
    OPTED_OUT_OF_ALL,
    STATES,
    names,
)

pytestmark = pytest.mark.django_db


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def test_opted_in_means_an_optional_purpose_granted_now(people):
    # a deactivated account keeps its grants (it may come back); erasure withdraws them
    assert names(people, ids(opted_in_to_communications())) == OPTED_IN | {"deactivated"}


def test_opted_out_of_all_needs_a_no_and_nothing_granted(people):
    # the ledger knows every "no" but a complaint about an address that had nothing to
    # withdraw; the communications app adds that one from the suppression list
    by_ledger = OPTED_OUT_OF_ALL - {"complained_never_asked"} | {"erased"}
    assert names(people, ids(opted_out_of_all_communication())) == by_ledger
    present = [user for name, user in people.items() if name not in GONE]
    reached = in_audience(NoticeAudience.NOT_OPTED_OUT, present)
    assert names(people, {u.pk for u in present} - reached) == OPTED_OUT_OF_ALL


def test_never_asked_is_neither_opted_in_nor_opted_out(people):
    never = get_user_model().objects.filter(pk=people["never_asked"].pk)
    assert not opted_in_to_communications(never).exists()
    assert not opted_out_of_all_communication(never).exists()


def test_gone_is_deactivated_or_erased(people):
    assert names(people, ids(gone_subjects())) == GONE


def test_a_yes_after_a_no_is_opted_in_again(people):
    from consent.services import ConsentSource, grant_consent

    withdrew = people["withdrew_everything"]
    grant_consent(subject=withdrew, purpose="surveys", source=ConsentSource.PREFERENCE_CENTRE)
    assert withdrew.pk in ids(opted_in_to_communications())
    assert withdrew.pk not in ids(opted_out_of_all_communication())


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        (NoticeAudience.OPTED_IN, OPTED_IN),
        (
            NoticeAudience.NOT_OPTED_OUT,
            set(STATES) - GONE - {"withdrew_everything", "one_click", "complained"},
        ),
    ],
)
def test_notice_audiences_by_the_ledger_leave_out_the_gone(people, audience, expected):
    # the walk of the audience by the ledger; complaints and address rules are the gate's
    assert names(people, ids(notice_subjects(audience))) == expected
