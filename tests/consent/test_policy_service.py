"""Publishing a policy version: the next number, exactly one current, bad input changes nothing."""

from __future__ import annotations

import datetime

import pytest

from consent.models import PolicyVersion
from consent.services import ConsentError, current_policy_version, publish_policy_version

pytestmark = pytest.mark.django_db

ChangeType = PolicyVersion.ChangeType


def publish(**overrides) -> PolicyVersion:
    fields = {
        "text": "Privacy policy\n\nWe keep your data safe.",
        "summary": "Clearer wording.",
        "change_type": ChangeType.EDITORIAL,
    }
    return publish_policy_version(**(fields | overrides))


def test_publishing_adds_the_next_number_and_makes_it_the_only_current_version():
    # given version 1 from the migration
    first = current_policy_version()
    assert first.number == 1
    # when
    second = publish(effective_date=datetime.date(2030, 1, 2))
    third = publish(change_type=ChangeType.PRACTICE_CHANGE)
    # then
    assert (second.number, third.number) == (2, 3)
    assert second.effective_date == datetime.date(2030, 1, 2)
    assert list(PolicyVersion.objects.filter(is_current=True)) == [third]
    assert current_policy_version() == third


def test_publishing_leaves_earlier_versions_as_they_were():
    first = current_policy_version()
    publish(text="Something else entirely.")
    first_again = PolicyVersion.objects.get(number=1)
    assert first_again.text == first.text
    assert first_again.summary == first.summary
    assert first_again.is_current is False


def test_an_effective_date_defaults_to_today():
    from django.utils import timezone

    assert publish().effective_date == timezone.localdate()


@pytest.mark.parametrize(
    "overrides",
    [
        {"change_type": "cosmetic"},
        {"change_type": ""},
        {"text": ""},
        {"text": "  \n\t "},
        {"summary": " "},
    ],
    ids=["unknown-change-type", "no-change-type", "empty-text", "blank-text", "blank-summary"],
)
def test_publishing_refuses_bad_input_and_changes_nothing(overrides):
    # given
    before = list(PolicyVersion.objects.values_list("number", "is_current"))
    # when / then
    with pytest.raises(ConsentError):
        publish(**overrides)
    assert list(PolicyVersion.objects.values_list("number", "is_current")) == before
    assert current_policy_version().number == 1
