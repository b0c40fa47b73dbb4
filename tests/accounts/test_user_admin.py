"""Staff writes to a customer in the user admin go through the services that audit them: a
name change writes its audit rows, a password set or disabled writes its secret row, an
account made by staff records its details; the login address, active flag and deletion are
not open to the form. An erased account is never re-activated, by any path."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import AuditEvent, AuditSource, User
from accounts.services.privacy import (
    PrivacyError,
    deactivate_account,
    erase_account,
    reactivate_account,
    request_erasure,
)
from privacy_site.roles import CUSTOMER_SUPPORT
from tests.factories import StaffFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
NEW_PASSWORD = "another long password 42"


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann", last_name="Lee")


def staff_member(email: str, *codenames: str, roles=()) -> tuple[User, Client]:
    """Staff holding these permissions of the accounts app, and their logged-in browser."""
    user = StaffFactory(
        email=email, permissions=[f"accounts.{name}" for name in codenames], roles=roles
    )
    return user, logged_in(user)


@pytest.fixture
def support(db) -> tuple[User, Client]:
    """Customer support (who see names and contact details), allowed to change accounts."""
    return staff_member(
        "support@jessops.example",
        "view_user",
        "change_user",
        "view_profile",
        roles=[CUSTOMER_SUPPORT],
    )


@pytest.fixture
def erased(make_user, smtp) -> User:
    person = make_user("gone@example.com", first_name="Gone")
    request_erasure(user=person, actor=person)
    erase_account(user_id=person.pk)
    person.refresh_from_db()
    assert person.email == f"erased-{person.pk}@erased.invalid"
    return person


def change_url(user: User) -> str:
    return f"{USERS}{user.pk}/change/"


def form_data(client: Client, user: User, **changes) -> dict:
    """What the browser would post back from the change page, with ``changes`` applied."""
    page = client.get(change_url(user))
    assert page.status_code == 200
    form = page.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value is not None:
            data[name] = str(value)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    data.update(changes)
    return data


# --- Changing a customer ------------------------------------------------------------------------


def test_a_name_changed_by_staff_writes_audit_rows_with_the_staff_member(ann, support):
    staff, client = support

    response = client.post(change_url(ann), form_data(client, ann, first_name="Anne"))

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.first_name == "Anne"
    row = AuditEvent.objects.get(subject=ann, field="first_name")
    assert (row.old_value, row.new_value, row.actor, row.source) == (
        "Ann",
        "Anne",
        staff,
        AuditSource.STAFF,
    )
    assert not AuditEvent.objects.filter(subject=ann, field="last_name").exists()


def test_the_form_cannot_change_the_login_address_or_reactivate(ann, support):
    staff, client = support
    deactivate_account(user=ann, actor=staff, source=AuditSource.STAFF)

    response = client.post(
        change_url(ann),
        form_data(client, ann, email="mallory@example.com", is_active="on"),
    )

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"
    assert ann.is_active is False
    assert not AuditEvent.objects.filter(subject=ann, field="is_active", new_value="yes").exists()


def test_staff_without_the_change_permission_are_refused(ann):
    _, client = staff_member("viewer@jessops.example", "view_user", "view_profile")
    data = {"first_name": "Hacked", "last_name": "Lee"}

    assert client.post(change_url(ann), data).status_code == 403
    assert client.get(f"{USERS}{ann.pk}/password/").status_code == 403
    refused = client.post(
        f"{USERS}{ann.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert refused.status_code == 403
    ann.refresh_from_db()
    assert ann.first_name == "Ann" and ann.check_password("a long test password")
    assert not AuditEvent.objects.filter(subject=ann).exists()


def test_an_account_cannot_be_deleted_from_the_admin(ann, admin_client):
    assert admin_client.get(f"{USERS}{ann.pk}/delete/").status_code == 403
    assert admin_client.post(f"{USERS}{ann.pk}/delete/", {"post": "yes"}).status_code == 403
    actions = admin_client.get(USERS).context["action_form"].fields["action"].choices
    assert "delete_selected" not in dict(actions)
    bulk = admin_client.post(USERS, {"action": "delete_selected", "_selected_action": [ann.pk]})
    assert bulk.status_code in (200, 302)
    assert User.objects.filter(pk=ann.pk).exists()


# --- Passwords set by staff ---------------------------------------------------------------------


def test_a_password_set_by_staff_writes_the_secret_row(ann, support):
    staff, client = support

    response = client.post(
        f"{USERS}{ann.pk}/password/",
        {
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
            "set-password": "1",
        },
    )

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD)
    row = AuditEvent.objects.get(subject=ann, field="password")
    assert (row.is_secret, row.old_value, row.new_value, row.actor, row.source) == (
        True,
        None,
        None,
        staff,
        AuditSource.STAFF,
    )


def test_disabling_a_password_writes_the_secret_row(ann, support):
    staff, client = support

    response = client.post(
        f"{USERS}{ann.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )

    assert response.status_code == 302
    ann.refresh_from_db()
    assert not ann.has_usable_password()
    assert AuditEvent.objects.filter(subject=ann, field="password", actor=staff).count() == 1


def test_a_refused_password_form_writes_nothing(ann, support):
    _, client = support

    response = client.post(
        f"{USERS}{ann.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": "different", "usable_password": "true"},
    )

    assert response.status_code == 200
    assert not AuditEvent.objects.filter(subject=ann).exists()


# --- Accounts made by staff ---------------------------------------------------------------------


def test_an_account_added_by_staff_records_its_details():
    staff, client = staff_member("hr@jessops.example", "view_user", "add_user", "change_user")

    response = client.post(
        f"{USERS}add/",
        {
            "email": "New.Colleague@Jessops.example",
            "first_name": "Nina",
            "last_name": "",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    created = User.objects.get(email="new.colleague@jessops.example")
    assert created.check_password(NEW_PASSWORD)
    rows = {
        row.field: row
        for row in AuditEvent.objects.filter(subject=created, actor=staff, source=AuditSource.STAFF)
    }
    assert set(rows) == {"email", "first_name", "password"}
    assert rows["email"].new_value == "new.colleague@jessops.example"
    assert rows["password"].is_secret and rows["password"].new_value is None


# --- Erased accounts ----------------------------------------------------------------------------


def test_an_erased_account_is_shown_read_only_and_a_change_post_is_refused(erased, admin_client):
    page = admin_client.get(change_url(erased))

    assert page.status_code == 200
    assert 'name="first_name"' not in page.content.decode()
    refused = admin_client.post(
        change_url(erased),
        {"first_name": "Back", "last_name": "", "is_active": "on", "is_staff": "on"},
    )
    assert refused.status_code == 403
    erased.refresh_from_db()
    assert (erased.is_active, erased.is_staff, erased.first_name) == (False, False, "")


def test_an_erased_account_cannot_get_a_password_from_the_admin(erased, admin_client):
    response = admin_client.post(
        f"{USERS}{erased.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 403
    erased.refresh_from_db()
    assert not erased.has_usable_password()


def test_the_reactivate_action_refuses_an_erased_account(erased, ann, admin_client, admin_user):
    deactivate_account(user=ann, actor=admin_user, source=AuditSource.STAFF)

    response = admin_client.post(
        USERS,
        {"action": "reactivate_accounts", "_selected_action": [erased.pk, ann.pk]},
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    assert "1 reactivated." in texts
    assert "1 erased, which cannot be reactivated." in texts
    erased.refresh_from_db()
    ann.refresh_from_db()
    assert erased.is_active is False and ann.is_active is True


def test_an_account_being_erased_cannot_be_reactivated_either(ann, admin_client):
    request_erasure(user=ann, actor=ann)

    admin_client.post(USERS, {"action": "reactivate_accounts", "_selected_action": [ann.pk]})
    with pytest.raises(PrivacyError):
        reactivate_account(user=ann, actor=None)

    ann.refresh_from_db()
    assert ann.is_active is False


def test_the_database_refuses_an_active_erased_account(erased):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=erased.pk).update(is_active=True)

    erased.refresh_from_db()
    assert erased.is_active is False


# --- Email addresses ----------------------------------------------------------------------------


def test_email_addresses_are_shown_but_never_written_in_the_admin(ann, admin_client):
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.create(user=ann, email=ann.email, verified=False, primary=True)
    url = "/admin/account/emailaddress/"

    assert admin_client.get(url).status_code == 200
    assert admin_client.get(f"{url}add/").status_code == 403
    added = admin_client.post(
        f"{url}add/",
        {"user": ann.pk, "email": "mallory@example.com", "verified": "on", "primary": "on"},
    )
    changed = admin_client.post(
        f"{url}{address.pk}/change/",
        {"user": ann.pk, "email": "mallory@example.com", "verified": "on", "primary": "on"},
    )
    verified = admin_client.post(url, {"action": "make_verified", "_selected_action": [address.pk]})

    assert added.status_code == 403 and changed.status_code == 403
    assert verified.status_code in (200, 302)
    assert list(EmailAddress.objects.values_list("email", "verified")) == [
        ("ann@example.com", False)
    ]
