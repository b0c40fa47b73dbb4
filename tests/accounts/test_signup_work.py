"""Signing up with a taken address does the same work as with a new one (a password hash, an
outbox row, the same answer), so the time it takes does not tell who has an account. The time
itself is measured by `make bench`, not asserted here."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from communications.models import Delivery

PASSWORD = "correct horse battery staple 9"

pytestmark = pytest.mark.usefixtures("clean_cache")


class CountingHasher(MD5PasswordHasher):
    """The test suite's fast hasher, counting the passwords it hashes."""

    algorithm = "counting_md5"
    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


def sign_up(email: str):
    return Client().post(
        "/accounts/signup/",
        {
            "first_name": "Nia",
            "last_name": "Jones",
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


def work_of(email: str, hasher) -> tuple[int, int, int, str]:
    hasher.calls = 0
    before = Delivery.objects.count()
    response = sign_up(email)
    return (
        hasher.calls,
        Delivery.objects.count() - before,
        response.status_code,
        response["Location"],
    )


def test_a_taken_address_does_the_same_work_as_a_new_one(db, make_user, counting_hasher):
    make_user("ann@example.com")

    new = work_of("nia@example.com", counting_hasher)
    taken = work_of("ann@example.com", counting_hasher)

    # one password hash, one email in the outbox, the same answer
    assert new == taken == (1, 1, 302, new[3])
