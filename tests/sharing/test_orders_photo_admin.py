"""The admin of orders and Jessops Photo memberships: read-only records, shown only to staff
holding the view permission; recording that CEWE was told needs its own permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from api_keys.models import Scope
from api_keys.services import issue_api_key
from privacy_site.roles import DISPATCH
from sharing.order_models import Order
from sharing.order_serializers import OrderRequestSerializer
from sharing.photo_models import PhotoServiceMembership
from sharing.services.orders import take_order
from sharing.services.photo_service import join_photo_service, leave_photo_service
from tests.sharing.conftest import staff_client

pytestmark = pytest.mark.django_db
ORDERS = "/admin/sharing/order/"
MEMBERSHIPS = "/admin/sharing/photoservicemembership/"


def staff_with(make_user, email: str, *codenames: str, roles=()):
    user = make_user(email, is_staff=True, roles=roles)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="sharing", codename__in=codenames)
    )
    return user


@pytest.fixture
def placed(officer) -> Order:
    key, _ = issue_api_key(name="Checkout", scopes=[Scope.ORDERS_WRITE], actor=officer)
    incoming = OrderRequestSerializer(
        data={
            "reference": "JS-77",
            "customer": {
                "email": "ann@example.com",
                "first_name": "Ann",
                "last_name": "Jones",
                "address": {"line_1": "1 High Street", "town": "Leeds", "postcode": "LS1 4AP"},
            },
            "lines": [{"product": "Tripod", "supplier": "Manfrotto", "quantity": 1}],
            "marketing_opt_out": True,
        }
    )
    incoming.is_valid(raise_exception=True)
    return take_order(system=key, request=incoming.order_request()).order


def test_dispatch_staff_see_the_order_with_its_delivery_address(make_user, placed):
    dispatch = staff_client(
        staff_with(make_user, "dispatch@jessops.example", "view_order", roles=[DISPATCH])
    )

    listing = dispatch.get(ORDERS)
    page = dispatch.get(f"{ORDERS}{placed.pk}/change/")

    assert listing.status_code == 200 and "JS-77" in listing.content.decode()
    content = page.content.decode()
    assert "1 High Street" in content and "LS1 4AP" in content and "Tripod" in content


def test_staff_without_the_view_permission_do_not_see_orders(make_user, placed):
    marketing = staff_client(staff_with(make_user, "mia@jessops.example", "view_thirdparty"))

    assert marketing.get(ORDERS).status_code == 403
    assert marketing.get(f"{ORDERS}{placed.pk}/change/").status_code == 403


def test_nobody_changes_or_deletes_an_order_in_the_admin(superuser_client, placed):
    assert superuser_client.get(f"{ORDERS}add/").status_code == 403
    superuser_client.post(f"{ORDERS}{placed.pk}/change/", {"reference": "JS-78"})
    assert superuser_client.post(f"{ORDERS}{placed.pk}/delete/", {"post": "yes"}).status_code == 403

    placed.refresh_from_db()
    assert placed.reference == "JS-77"


def test_the_refused_filter_finds_orders_with_a_refused_disclosure(superuser_client, placed):
    refused = superuser_client.get(ORDERS, {"refused": "yes"}).content.decode()
    clean = superuser_client.get(ORDERS, {"refused": "no"}).content.decode()

    assert "JS-77" not in refused
    assert "JS-77" in clean


@pytest.fixture
def left(make_user) -> PhotoServiceMembership:
    ann = make_user("ann@example.com", first_name="Ann", last_name="Jones")
    join_photo_service(person=ann)
    return leave_photo_service(person=ann)


def test_a_membership_page_links_to_the_notice_that_tells_cewe(make_user, left):
    viewer = staff_client(
        staff_with(make_user, "viewer@jessops.example", "view_photoservicemembership")
    )

    page = viewer.get(f"{MEMBERSHIPS}{left.pk}/change/").content.decode()

    notice = left.leave_notification
    assert f"/admin/sharing/recipientnotification/{notice.pk}/change/" in page
    assert f"Jessops Photo membership {left.pk}" in page
    assert "To notify" in page


def test_cewe_told_by_hand_shows_on_the_membership(make_user, left, officer):
    from sharing.services import record_notified_by_hand

    record_notified_by_hand(
        notification=left.leave_notification,
        actor=officer,
        method="post",
        note="Letter to CEWE's privacy contact",
    )
    viewer = staff_client(
        staff_with(make_user, "viewer@jessops.example", "view_photoservicemembership")
    )

    listing = viewer.get(MEMBERSHIPS).content.decode()

    assert "Notified (left the service)" in listing
