"""Staff sign-in: staff who can see people's data set up an authenticator app before the admin
lets them in, give its code at every log-in, lose an idle session after 30 minutes, and a
change of password or second factor ends their other sessions. Every step is recorded."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from staff_access.models import StaffSignInEvent
from staff_access.sessions import LAST_SEEN
from tests.factories import TEST_PASSWORD, StaffFactory, permissions_named
from tests.harness.http import logged_in
from tests.harness.totp import code_for

Kind = StaffSignInEvent.Kind
LOGIN = "/accounts/login/"
ADMIN = "/admin/"
CUSTOMERS = "/admin/accounts/user/"

pytestmark = pytest.mark.usefixtures("clean_cache")


def kinds(user) -> list[str]:
    return list(
        StaffSignInEvent.objects.filter(staff=user).order_by("id").values_list("kind", flat=True)
    )


@pytest.fixture
def new_agent(db):
    """Customer Support, just given an account: no authenticator app yet."""
    group, _ = Group.objects.get_or_create(name="Customer Support")
    group.permissions.set(permissions_named(["accounts.view_user", "accounts.change_user"]))
    agent = StaffFactory(email="new@jessops.example", verified=True, second_factor=False)
    agent.groups.add(group)
    return agent


def log_in_with_password(client: Client, user, next_url: str = ADMIN):
    return client.post(f"{LOGIN}?next={next_url}", {"login": user.email, "password": TEST_PASSWORD})


def confirm_password(client: Client) -> None:
    """allauth asks for the password again before any change to the second factor."""
    response = client.post("/accounts/reauthenticate/", {"password": TEST_PASSWORD})
    assert response.status_code == 302


def test_the_admin_refuses_staff_without_a_second_factor_until_they_set_one_up(
    new_agent, django_capture_on_commit_callbacks
):
    client = Client()
    assert log_in_with_password(client, new_agent).status_code == 302

    # the admin sends them to set up an authenticator app, and says why
    refused = client.get(CUSTOMERS)
    assert refused.status_code == 302
    assert refused["Location"].startswith("/accounts/2fa/totp/activate/?next=")
    assert client.get(refused["Location"])["Location"].startswith("/accounts/reauthenticate/")
    confirm_password(client)
    setup = client.get(refused["Location"])
    assert setup.status_code == 200
    assert "must use an authenticator app" in setup.content.decode()
    assert Kind.ADMIN_REFUSED in kinds(new_agent)

    # when they scan the secret and type the code their app shows
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', setup.content.decode())
    secret = secret or re.search(r'value="([A-Z2-7]{32})"', setup.content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/accounts/2fa/totp/activate/", {"code": code_for(secret.group(1))})

    # then the admin lets them in
    assert done.status_code == 302
    assert client.get(CUSTOMERS).status_code == 200
    assert Kind.SECOND_FACTOR_ADDED in kinds(new_agent)


def test_a_wrong_code_does_not_set_it_up(new_agent):
    client = Client()
    log_in_with_password(client, new_agent)
    confirm_password(client)
    client.get("/accounts/2fa/totp/activate/")

    response = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})

    assert response.status_code == 200
    assert client.get(CUSTOMERS).status_code == 302


def test_staff_with_an_authenticator_give_its_code_to_log_in(superuser):
    client = Client()

    # the password alone does not log them in
    response = log_in_with_password(client, superuser)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get(ADMIN).status_code == 302

    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    assert Kind.SECOND_FACTOR_FAILED in kinds(superuser)

    right = client.post("/accounts/2fa/authenticate/", {"code": code_for(superuser.totp_secret)})
    assert right.status_code == 302 and right["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200


def test_staff_who_see_no_ones_data_are_not_asked_for_one(db):
    campaigns_only = StaffFactory(
        email="mia@jessops.example",
        second_factor=False,
        permissions=["communications.view_campaign", "communications.add_campaign"],
    )

    assert logged_in(campaigns_only).get("/admin/communications/campaign/").status_code == 200


# --- Idle sessions -----------------------------------------------------------------------------


def idle_for(client: Client, seconds: float) -> None:
    session = client.session
    session[LAST_SEEN] = time.time() - seconds
    session.save()


def test_a_staff_session_ends_after_30_idle_minutes(superuser, customer):
    client = logged_in(superuser)
    assert client.session.get_expiry_age() == 30 * 60
    idle_for(client, 29 * 60)
    assert client.get(ADMIN).status_code == 200

    idle_for(client, 31 * 60)
    response = client.get(CUSTOMERS)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")
    assert "_auth_user_id" not in client.session
    assert kinds(superuser)[-1] == Kind.IDLE_EXPIRED


def test_a_customer_session_lasts_longer(customer, settings):
    client = logged_in(customer)
    idle_for(client, 31 * 60)

    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert client.get("/accounts/profile/").status_code == 200


# --- Other sessions end ------------------------------------------------------------------------


def log_in_with_code(client: Client, user) -> None:
    log_in_with_password(client, user)
    response = client.post("/accounts/2fa/authenticate/", {"code": code_for(user.totp_secret)})
    assert response.status_code == 302


def test_new_recovery_codes_end_the_staff_members_other_sessions(
    superuser, django_capture_on_commit_callbacks
):
    laptop = logged_in(superuser)
    assert laptop.get(ADMIN).status_code == 200
    desk = Client()
    log_in_with_code(desk, superuser)

    # when, at the desk, they make new recovery codes (a reset of their second factor)
    confirm_password(desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post("/accounts/2fa/recovery-codes/generate/")
    assert response.status_code == 302

    # then the laptop's session is over, and the desk's goes on
    ended = laptop.get(ADMIN)
    assert ended.status_code == 302 and ended["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in laptop.session
    assert desk.get(ADMIN).status_code == 200
    assert kinds(superuser)[-2:] in (
        [Kind.SECOND_FACTOR_ADDED, Kind.OTHER_SESSIONS_ENDED],
        [Kind.SECOND_FACTOR_RESET, Kind.OTHER_SESSIONS_ENDED],
    )


def test_a_password_change_ends_the_other_sessions_and_is_recorded(superuser):
    laptop = logged_in(superuser)
    desk = Client()
    log_in_with_code(desk, superuser)

    response = desk.post(
        "/accounts/password/change/",
        {
            "oldpassword": TEST_PASSWORD,
            "password1": "a brand new staff password 7",
            "password2": "a brand new staff password 7",
        },
    )

    assert response.status_code == 302
    assert laptop.get(ADMIN).status_code == 302
    assert Kind.PASSWORD_CHANGED in kinds(superuser)
    assert Kind.OTHER_SESSIONS_ENDED in kinds(superuser)


def test_the_sign_in_events_cannot_be_changed_in_the_admin(superuser):
    client = logged_in(superuser)
    assert client.get("/admin/staff_access/staffsigninevent/").status_code == 200
    assert client.get("/admin/staff_access/staffsigninevent/add/").status_code == 403


def test_a_superuser_removing_a_lost_phones_app_records_it_and_ends_the_staff_members_sessions(
    superuser,
):
    from allauth.mfa.models import Authenticator

    # given a member of staff signed in on a laptop (which may be the thief's now)
    agent = StaffFactory(email="agent@jessops.example", permissions=["accounts.view_user"])
    laptop = logged_in(agent)
    assert laptop.get(CUSTOMERS).status_code == 200
    [app] = Authenticator.objects.filter(user=agent)

    # when a superuser removes their authenticator in the admin
    time.sleep(0.01)  # the removal comes after the laptop's sign-in
    response = logged_in(superuser).post(
        f"/admin/mfa/authenticator/{app.pk}/delete/", {"post": "yes"}
    )

    # then it is recorded as the staff member's own removal would be, and the laptop is out
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=agent).exists()
    assert kinds(agent)[-2:] == [Kind.SECOND_FACTOR_REMOVED, Kind.OTHER_SESSIONS_ENDED]
    removed = StaffSignInEvent.objects.filter(staff=agent, kind=Kind.SECOND_FACTOR_REMOVED).get()
    assert f"removed in the admin by {superuser.email}" in removed.detail
    ended = laptop.get(CUSTOMERS)
    assert ended.status_code == 302 and ended["Location"].startswith(LOGIN)
