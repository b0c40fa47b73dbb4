"""The custom user model: the email address is the login, whatever its case."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import models as auth_models
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from accounts.models import User
from tests.factories import SuperuserFactory

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = (
    "accounts",
    "api_keys",
    "communications",
    "consent",
    "privacy_site",
    "sharing",
    "surveys",
)


def request():
    """A login request: authenticate() is always given one (django-axes counts by it)."""
    return RequestFactory().post("/accounts/login/")


def test_get_user_model_is_the_accounts_user():
    assert get_user_model() is User
    assert User.USERNAME_FIELD == "email"
    assert auth_models.User._meta.swapped == "accounts.User"


def test_no_installed_model_points_at_auth_user():
    # given every relation of every installed model, third-party apps included
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.get_fields()
        if field.is_relation
        and field.related_model is not None
        and field.related_model is not User
        and field.related_model._meta.label_lower == "auth.user"
    ]
    # then
    assert offenders == []


def test_no_first_party_code_or_migration_names_auth_user():
    # Models must point at users through settings.AUTH_USER_MODEL, never at auth.User.
    forbidden = re.compile(
        r"""["']auth\.user["']|from django\.contrib\.auth\.models import [^\n]*\bUser\b""",
        re.IGNORECASE,
    )
    offenders = [
        str(path.relative_to(ROOT))
        for package in FIRST_PARTY
        for path in (ROOT / package).rglob("*.py")
        if forbidden.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
def test_create_user_stores_the_email_in_lower_case():
    user = User.objects.create_user("Ada@Example.COM", "a-long-password-1")
    assert user.email == "ada@example.com"
    assert user.check_password("a-long-password-1")
    assert not user.is_staff
    assert not user.is_superuser
    assert user.is_active


@pytest.mark.django_db
def test_create_user_refuses_an_email_already_taken_in_another_case():
    # given
    User.objects.create_user("ada@example.com", "a-long-password-1")
    # when / then
    with pytest.raises((IntegrityError, ValidationError)), transaction.atomic():
        User.objects.create_user("Ada@Example.com", "a-long-password-2")
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_email_differing_only_in_case():
    # given a row saved without the manager's lower-casing
    User(email="ada@example.com").save()
    # when / then: the functional unique constraint on lower(email) holds in the database itself
    with pytest.raises(IntegrityError), transaction.atomic():
        User(email="ADA@example.com").save()


@pytest.mark.django_db
def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", "a-long-password-1")


@pytest.mark.django_db
def test_create_user_without_a_password_gives_an_unusable_password():
    # given a subscriber who has not claimed an account
    user = User.objects.create_user("sub@example.com", password=None)
    # then
    assert not user.has_usable_password()
    assert authenticate(request(), email="sub@example.com", password="") is None


@pytest.mark.django_db
def test_create_superuser_makes_a_staff_superuser():
    admin = User.objects.create_superuser("Boss@Jessops.example", "a-long-password-1")
    assert admin.email == "boss@jessops.example"
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.is_active
    assert admin.check_password("a-long-password-1")


@pytest.mark.django_db
def test_create_superuser_cannot_be_asked_for_a_non_staff_superuser():
    admin = User.objects.create_superuser("boss@jessops.example", "pw-1234567", is_staff=False)
    assert admin.is_staff
    assert admin.is_superuser


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"])
def test_authenticate_by_email_ignores_case(typed):
    # given
    user = User.objects.create_user("Ada@example.com", "a-long-password-1")
    # when
    authenticated = authenticate(request(), email=typed, password="a-long-password-1")
    # then
    assert authenticated == user


@pytest.mark.django_db
def test_authenticate_refuses_a_wrong_password():
    User.objects.create_user("ada@example.com", "a-long-password-1")
    assert authenticate(request(), email="ada@example.com", password="wrong-password") is None


@pytest.mark.django_db
def test_authenticate_refuses_a_deactivated_account():
    User.objects.create_user("ada@example.com", "a-long-password-1", is_active=False)
    assert authenticate(request(), email="ada@example.com", password="a-long-password-1") is None


@pytest.mark.django_db
def test_staff_log_in_for_the_admin_with_the_email_in_another_case(client):
    # given
    SuperuserFactory(email="boss@jessops.example", password="a-long-password-1", verified=True)
    # when
    response = client.post(
        "/accounts/login/?next=/admin/",
        {"login": "BOSS@Jessops.Example", "password": "a-long-password-1"},
    )
    # then the password is right, and the second factor comes next
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"


@pytest.mark.django_db
def test_the_login_refuses_staff_a_wrong_password(client):
    SuperuserFactory(email="boss@jessops.example", password="a-long-password-1", verified=True)
    response = client.post(
        "/accounts/login/?next=/admin/",
        {"login": "boss@jessops.example", "password": "not-the-password"},
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_user_str_and_names():
    user = User(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    assert str(user) == "ada@example.com"
    assert user.get_full_name() == "Ada Lovelace"
    assert user.get_short_name() == "Ada"
    assert User(email="x@example.com").get_short_name() == "x@example.com"
