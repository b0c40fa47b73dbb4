"""The never-verified accounts a retention batch chose are asked about again, under lock,
before each is erased: one verified (or put under a legal hold) since it was chosen is kept.
The job calls ``forget_unverified_accounts`` with the accounts it chose and locked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.retention import forget_unverified_accounts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def chosen_account(email: str) -> int:
    """An account never verified, opened 40 days ago: due under the 30-day rule."""
    user = UserFactory(email=email, verified=False)
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=40))
    return user.pk


def erased(pk: int) -> bool:
    return User.objects.get(pk=pk).erased_at is not None


def test_an_account_still_unverified_is_erased():
    pk = chosen_account("late@example.com")

    assert forget_unverified_accounts([pk]) == 1
    assert erased(pk)


def test_an_account_verified_after_it_was_chosen_is_kept():
    late, verified = chosen_account("late@example.com"), chosen_account("just@example.com")
    # the verification link is followed between the job's choice and the erasure
    EmailAddress.objects.filter(user_id=verified).update(verified=True)

    assert forget_unverified_accounts([late, verified]) == 1
    assert erased(late) and not erased(verified)
    assert EmailAddress.objects.get(user_id=verified).verified


def test_an_account_put_under_a_legal_hold_after_it_was_chosen_is_kept(hold):
    pk = chosen_account("disputed@example.com")
    hold(User.objects.get(pk=pk))

    assert forget_unverified_accounts([pk]) == 0
    assert not erased(pk)
