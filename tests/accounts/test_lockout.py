"""Password guessing is limited the same way on every page that takes a password (django-axes):
per account and per client address, with one clear page, an audit row for every failure, and
nothing that tells a locked known account from an unknown one. Also: password changes and
resets write their audit row, and dead verification and reset links answer 404."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client

from accounts.models import AuditEvent
from communications.models import Delivery
from tests.factories import TEST_PASSWORD, SuperuserFactory
from tests.harness.http import text

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/?next=/admin/"
NEW_PASSWORD = "correct horse battery staple 9"

pytestmark = pytest.mark.usefixtures("clean_cache")


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", verified=True)


@pytest.fixture
def boss(db):
    return SuperuserFactory(email="boss@example.com")


def customer_login(client: Client, email: str, password: str):
    return client.post(LOGIN, {"login": email, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def without_tokens(page) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text(page))


# --- Lockout -----------------------------------------------------------------------------------


def test_staff_log_in_to_the_admin_through_the_site_login_which_locks_after_the_limit(
    boss, settings
):
    client = Client()
    # the admin's login page is the site's (one lockout, and the second factor asked)
    for method in (client.get, client.post):
        response = method(ADMIN_LOGIN)
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next=%2Fadmin%2F"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert customer_login(client, "boss@example.com", "wrong password 1").status_code == 200
    # the failure that reaches the limit is answered with the lockout page
    assert customer_login(client, "boss@example.com", "wrong password 1").status_code == 429

    response = customer_login(client, "boss@example.com", TEST_PASSWORD)

    assert response.status_code == 429
    assert "Logging in is paused" in text(response)
    assert int(response["Retry-After"]) > 0
    assert not logged_in(client)
    # every failure is kept for staff
    assert AccessFailureLog.objects.filter(username="boss@example.com").count() >= (
        settings.AXES_FAILURE_LIMIT
    )


def test_the_customer_login_locks_the_same_way(ann, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert customer_login(client, "ann@example.com", "wrong password 1").status_code == 200
    assert customer_login(client, "ann@example.com", "wrong password 1").status_code == 429

    response = customer_login(client, "ann@example.com", TEST_PASSWORD)

    assert response.status_code == 429
    assert "Logging in is paused" in text(response)
    assert not logged_in(client)


def test_the_account_is_locked_from_every_address_not_only_the_guessing_one(ann, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        # each guess from a different address: only the per-account count can stop this
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(
            LOGIN, {"login": "Ann@Example.com", "password": "wrong password 1"}
        )

    owner = Client(REMOTE_ADDR="203.0.113.7")
    assert customer_login(owner, "ann@example.com", TEST_PASSWORD).status_code == 429
    assert not logged_in(owner)


def test_a_client_address_is_locked_across_accounts(ann, make_user, settings):
    guesser = Client(REMOTE_ADDR="198.51.100.9")
    for n in range(settings.AXES_FAILURE_LIMIT):
        customer_login(guesser, f"someone{n}@example.com", "wrong password 1")

    assert customer_login(guesser, "ann@example.com", TEST_PASSWORD).status_code == 429
    # another client logs in to the same account as usual
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert customer_login(other, "ann@example.com", TEST_PASSWORD).status_code == 302
    assert logged_in(other)


def test_a_locked_known_account_looks_exactly_like_a_locked_unknown_one(ann, settings):
    known, unknown = Client(REMOTE_ADDR="198.51.100.1"), Client(REMOTE_ADDR="198.51.100.2")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        customer_login(known, "ann@example.com", "wrong password 1")
        customer_login(unknown, "nobody@example.com", "wrong password 1")

    one = customer_login(known, "ann@example.com", "wrong password 1")
    other = customer_login(unknown, "nobody@example.com", "wrong password 1")

    assert one.status_code == other.status_code == 429
    assert without_tokens(one) == without_tokens(other)
    assert "ann@" not in text(one)


def test_failures_below_the_limit_are_forgotten_by_a_successful_login(ann, settings):
    client = Client(REMOTE_ADDR="198.51.100.3")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        customer_login(client, "ann@example.com", "wrong password 1")

    assert customer_login(client, "ann@example.com", TEST_PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    # the count started again: one more wrong password does not lock
    assert customer_login(client, "ann@example.com", "wrong password 1").status_code == 200
    assert not AccessAttempt.objects.filter(
        username="ann@example.com", failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).exists()


def test_logging_in_to_ones_own_account_keeps_the_count_of_guesses_at_others(
    ann, make_user, settings
):
    # given a guesser with an account of their own, one guess short of locking Ann's account
    make_user("mallory@example.com", verified=True)
    guesser = Client(REMOTE_ADDR="198.51.100.10")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        customer_login(guesser, "ann@example.com", "wrong password 1")

    # when they log in to their own account from the same address, and out again
    assert customer_login(guesser, "mallory@example.com", TEST_PASSWORD).status_code == 302
    guesser.post("/accounts/logout/")

    # then their guesses at Ann still count: the next one locks
    assert customer_login(guesser, "ann@example.com", "wrong password 1").status_code == 429


def test_an_ipv6_client_is_counted_by_its_network(ann, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        customer_login(
            Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}"), f"x{n}@example.com", "wrong 1"
        )

    # another address in the same /64 is the same client
    same_network = Client(REMOTE_ADDR="2001:db8:1:2:ffff::1")
    assert customer_login(same_network, "ann@example.com", TEST_PASSWORD).status_code == 429
    # another network is not
    elsewhere = Client(REMOTE_ADDR="2001:db8:1:3::1")
    assert customer_login(elsewhere, "ann@example.com", TEST_PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_the_visitor_is_counted_not_the_proxy(ann, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20").post(
            LOGIN, {"login": f"y{n}@example.com", "password": "wrong 1"}
        )

    # the guessing visitor is paused; another visitor through the same proxy is not
    guesser = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20")
    other = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.20")
    assert customer_login(guesser, "ann@example.com", TEST_PASSWORD).status_code == 429
    assert customer_login(other, "ann@example.com", TEST_PASSWORD).status_code == 302


def test_the_address_typed_is_not_written_to_the_logs(ann, settings, caplog):
    caplog.set_level("INFO", logger="axes")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        customer_login(Client(REMOTE_ADDR="198.51.100.11"), "ann@example.com", "wrong 1")

    assert "AXES" in caplog.text
    assert "ann@example.com" not in caplog.text
    # staff still find it in the attempt, whose kept form data has neither it nor the password
    attempt = AccessAttempt.objects.get(username="ann@example.com")
    assert "ann@example.com" not in attempt.post_data and "wrong 1" not in attempt.post_data


def test_staff_can_see_lockouts_in_the_admin(boss, ann, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        customer_login(Client(REMOTE_ADDR="198.51.100.4"), "ann@example.com", "wrong 1")
    staff = Client()
    staff.force_login(boss)

    page = staff.get("/admin/axes/accessattempt/")

    assert page.status_code == 200
    assert "ann@example.com" in text(page)


# --- Password changes and resets are audited ----------------------------------------------------


def test_a_password_change_through_the_page_writes_the_audit_row(ann):
    client = Client()
    client.force_login(ann)

    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": TEST_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    row = AuditEvent.objects.get(subject=ann, field="password")
    assert row.actor == ann
    assert row.is_secret
    assert NEW_PASSWORD not in f"{row.old_value}{row.new_value}"


def test_a_refused_password_change_writes_no_audit_row(ann):
    client = Client()
    client.force_login(ann)

    client.post(
        "/accounts/password/change/",
        {"oldpassword": "not it", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert not AuditEvent.objects.filter(subject=ann, field="password").exists()


def test_a_password_reset_through_the_emailed_link_writes_the_audit_row(ann):
    client = Client()
    client.post("/accounts/password/reset/", {"email": "ann@example.com"})
    body = Delivery.objects.get(user=ann).context["body"]
    link = next(word for word in body.split() if "/password/reset/key/" in word)
    path = re.sub(r"^https?://[^/]+", "", link)

    form = client.get(path, follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(subject=ann, field="password", actor=ann).count() == 1


def test_a_reset_clears_the_accounts_lockout(ann, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        customer_login(Client(REMOTE_ADDR="198.51.100.5"), "ann@example.com", "wrong 1")
    client = Client(REMOTE_ADDR="203.0.113.9")
    assert customer_login(client, "ann@example.com", TEST_PASSWORD).status_code == 429

    client.post("/accounts/password/reset/", {"email": "ann@example.com"})
    body = Delivery.objects.get(user=ann).context["body"]
    link = next(word for word in body.split() if "/password/reset/key/" in word)
    form = client.get(re.sub(r"^https?://[^/]+", "", link), follow=True)
    client.post(form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert customer_login(Client(), "ann@example.com", NEW_PASSWORD).status_code == 302


# --- Dead links ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/confirm-email/not-a-real-key/",
        "/accounts/password/reset/key/1-not-a-real-token/",
        "/accounts/password/reset/key/zz-set-password/",
    ],
)
def test_a_dead_verification_or_reset_link_answers_404_with_a_clear_page(db, client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert "<html" in response.content.decode()
    body = text(response).lower()
    assert "invalid" in body or "expired" in body or "bad" in body


def test_posting_to_a_dead_verification_link_answers_404_and_changes_nothing(db, client, ann):
    response = client.post("/accounts/confirm-email/not-a-real-key/")

    assert response.status_code == 404
    assert EmailAddress.objects.filter(user=ann, verified=True).count() == 1
