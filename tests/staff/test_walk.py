"""Every admin page and every API endpoint, as every role: what each may open, and that no
page or answer shows a personal value the role must not see (tests/staff/world.py)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from rest_framework.test import APIClient

import privacy_site.api_urls
from tests.harness.http import logged_in
from tests.staff.world import EMAIL, NEVER_SEES, VALUES, build_world, forbidden_values

pytestmark = pytest.mark.django_db

ROLES = list(NEVER_SEES)
STANDARD = ("changelist", "add", "change", "delete", "history")
# Values for the parts of our own admin URLs other than the object.
ARGUMENTS = {"step": "identity", "decision": "approve"}


@pytest.fixture
def world(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return build_world()


def admin_urls(superuser) -> list[tuple[str, str]]:
    """(name, url) of every admin page: each registered model's list, add page and change
    page of its first row, and each view of our own, on that row."""
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = superuser
    urls = [("index", "/admin/")]
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        prefix = f"admin:{meta.app_label}_{meta.model_name}"
        first = model_admin.get_queryset(request).order_by("pk").first()
        urls.append((f"{meta.label} list", reverse(f"{prefix}_changelist")))
        urls.append((f"{meta.label} add", reverse(f"{prefix}_add")))
        if first is not None:
            urls.append((f"{meta.label} change", reverse(f"{prefix}_change", args=[first.pk])))
            urls.append((f"{meta.label} history", reverse(f"{prefix}_history", args=[first.pk])))
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None)
            if not name or name.endswith(tuple(f"_{s}" for s in STANDARD)):
                continue
            keys = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
            if keys and first is None:
                continue
            kwargs = {
                key: first.pk if key in ("object_id", "pk") else ARGUMENTS[key] for key in keys
            }
            urls.append((f"{meta.label} {name}", reverse(f"admin:{name}", kwargs=kwargs)))
    return urls


def client_for(world, role: str, client_class=Client):
    user = world.superuser if role == "superuser" else world.staff[role]
    return logged_in(user, client_class)


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def leaks(body: str, role: str) -> list[str]:
    return [value for value in forbidden_values(role) if value in body]


@pytest.mark.parametrize("role", ROLES)
def test_no_admin_page_shows_a_role_what_it_must_not_see(world, role):
    client = client_for(world, role)
    user = world.staff[role]
    seen = {}
    for name, url in admin_urls(world.superuser):
        response = client.get(url)
        body = body_of(response)
        seen[name] = response.status_code
        assert response.status_code < 500, f"{name} ({url}) failed for {role}"
        assert not leaks(body, role), f"{name} ({url}) shows {leaks(body, role)} to {role}"
        if name.endswith(" list"):
            label = name.removesuffix(" list")
            model = next(m for m in admin.site._registry if m._meta.label == label)
            meta = model._meta
            may = user.has_perm(f"{meta.app_label}.view_{meta.model_name}") or user.has_perm(
                f"{meta.app_label}.change_{meta.model_name}"
            )
            assert response.status_code == (200 if may else 403), f"{name} for {role}"
    # Each role opens its own pages: nobody is simply shut out of everything.
    opened = {name for name, status in seen.items() if status == 200 and name != "index"}
    assert bool(opened) == (role != "no role"), opened


def test_the_superuser_walk_opens_every_page_and_sees_everything(world):
    client = client_for(world, "superuser")
    bodies = []
    for name, url in admin_urls(world.superuser):
        response = client.get(url)
        assert response.status_code < 500, f"{name} ({url})"
        bodies.append(body_of(response))
    everything = "\n".join(bodies)
    for kind, values in VALUES.items():
        assert any(value in everything for value in values), f"no admin page shows the {kind}"


def api_routes() -> set[str]:
    names: set[str] = set()

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(pattern.name)

    walk(privacy_site.api_urls.urlpatterns)
    return names


def api_calls(world) -> list[tuple[str, str, str, dict]]:
    """(route name, method, url, data) reaching every API endpoint once."""
    campaign = world.campaign.pk
    calls = [
        ("api-consents", "get", "/api/v1/consents/", {"email": EMAIL}),
        ("api-my-preferences", "get", "/api/v1/me/preferences/", {}),
        ("api-orders", "post", "/api/v1/orders/", {}),
        ("api-campaign-list", "get", "/api/v1/campaigns/", {}),
        ("api-campaign-detail", "get", f"/api/v1/campaigns/{campaign}/", {}),
        ("api-campaign-deliveries", "get", f"/api/v1/campaigns/{campaign}/deliveries/", {}),
        ("api-campaign-preview", "post", f"/api/v1/campaigns/{campaign}/preview/", {}),
        ("api-campaign-test", "post", f"/api/v1/campaigns/{campaign}/test/", {}),
    ]
    # The steps change the campaign: asked as GET, which each refuses (405) or forbids (403).
    for step in ("cancel", "pause", "resume", "schedule", "send"):
        calls.append((f"api-campaign-{step}", "get", f"/api/v1/campaigns/{campaign}/{step}/", {}))
    return calls


def test_the_api_walk_reaches_every_endpoint(world):
    assert {name for name, *_ in api_calls(world)} == api_routes()


@pytest.mark.parametrize("role", ROLES)
def test_no_api_answer_shows_a_role_what_it_must_not_see(world, role):
    client = client_for(world, role, APIClient)
    user = world.staff[role]
    for name, method, url, data in api_calls(world):
        response = getattr(client, method)(url, data, format="json" if method == "post" else None)
        body = body_of(response)
        assert response.status_code < 500, f"{name} failed for {role}"
        assert not leaks(body, role), f"{name} shows {leaks(body, role)} to {role}"
        if name == "api-consents":
            assert response.status_code == (
                200 if user.has_perm("consent.view_consentevent") else 403
            )
        if name in ("api-campaign-list", "api-campaign-deliveries"):
            may = user.has_perm("communications.view_campaign")
            assert response.status_code == (200 if may else 403), f"{name} for {role}"
