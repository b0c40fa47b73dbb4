"""Need to know, role by role: which fields each role sees on the pages it may open, that
searching, filtering or ordering by a field it may not see is impossible (a crafted
querystring is refused), the consent ledger's export, and the API's fields."""

from __future__ import annotations

import csv
import io

import pytest
from django.apps import apps
from django.contrib import admin
from rest_framework.test import APIClient

from privacy_site.need_to_know import declarations
from privacy_site.need_to_know_admin import NeedToKnowAdmin, NeedToKnowInline
from privacy_site.roles import (
    CUSTOMER_SUPPORT,
    DISPATCH,
    MARKETING,
    PRIVACY_OFFICER,
    WEB_SALES,
)
from tests.factories import APIKeyFactory, permissions_named
from tests.harness.http import logged_in
from tests.staff.world import AGENT, DELIVERY, EMAIL, FIRST, IP, LAST, build_world

pytestmark = pytest.mark.django_db

ORDERS = "/admin/sharing/order/"
LEDGER = "/admin/consent/consentevent/"
DELIVERIES = "/admin/communications/delivery/"


@pytest.fixture
def world(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return build_world()


def as_role(world, role, client_class=None):
    user = world.staff[role]
    return logged_in(user, client_class) if client_class else logged_in(user)


def text(response) -> str:
    return response.content.decode()


# --- Orders: Dispatch and Web Sales ------------------------------------------------------------


def test_dispatch_sees_the_delivery_name_and_address_and_nothing_else_of_the_customer(world):
    dispatch = as_role(world, DISPATCH)

    page = text(dispatch.get(f"{ORDERS}{world.order.pk}/change/"))
    listing = text(dispatch.get(ORDERS))

    assert all(part in page for part in DELIVERY) and f"{FIRST} {LAST}" in page
    assert EMAIL not in page and EMAIL not in listing
    assert "7700900461" not in page
    assert "customer&#x27;s email" not in page and "customer's email" not in page


def test_web_sales_see_the_customers_name_email_and_phone_but_not_the_address(world):
    sales = as_role(world, WEB_SALES)

    page = text(sales.get(f"{ORDERS}{world.order.pk}/change/"))

    assert EMAIL in page and "+447700900461" in page and f"{FIRST} {LAST}" in page
    assert not any(part in page for part in DELIVERY)


def test_dispatch_cannot_search_orders_by_the_customers_email_but_web_sales_can(world):
    dispatch, sales = as_role(world, DISPATCH), as_role(world, WEB_SALES)

    found_by_dispatch = dispatch.get(ORDERS, {"q": EMAIL})
    found_by_sales = sales.get(ORDERS, {"q": EMAIL})

    assert found_by_dispatch.status_code == 200
    assert list(found_by_dispatch.context["cl"].result_list) == []
    assert list(found_by_sales.context["cl"].result_list) == [world.order]


@pytest.mark.parametrize(
    "role, lookup, value",
    [
        (DISPATCH, "customer__email", EMAIL),
        (DISPATCH, "customer__email__startswith", "z"),
        (DISPATCH, "customer__profile__phone__contains", "7700"),
        (DISPATCH, "customer_id", "1"),
        (DISPATCH, "customer_id__in", "1,2"),
        (WEB_SALES, "address_line_1__startswith", "88"),
        (WEB_SALES, "postcode", DELIVERY[2]),
        (WEB_SALES, "customer__profile__postcode__startswith", "HG"),
    ],
)
def test_a_crafted_filter_on_a_field_the_role_may_not_see_is_refused(world, role, lookup, value):
    response = as_role(world, role).get(ORDERS, {lookup: value})

    assert response.status_code == 400


def test_a_filter_on_a_field_the_role_sees_still_works(world):
    response = as_role(world, DISPATCH).get(ORDERS, {"postcode": DELIVERY[2]})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [world.order]


def test_ordering_by_column_number_never_reaches_a_column_the_role_may_not_see(world):
    dispatch = as_role(world, DISPATCH)
    columns = dispatch.get(ORDERS).context["cl"].list_display

    for index in range(len(columns) + 3):
        response = dispatch.get(ORDERS, {"o": str(index)})
        assert response.status_code == 200
        assert EMAIL not in text(response)
    assert "customer" not in columns


# --- The consent ledger: Customer Support and the Privacy Officer -------------------------------


def test_support_sees_whose_decision_it_is_but_not_the_browser_details(world):
    support, officer = as_role(world, CUSTOMER_SUPPORT), as_role(world, PRIVACY_OFFICER)
    event = world.customer.consent_events.first()

    seen_by_support = text(support.get(f"{LEDGER}{event.pk}/change/"))
    seen_by_officer = text(officer.get(f"{LEDGER}{event.pk}/change/"))

    assert EMAIL in seen_by_support and IP not in seen_by_support and AGENT not in seen_by_support
    assert IP in seen_by_officer and AGENT in seen_by_officer


def test_support_cannot_filter_the_ledger_by_ip_address_but_the_officer_can(world):
    support, officer = as_role(world, CUSTOMER_SUPPORT), as_role(world, PRIVACY_OFFICER)

    assert support.get(LEDGER, {"ip_address": IP}).status_code == 400
    assert support.get(LEDGER, {"user_agent__contains": "Walk"}).status_code == 400
    assert officer.get(LEDGER, {"ip_address": IP}).status_code == 200


def ledger_export(client, **query) -> list[list[str]]:
    response = client.get(f"{LEDGER}export-csv/", query)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_ledger_export_leaves_out_the_columns_the_role_may_not_see(world):
    support_rows = ledger_export(as_role(world, CUSTOMER_SUPPORT), q=EMAIL)
    officer_rows = ledger_export(as_role(world, PRIVACY_OFFICER), q=EMAIL)

    assert "ip_address" not in support_rows[0] and "subject_email" in support_rows[0]
    assert all(IP not in row for row in support_rows)
    assert "ip_address" in officer_rows[0]
    assert any(IP in row for row in officer_rows[1:])


def test_the_ledger_export_refuses_a_crafted_filter_on_a_hidden_field(world):
    support = as_role(world, CUSTOMER_SUPPORT)

    assert support.get(f"{LEDGER}export-csv/", {"ip_address__startswith": "203"}).status_code == 400


# --- Marketing: masked recipients, no lookups by address ----------------------------------------


def test_marketing_sees_recipients_masked_and_cannot_look_one_up_by_address(world):
    marketing = as_role(world, MARKETING)

    listing = marketing.get(DELIVERIES)

    assert listing.status_code == 200 and "z***@example.com" in text(listing)
    assert EMAIL not in text(listing)
    assert marketing.get(DELIVERIES, {"to_email__startswith": "z"}).status_code == 400
    assert marketing.get(DELIVERIES, {"user__email": EMAIL}).status_code == 400
    assert marketing.get(DELIVERIES, {"user__first_name": FIRST}).status_code == 400
    # nor list one person's deliveries by their account's id
    assert marketing.get(DELIVERIES, {"user_id": world.customer.pk}).status_code == 400


def test_marketing_may_not_open_customers_orders_or_the_ledger(world):
    marketing = as_role(world, MARKETING)

    for url in ("/admin/accounts/user/", ORDERS, LEDGER, "/admin/sharing/disclosure/"):
        assert marketing.get(url).status_code == 403, url


def test_web_sales_and_dispatch_may_open_orders_only(world):
    for role in (WEB_SALES, DISPATCH):
        client = as_role(world, role)
        assert client.get(ORDERS).status_code == 200
        for url in ("/admin/accounts/user/", LEDGER, DELIVERIES, "/admin/accounts/privacyrequest/"):
            assert client.get(url).status_code == 403, (role, url)


# --- The API --------------------------------------------------------------------------------


def test_the_consent_record_api_gives_the_browser_details_to_the_officer_only(world):
    support = as_role(world, CUSTOMER_SUPPORT, APIClient)
    officer = as_role(world, PRIVACY_OFFICER, APIClient)

    for_support = support.get("/api/v1/consents/", {"email": EMAIL}).json()
    for_officer = officer.get("/api/v1/consents/", {"email": EMAIL}).json()

    assert for_support["subject"]["email"] == EMAIL
    assert all(
        "ip_address" not in row and "user_agent" not in row for row in for_support["history"]
    )
    assert {row["ip_address"] for row in for_officer["history"]} >= {IP}
    assert {row["user_agent"] for row in for_officer["history"]} >= {AGENT}


def test_a_shop_system_reads_consent_state_without_the_browser_details(world, clean_cache):
    key = APIKeyFactory(actor=world.superuser).secret
    system = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key}")

    record = system.get("/api/v1/consents/", {"email": EMAIL}).json()

    assert record["subject"]["email"] == EMAIL and record["history"]
    assert all("ip_address" not in row for row in record["history"])


def test_staff_in_no_role_get_no_personal_field_from_the_api(world):
    clerk = world.staff["no role"]
    clerk.user_permissions.add(*permissions_named(["consent.view_consentevent"]))
    record = logged_in(clerk, APIClient).get("/api/v1/consents/", {"email": EMAIL}).json()

    assert record["subject"]["email"] == "z***@example.com"
    assert all("ip_address" not in row for row in record["history"])


# --- The declarations themselves ---------------------------------------------------------------


def test_every_declared_field_is_a_field_of_its_model():
    for declaration in declarations():
        model = apps.get_model(declaration.model)
        names = {f.name for f in model._meta.get_fields()}
        assert set(declaration.fields) <= names, declaration.model


def test_every_admin_showing_a_declared_model_reads_the_declarations():
    declared = {apps.get_model(d.model) for d in declarations()}
    for model, model_admin in admin.site._registry.items():
        if model in declared:
            assert isinstance(model_admin, NeedToKnowAdmin), model._meta.label
        for inline in model_admin.inlines:
            if inline.model in declared:
                assert issubclass(inline, NeedToKnowInline), inline.__name__
