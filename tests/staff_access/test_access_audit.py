"""Every staff view, search, export and change of people's data writes one append-only row:
who, in which role, whose data (everyone a list shows, in one row), which fields, why (the
page) and when."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from consent.models import ConsentSource
from consent.services import grant_consent
from staff_access.models import StaffAccess
from staff_access.services import blank_search_terms_naming, record_access
from tests.factories import StaffFactory, UserFactory
from tests.harness.http import logged_in, text
from tests.staff_access.conftest import SUPPORT, the_row

USERS = "/admin/accounts/user/"
Action = StaffAccess.Action
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's"
)


def inserts_into_the_record(queries) -> int:
    return sum(
        1 for query in queries if query["sql"].startswith('INSERT INTO "staff_access_staffaccess"')
    )


def test_a_list_page_writes_one_row_naming_everyone_it_shows(customers, support):
    client = logged_in(support)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(USERS)

    assert response.status_code == 200
    assert inserts_into_the_record(queries.captured_queries) == 1
    row = the_row()
    assert row.staff == support
    assert row.role == SUPPORT
    assert row.action == Action.LIST
    assert row.page == "admin:accounts_user_changelist"
    shown = {customer.pk for customer in customers} | {support.pk}
    assert set(row.subject_ids) == shown
    assert row.subject_count == len(shown)
    assert "email" in row.fields


def test_a_search_names_only_the_people_found_and_keeps_the_term(customers, support):
    logged_in(support).get(USERS, {"q": "customer003"})

    row = the_row()
    assert row.action == Action.SEARCH
    assert row.subject_ids == [customers[3].pk]
    assert row.search_term == "customer003"


def test_a_record_page_names_its_person_and_the_fields_on_it(customers, support):
    ann = customers[0]

    response = logged_in(support).get(f"{USERS}{ann.pk}/change/")

    assert response.status_code == 200
    row = the_row()
    assert (row.action, row.subject_ids, row.page) == (
        Action.VIEW,
        [ann.pk],
        "admin:accounts_user_change",
    )
    assert {"email", "first_name", "last_name"} <= set(row.fields)


def test_a_change_names_the_person_and_the_fields_changed_in_one_row(customers, support):
    from tests.accounts.test_user_admin import form_data

    ann = customers[0]
    client = logged_in(support)
    data = form_data(client, ann, first_name="Anne")
    before = StaffAccess.objects.count()

    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"{USERS}{ann.pk}/change/", data)

    assert response.status_code == 302
    assert inserts_into_the_record(queries.captured_queries) == 1
    row = StaffAccess.objects.order_by("-id").first()
    assert StaffAccess.objects.count() == before + 1
    assert (row.action, row.subject_ids) == (Action.CHANGE, [ann.pk])
    assert "First name" in row.fields


def test_an_export_names_everyone_in_it(customers, support):
    for customer in customers[:3]:
        grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)

    response = logged_in(support).get("/admin/consent/consentevent/export-csv/")

    assert response.status_code == 200
    b"".join(response.streaming_content)
    row = the_row()
    assert row.action == Action.EXPORT
    assert set(row.subject_ids) == {customer.pk for customer in customers[:3]}
    assert "subject_email" in row.fields


def test_reading_a_consent_record_through_the_api_is_recorded(customers, support):
    api = APIClient()
    api.force_login(support)

    response = api.get("/api/v1/consents/", {"email": customers[1].email})

    assert response.status_code == 200
    row = the_row()
    assert (row.action, row.page, row.subject_ids) == (
        Action.VIEW,
        "api:consents",
        [customers[1].pk],
    )


def test_pages_about_nobody_and_customers_own_pages_write_nothing(customers, support):
    logged_in(support).get("/admin/communications/campaign/")
    logged_in(customers[0]).get("/accounts/profile/")

    assert not StaffAccess.objects.exists()


def test_a_superuser_is_recorded_as_such(customers, superuser):
    logged_in(superuser).get(f"{USERS}{customers[0].pk}/change/")

    assert the_row().role == "Superuser"


# --- Nobody edits it ---------------------------------------------------------------------------


@pytest.fixture
def officer(db):
    return StaffFactory(email="po@jessops.example", permissions=["staff_access.view_staffaccess"])


def test_the_privacy_officer_finds_every_access_to_a_person_and_exports_them(
    customers, support, officer
):
    ann, bob = customers[0], customers[1]
    logged_in(support).get(f"{USERS}{ann.pk}/change/")
    logged_in(support).get(f"{USERS}{bob.pk}/change/")
    client = logged_in(officer)

    found = client.get("/admin/staff_access/staffaccess/", {"q": ann.email})
    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == [StaffAccess.objects.get(subject_ids=[ann.pk])]
    filtered = client.get("/admin/staff_access/staffaccess/", {"role": SUPPORT})
    assert filtered.context["cl"].result_count == 2

    export = client.post(
        "/admin/staff_access/staffaccess/",
        {
            "action": "export_csv",
            "_selected_action": list(StaffAccess.objects.values_list("pk", flat=True)),
        },
    )
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].startswith("occurred_at,staff,role,action,page,people,person_ids")
    assert len(lines) == 3
    assert f"sam@jessops.example,{SUPPORT},view,admin:accounts_user_change,1,{bob.pk}" in lines[1]


def test_nobody_adds_changes_or_deletes_a_row_in_the_admin(customers, support, superuser):
    logged_in(support).get(f"{USERS}{customers[0].pk}/change/")
    row = the_row()
    root = logged_in(superuser)

    assert root.get("/admin/staff_access/staffaccess/add/").status_code == 403
    assert root.post(f"/admin/staff_access/staffaccess/{row.pk}/delete/").status_code == 403
    page = root.get(f"/admin/staff_access/staffaccess/{row.pk}/change/")
    assert page.status_code == 200 and "Save" not in text(page)


def test_staff_without_the_permission_cannot_read_it(support):
    assert logged_in(support).get("/admin/staff_access/staffaccess/").status_code == 403


@on_postgresql
def test_the_database_refuses_to_change_or_delete_a_row(customers, support):
    row = record_access(
        staff=support, action=Action.VIEW, page="test", subject_ids=[customers[0].pk], fields=[]
    )
    for statement in (
        "UPDATE staff_access_staffaccess SET role = 'Nobody' WHERE id = %s",
        "DELETE FROM staff_access_staffaccess WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [row.pk])
    assert StaffAccess.objects.get(pk=row.pk).role == SUPPORT


@on_postgresql
def test_erasure_empties_the_search_terms_naming_the_person_and_nothing_else(customers, support):
    ann, bob = customers[0], customers[1]
    naming_ann = record_access(
        staff=support,
        action=Action.SEARCH,
        page="admin:accounts_user_changelist",
        subject_ids=[ann.pk, bob.pk],
        fields=["email"],
        search_term="ann smith",
    )
    about_bob = record_access(
        staff=support,
        action=Action.SEARCH,
        page="admin:accounts_user_changelist",
        subject_ids=[bob.pk],
        fields=["email"],
        search_term="bob",
    )

    assert blank_search_terms_naming(subject=ann) == 1

    naming_ann.refresh_from_db()
    about_bob.refresh_from_db()
    assert naming_ann.search_term == "" and naming_ann.subject_ids == [ann.pk, bob.pk]
    assert about_bob.search_term == "bob"


def test_a_customer_is_never_recorded_as_staff(customers):
    UserFactory(email="x@example.com")
    logged_in(customers[0]).get(USERS)
    assert not StaffAccess.objects.exists()


@pytest.mark.parametrize("action", ["deactivate_accounts", "reactivate_accounts"])
def test_an_admin_action_on_accounts_is_a_change_in_the_record(superuser, customers, action):
    target = customers[0]
    if action == "reactivate_accounts":
        from accounts.services.privacy import deactivate_account

        deactivate_account(user=target, actor=superuser, source="staff")

    response = logged_in(superuser).post(USERS, {"action": action, "_selected_action": [target.pk]})

    assert response.status_code == 302
    row = StaffAccess.objects.filter(staff=superuser, action=Action.CHANGE).get()
    assert target.pk in row.subject_ids
    assert "is_active" in row.fields
