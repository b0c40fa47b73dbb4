"""Staff issue and revoke keys in the admin: the key shown once, only its hash kept, every
issue and revocation recorded with who did it; no edit, no delete, no unscoped key."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.utils import timezone

from api_keys.models import APIKeyEvent, SystemAPIKey
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/api_keys/systemapikey/"
ADD = CHANGELIST + "add/"
CONSENTS = "/api/v1/consents/"


def page_of(key: SystemAPIKey, view: str = "change") -> str:
    return f"{CHANGELIST}{quote(key.pk)}/{view}/"


def shown_key(html: str) -> str:
    return re.search(r'id="issued-key"[^>]*value="([^"]+)"', html)[1]


def test_staff_issue_a_key_that_is_shown_once_and_kept_only_as_a_hash(key_admin, system, customer):
    # when
    response = logged_in(key_admin).post(
        ADD, {"name": "Checkout (production)", "scopes": ["consents:read"]}
    )
    # then the page shows the key, and is not to be cached
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = shown_key(response.content.decode())
    api_key = SystemAPIKey.objects.get()
    assert (api_key.name, api_key.scopes, api_key.created_by) == (
        "Checkout (production)",
        ["consents:read"],
        key_admin,
    )
    assert secret.startswith(api_key.prefix + ".")
    assert secret.partition(".")[2] not in api_key.hashed_key + api_key.pk
    # the key works, and its page never shows it again
    ok = system.get(CONSENTS, {"email": customer.email}, HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert ok.status_code == 200
    again = logged_in(key_admin).get(page_of(api_key))
    assert again.status_code == 200
    assert secret.partition(".")[2] not in again.content.decode()
    # audited: who issued which key, with which scopes
    event = APIKeyEvent.objects.get()
    assert (event.kind, event.key, event.actor, event.scopes) == (
        "issued",
        api_key,
        key_admin,
        ["consents:read"],
    )
    assert LogEntry.objects.filter(object_id=api_key.pk, user=key_admin).exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Checkout", "scopes": []}, "scopes"),
        ({"name": "Checkout", "scopes": ["everything"]}, "scopes"),
        ({"name": "   ", "scopes": ["consents:read"]}, "name"),
        ({"name": "x" * 51, "scopes": ["consents:read"]}, "name"),
        (
            {
                "name": "Checkout",
                "scopes": ["consents:read"],
                "expiry_date_0": "2001-01-01",
                "expiry_date_1": "10:00",
            },
            "expiry_date",
        ),
    ],
)
def test_a_bad_issue_form_is_refused_and_issues_nothing(key_admin, data, field):
    response = logged_in(key_admin).post(ADD, data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not SystemAPIKey.objects.exists()
    assert not APIKeyEvent.objects.exists()


def test_an_expiry_in_the_future_is_kept(key_admin):
    later = timezone.localtime() + timedelta(days=30)

    logged_in(key_admin).post(
        ADD,
        {
            "name": "Partner feed",
            "scopes": ["consents:read"],
            "expiry_date_0": later.date().isoformat(),
            "expiry_date_1": "10:00",
        },
    )

    assert SystemAPIKey.objects.get().expiry_date.date() == later.date()


def test_staff_revoke_a_key_on_its_page_and_it_stops_working(issue, key_admin, system, customer):
    # given
    api_key, secret = issue("Checkout")
    client = logged_in(key_admin)
    assert page_of(api_key, "revoke") in client.get(page_of(api_key)).content.decode()
    confirm = client.get(page_of(api_key, "revoke"))
    assert confirm.status_code == 200
    assert not SystemAPIKey.objects.get().revoked  # a GET changes nothing
    # when
    response = client.post(page_of(api_key, "revoke"))
    # then
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.revoked, api_key.revoked_by) == (True, key_admin)
    refused = system.get(
        CONSENTS, {"email": customer.email}, HTTP_AUTHORIZATION=f"Api-Key {secret}"
    )
    assert refused.status_code == 403
    revocation = APIKeyEvent.objects.get(kind="revoked")
    assert (revocation.key, revocation.actor) == (api_key, key_admin)
    # a second revocation records nothing more
    client.post(page_of(api_key, "revoke"))
    assert APIKeyEvent.objects.filter(kind="revoked").count() == 1


def test_the_list_action_revokes_several_keys(issue, key_admin):
    first, _ = issue("Checkout")
    second, _ = issue("Warehouse")

    logged_in(key_admin).post(
        CHANGELIST,
        {"action": "revoke_action", "_selected_action": [first.pk, second.pk]},
    )

    assert set(SystemAPIKey.objects.values_list("revoked", flat=True)) == {True}
    assert set(APIKeyEvent.objects.filter(kind="revoked").values_list("actor", flat=True)) == {
        key_admin.pk
    }


def test_staff_who_may_only_view_keys_can_neither_issue_nor_revoke(issue, make_user):
    api_key, _ = issue()
    viewer = make_user("viewer@jessops.example", is_staff=True, permissions=["view_systemapikey"])
    client = logged_in(viewer)

    page = client.get(page_of(api_key))
    assert page.status_code == 200
    assert page_of(api_key, "revoke") not in page.content.decode()
    assert client.post(page_of(api_key, "revoke")).status_code == 403
    assert client.get(ADD).status_code == 403
    client.post(CHANGELIST, {"action": "revoke_action", "_selected_action": [api_key.pk]})
    assert not SystemAPIKey.objects.get().revoked


def test_a_key_is_never_edited_or_deleted(issue, key_admin):
    api_key, _ = issue()
    client = logged_in(key_admin)

    client.post(page_of(api_key), {"name": "Renamed", "scopes": ["consents:read"]})
    deleted = client.post(page_of(api_key, "delete"), {"post": "yes"})

    assert deleted.status_code == 403
    assert SystemAPIKey.objects.get().name == "Checkout"


def test_the_librarys_unscoped_keys_are_not_in_the_admin(admin_user):
    client = logged_in(admin_user)

    assert client.get("/admin/rest_framework_api_key/apikey/add/").status_code == 404
    assert "rest_framework_api_key" not in client.get("/admin/").content.decode()


def test_staff_see_refused_keys_and_blocked_addresses(key_admin, system):
    system.get(CONSENTS, HTTP_AUTHORIZATION="Api-Key Zz9Zz9Zz." + "x" * 32)
    key_admin.user_permissions.add(Permission.objects.get(codename="view_apikeyevent"))
    client = logged_in(key_admin)

    page = client.get("/admin/api_keys/apikeyevent/?kind__exact=refused")

    assert page.status_code == 200
    html = page.content.decode()
    assert "203.0.113.7" in html and "Zz9Zz9Zz" in html
    assert client.get("/admin/api_keys/apikeyevent/add/").status_code == 403
