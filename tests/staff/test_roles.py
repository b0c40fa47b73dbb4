"""The staff roles: the groups and exactly their permissions, setting them again, who may put
someone in a role, the superuser's warning, and Customer Support recording a preference change
in a customer's name."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.services import deactivate_account
from accounts.services.roles import sync_staff_roles
from accounts.staff_roles import ROLE_PERMISSIONS
from communications.kinds import MessageKind
from communications.models import Delivery
from consent.models import ConsentEvent, ConsentSource
from privacy_site.roles import (
    CUSTOMER_SUPPORT,
    DISPATCH,
    MARKETING,
    PRIVACY_OFFICER,
    STAFF_ROLES,
    WEB_SALES,
    roles_of,
)
from tests.factories import StaffFactory, UserFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("accounts.migrations.0007_staff_roles")
WARNING = "You are signed in as a superuser."


def permissions_of(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


def test_each_role_is_a_group_holding_exactly_the_permissions_of_its_job():
    sync_staff_roles()

    groups = {group.name: permissions_of(group) for group in Group.objects.all()}

    assert set(STAFF_ROLES) <= set(groups)
    for role in STAFF_ROLES:
        assert groups[role] == set(ROLE_PERMISSIONS[role]), role
    assert groups[DISPATCH] == groups[WEB_SALES] == {"sharing.view_order"}
    assert "consent.add_consentevent" not in groups[WEB_SALES]
    assert not any(p.startswith(("accounts.", "sharing.")) for p in groups[MARKETING])


def test_the_migrations_created_the_roles_as_the_table_defines_them():
    """What a new database holds after ``migrate`` alone (0007 created the roles, later
    migrations added the permissions of newer models), before any ``staff_roles`` run."""
    groups = {group.name: permissions_of(group) for group in Group.objects.all()}

    for role in STAFF_ROLES:
        assert groups[role] == set(ROLE_PERMISSIONS[role]), role
    first = {role: set(perms) for role, perms in MIGRATION.ROLES.items()}
    assert first[PRIVACY_OFFICER] < groups[PRIVACY_OFFICER]


def test_the_command_sets_a_group_edited_by_hand_back_to_its_job(capsys):
    sync_staff_roles()
    marketing = Group.objects.get(name=MARKETING)
    marketing.permissions.clear()

    call_command("staff_roles")

    assert permissions_of(marketing) == set(ROLE_PERMISSIONS[MARKETING])
    assert "Marketing: " in capsys.readouterr().out


def test_a_member_holds_the_roles_of_their_groups_only_while_active_staff():
    member = StaffFactory(roles=[CUSTOMER_SUPPORT, MARKETING])
    customer = UserFactory(roles=[PRIVACY_OFFICER])  # not staff: no role counts

    assert roles_of(member) == {CUSTOMER_SUPPORT, MARKETING}
    assert roles_of(customer) == frozenset()
    assert member.has_perm("consent.add_consentevent")


def test_only_superusers_are_warned_on_every_admin_page(superuser):
    officer = StaffFactory(roles=[PRIVACY_OFFICER])

    for url in ("/admin/", "/admin/accounts/user/", "/admin/consent/consentevent/"):
        assert WARNING in logged_in(superuser).get(url).content.decode()
        assert WARNING not in logged_in(officer).get(url).content.decode()


def test_a_superuser_puts_a_member_of_staff_in_a_role(superuser):
    sync_staff_roles()
    clerk = StaffFactory(email="clerk@jessops.example", first_name="Clem")
    page = logged_in(superuser)
    data = {
        "first_name": "Clem",
        "last_name": "",
        "is_staff": "on",
        "groups": [str(Group.objects.get(name=DISPATCH).pk)],
        "profile-TOTAL_FORMS": "0",
        "profile-INITIAL_FORMS": "0",
        "address_verifications-TOTAL_FORMS": "0",
        "address_verifications-INITIAL_FORMS": "0",
    }

    response = page.post(f"/admin/accounts/user/{clerk.pk}/change/", data)

    assert response.status_code == 302
    assert roles_of(type(clerk).objects.get(pk=clerk.pk)) == {DISPATCH}


def test_staff_who_may_change_accounts_cannot_give_anyone_a_role_or_superuser_status():
    sync_staff_roles()
    manager = StaffFactory(
        first_name="Max",
        permissions=["accounts.view_user", "accounts.change_user"],
        roles=[CUSTOMER_SUPPORT],
    )
    client = logged_in(manager)
    officer_group = Group.objects.get(name=PRIVACY_OFFICER)

    client.post(
        f"/admin/accounts/user/{manager.pk}/change/",
        {
            "first_name": "Max",
            "last_name": "",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [str(officer_group.pk)],
            "profile-TOTAL_FORMS": "0",
            "profile-INITIAL_FORMS": "0",
            "address_verifications-TOTAL_FORMS": "0",
            "address_verifications-INITIAL_FORMS": "0",
        },
    )

    manager.refresh_from_db()
    assert manager.is_superuser is False
    assert set(manager.groups.values_list("name", flat=True)) == {CUSTOMER_SUPPORT}


# --- Customer Support records a preference change on the customer's behalf ----------------------


@pytest.fixture
def support():
    return StaffFactory(email="support@jessops.example", roles=[CUSTOMER_SUPPORT])


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann", consents=["newsletter"])


def preferences(user) -> str:
    return f"/admin/accounts/user/{user.pk}/preferences/"


def test_support_sees_a_customers_preferences_from_their_page(support, ann):
    client = logged_in(support)

    account = client.get(f"/admin/accounts/user/{ann.pk}/change/").content.decode()
    page = client.get(preferences(ann))

    assert preferences(ann) in account
    assert page.status_code == 200
    assert "Newsletter" in page.content.decode()
    assert 'name="granted" value="newsletter"' in page.content.decode()


def test_support_records_a_change_in_the_customers_name_and_the_customer_gets_a_receipt(
    support, ann, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        response = logged_in(support).post(preferences(ann), {"granted": ["special_offers"]})

    assert response.status_code == 302
    events = ConsentEvent.objects.filter(subject=ann, source=ConsentSource.STAFF)
    assert {(e.purpose.code, e.granted, e.actor_id) for e in events} == {
        ("newsletter", False, support.pk),
        ("special_offers", True, support.pk),
    }
    assert Delivery.objects.filter(user=ann, kind=MessageKind.CONSENT_RECEIPT).count() == 1


def test_seeing_and_changing_a_customers_preferences_is_in_the_staff_access_record(support, ann):
    from staff_access.models import StaffAccess

    client = logged_in(support)
    client.get(preferences(ann))
    client.post(preferences(ann), {"granted": ["special_offers"]})

    rows = StaffAccess.objects.filter(page="admin:accounts_user_preferences").order_by("pk")
    assert [(row.action, row.staff, row.subject_ids) for row in rows] == [
        ("view", support, [ann.pk]),
        ("change", support, [ann.pk]),
    ]
    assert "preferences" in rows[1].fields


@pytest.mark.parametrize("role", [WEB_SALES, DISPATCH, MARKETING])
def test_other_roles_may_neither_see_nor_change_a_customers_preferences(role, ann):
    client = logged_in(StaffFactory(roles=[role]))

    assert client.get(preferences(ann)).status_code == 403
    assert client.post(preferences(ann), {"granted": ["special_offers"]}).status_code == 403
    assert not ConsentEvent.objects.filter(subject=ann, source=ConsentSource.STAFF).exists()


def test_a_closed_account_has_no_preferences_to_change(support, ann):
    deactivate_account(user=ann, actor=support, source="staff")

    response = logged_in(support).post(preferences(ann), {"granted": ["special_offers"]})

    assert response.status_code == 400
    assert "closed" in response.content.decode()
    assert not ConsentEvent.objects.filter(subject=ann, source=ConsentSource.STAFF).exists()


def test_an_unknown_or_mandatory_purpose_posted_changes_nothing_else(support, ann):
    response = logged_in(support).post(
        preferences(ann), {"granted": ["newsletter", "carrier_pigeon", "service_announcements"]}
    )

    assert response.status_code == 302
    assert not ConsentEvent.objects.filter(subject=ann, source=ConsentSource.STAFF).exists()
