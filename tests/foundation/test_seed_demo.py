"""seed_demo: a working demo superuser and customers; safe to run again; never in production."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from celery.result import AsyncResult
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from accounts.models import User

ADMIN_EMAIL = "admin@jessops.example"


def request():
    """A login request: authenticate() is always given one (django-axes counts by it)."""
    return RequestFactory().post("/accounts/login/")


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    match = re.search(r"Password:\s+(\S+)", output)
    assert match, output
    return match.group(1)


def customers() -> int:
    return User.objects.filter(email__endswith="@customers.example").count()


@pytest.mark.django_db
def test_seed_demo_creates_a_superuser_whose_printed_password_works():
    # when
    output = seed("--no-ping")
    # then
    assert f"Email:     {ADMIN_EMAIL}" in output
    admin = authenticate(request(), email=ADMIN_EMAIL, password=printed_password(output))
    assert admin is not None
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.is_active


@pytest.mark.django_db
def test_seed_demo_prints_the_admin_url():
    output = seed("--no-ping")
    assert "/admin/" in output


@pytest.mark.django_db
def test_seed_demo_creates_the_default_five_customers():
    output = seed("--no-ping")
    assert customers() == 5
    assert "Customers: 5 created" in output


@pytest.mark.django_db
@pytest.mark.parametrize("count", [0, 1, 12])
def test_seed_demo_creates_as_many_customers_as_asked(count):
    seed("--users", str(count), "--no-ping")
    assert customers() == count


@pytest.mark.django_db
def test_demo_customers_cannot_be_logged_into_with_a_guessable_password():
    seed("--users", "3", "--no-ping")
    customer = User.objects.filter(email__endswith="@customers.example").first()
    assert customer.has_usable_password()
    assert authenticate(request(), email=customer.email, password="") is None
    assert authenticate(request(), email=customer.email, password="password") is None
    assert not customer.is_staff


@pytest.mark.django_db
def test_seed_demo_run_twice_duplicates_nothing_and_resets_the_admin_password():
    # given
    first = seed("--users", "7", "--no-ping")
    # when
    second = seed("--users", "7", "--no-ping")
    # then: nobody was added the second time
    assert customers() == 7
    assert User.objects.filter(email__iexact=ADMIN_EMAIL).count() == 1
    assert "Customers: 0 created, 7 in the demo set" in second
    # and only the newly printed password works
    assert printed_password(first) != printed_password(second)
    assert authenticate(request(), email=ADMIN_EMAIL, password=printed_password(first)) is None
    assert authenticate(request(), email=ADMIN_EMAIL, password=printed_password(second)) is not None


@pytest.mark.django_db
def test_seed_demo_restores_a_demoted_demo_admin():
    # given a demo admin someone deactivated and demoted
    seed("--no-ping")
    User.objects.filter(email=ADMIN_EMAIL).update(
        is_active=False, is_staff=False, is_superuser=False
    )
    # when
    output = seed("--no-ping")
    # then
    admin = authenticate(request(), email=ADMIN_EMAIL, password=printed_password(output))
    assert admin is not None
    assert admin.is_staff and admin.is_superuser


@pytest.mark.django_db
def test_seed_demo_adds_only_the_missing_customers_when_asked_for_more():
    seed("--users", "3", "--no-ping")
    output = seed("--users", "5", "--no-ping")
    assert customers() == 5
    assert "Customers: 2 created, 5 in the demo set" in output


@pytest.mark.django_db
def test_seed_demo_is_refused_in_production(settings):
    # given
    settings.PRODUCTION = True
    # when / then
    with pytest.raises(CommandError, match="production"):
        seed("--no-ping")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_seed_demo_rejects_a_negative_number_of_users():
    with pytest.raises(CommandError, match="--users"):
        seed("--users", "-1", "--no-ping")
    assert not User.objects.exists()


@pytest.mark.worker
def test_seed_demo_queues_a_ping_the_worker_answers(celery_worker):
    # when
    output = seed("--users", "1")
    # then: the printed task id is a ping the real worker ran
    match = re.search(r"ping task for the worker \(id ([0-9a-f-]{36})\)", output)
    assert match, output
    assert AsyncResult(match.group(1)).get(timeout=30) == "pong"


@pytest.mark.django_db
def test_seed_demo_adds_one_draft_demo_campaign_however_often_it_runs():
    from communications.models import Campaign

    output = seed("--no-ping")
    seed("--no-ping")

    [campaign] = Campaign.objects.all()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.kind == "newsletter"
    assert f"/admin/communications/campaign/{campaign.pk}/change/" in output
