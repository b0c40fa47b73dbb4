"""Someone else's ids, wherever a page or an endpoint takes an id: in the path, the query or
the body. Every address with an id in its path is listed here by what the id names, so a new
one is noticed; an id naming another person's object answers 404, and an id slipped into the
query or body of a page about oneself is ignored: the page shows, and changes, only the
logged-in person's own data."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.services import update_profile
from communications.models import Campaign
from consent.models import ConsentEvent, CurrentConsent
from consent.selectors import consent_status
from sharing.models import Disclosure
from surveys.models import Entry
from tests.factories import CampaignFactory, StaffFactory
from tests.harness.http import logged_in
from tests.surveys.conftest import enter, make_survey

pytestmark = pytest.mark.django_db

# Every address outside the admin whose path carries a value, by what the value names.
SIGNED = "a signed token: tests/attacks/test_signed_links.py"
PUBLIC = "the same thing for everyone"
STAFF = "a staff object: the role's permission decides"
PATHS_WITH_VALUES = {
    "privacy/<int:number>/": PUBLIC,  # a published policy version
    "privacy/notice/<int:number>/dismiss/": PUBLIC,  # a policy version; dismissed per browser
    "preferences/<str:token>/": SIGNED,
    "unsubscribe/<str:token>/": SIGNED,
    "newsletter/confirm/<str:token>/": SIGNED,
    "privacy/choices/<str:token>/": SIGNED,
    "wishlist/from/<str:token>/": "a wishlist email's click token: counts a click, grants nothing",
    "surveys/<int:survey_id>/": "a survey open to every customer; the entry is the person's own",
    "^confirm-email/(?P<key>[-:\\w]+)/$": SIGNED,
    "^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": SIGNED,
    "<path:route>": "a provider's webhook, behind its secret: test_webhook_security.py",
    "^campaigns/(?P<pk>[^/.]+)/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/cancel/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/deliveries/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/pause/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/preview/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/resume/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/schedule/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/send/$": STAFF,
    "^campaigns/(?P<pk>[^/.]+)/test/$": STAFF,
}


def _patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("admin/"):
                continue  # the admin: tests/staff/test_walk.py and test_need_to_know.py
            yield from _patterns(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix, route


def _with_values() -> set[str]:
    found = set()
    for prefix, route in _patterns(get_resolver()):
        if "<" in route or "(?P" in route:
            if "format" in route and "\\.(?P<format>" in route:
                continue  # DRF's format suffixes: the same views as the routes listed
            found.add(route)
        elif "(?P" in prefix or "<" in prefix:
            found.add(prefix + route)
    return {route for route in found if not route.startswith("^(?P<app_label>")}


def test_every_address_with_a_value_in_its_path_is_listed_by_what_it_names():
    assert _with_values() == set(PATHS_WITH_VALUES)


# --- Ann and Bob ------------------------------------------------------------------------------


@pytest.fixture
def ann(make_user):
    ann = make_user(
        "ann.private@example.com",
        first_name="Annabel",
        last_name="Privetts",
        consents=["newsletter", "surveys"],
        verified=True,
    )
    update_profile(
        user=ann, actor=ann, address_line_1="7 Secret Row", town="Harrogate", postcode="HG1 2RE"
    )
    return ann


@pytest.fixture
def bob(make_user):
    return make_user("bob.nosy@example.com", first_name="Bob", consents=["newsletter"])


def anns_state(ann) -> dict:
    ann.refresh_from_db()
    return {
        "ledger": list(ConsentEvent.objects.filter(subject=ann).values_list("pk", flat=True)),
        "current": list(CurrentConsent.objects.filter(subject=ann).values_list("granted")),
        "user": (ann.email, ann.first_name, ann.last_name, ann.is_active, ann.password),
        "disclosures": Disclosure.objects.filter(person=ann).count(),
        "entries": list(Entry.objects.filter(person=ann).values_list("pk", "answers")),
    }


ANNS = ("ann.private@example.com", "Annabel", "Privetts", "7 Secret Row")


def ids_of(ann) -> dict[str, str]:
    """Every name a form or query might use for a person's id, all naming Ann."""
    return {
        key: str(ann.pk)
        for key in ("id", "pk", "user", "user_id", "subject", "subject_id", "person", "person_id")
    } | {"email": ann.email}


# Pages about the logged-in person, and what a request to each may change.
OWN_PAGES = [
    ("GET", "/accounts/profile/", {}),
    ("POST", "/accounts/profile/", {"first_name": "Bobby", "last_name": "Nosy"}),
    ("GET", "/accounts/export/", {}),
    ("GET", "/accounts/export/", {"format": "json"}),
    ("GET", "/my-data/", {}),
    ("GET", "/my-data/jessops-photo/", {}),
    ("POST", "/my-data/jessops-photo/", {"action": "join"}),
    ("GET", "/preferences/", {}),
    ("POST", "/preferences/", {"newsletter": ""}),
    ("POST", "/preferences/", {"action": "withdraw_all"}),
    ("GET", "/privacy/choices/", {}),
    ("GET", "/surveys/", {}),
    ("GET", "/wishlist/sent/", {}),
]


@pytest.mark.parametrize(
    ("method", "url", "data"), OWN_PAGES, ids=[f"{m} {u} {sorted(d)}" for m, u, d in OWN_PAGES]
)
def test_anns_ids_in_the_query_or_body_of_bobs_own_pages_are_ignored(
    ann, bob, method, url, data, settings, tmp_path
):
    settings.PRIVATE_STORAGE_ROOT = tmp_path
    before = anns_state(ann)
    client = logged_in(bob)

    if method == "GET":
        response = client.get(url, {**ids_of(ann), **data})
    else:
        response = client.post(f"{url}?{_query(ids_of(ann))}", {**ids_of(ann), **data})

    assert response.status_code < 500
    shown = response.content.decode() if not response.streaming else ""
    for value in ANNS:
        assert value not in shown, (url, value)
    assert anns_state(ann) == before


def _query(values: dict[str, str]) -> str:
    return urlencode(values)


def test_anns_ids_in_the_preferences_api_change_only_bobs(ann, bob):
    api = APIClient()
    api.force_login(bob)
    before = anns_state(ann)

    response = api.put(
        f"/api/v1/me/preferences/?{_query(ids_of(ann))}",
        json.dumps({**ids_of(ann), "choices": {"newsletter": False}}),
        content_type="application/json",
    )

    assert response.status_code in (200, 400)
    assert ann.email not in response.content.decode()
    assert anns_state(ann) == before
    if response.status_code == 200:
        assert not consent_status(subject=bob)["newsletter"].granted


def test_a_survey_ann_entered_is_bobs_to_enter_and_never_shows_her_answers(ann, bob):
    author = StaffFactory(permissions=["surveys.add_survey", "surveys.change_survey"])
    survey = make_survey(author)
    enter(survey, ann, q1="Easy", q3="Annabel's private remark")
    before = anns_state(ann)
    client = logged_in(bob)

    page = client.get(f"/surveys/{survey.pk}/", ids_of(ann))

    assert page.status_code == 200
    assert "Annabel's private remark" not in page.content.decode()
    assert anns_state(ann) == before


def test_a_survey_that_is_not_published_is_404_for_everyone(ann, bob):
    author = StaffFactory(permissions=["surveys.add_survey", "surveys.change_survey"])
    draft = make_survey(author, opened=False)

    assert logged_in(bob).get(f"/surveys/{draft.pk}/").status_code == 404
    assert logged_in(bob).get("/surveys/999999/").status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("get", "deliveries/"),
        ("post", "preview/"),
        ("post", "test/"),
        ("post", "send/"),
        ("post", "cancel/"),
    ],
)
def test_a_campaign_id_tells_a_customer_or_a_role_without_campaigns_nothing(
    ann, bob, method, suffix
):
    """Refused before any lookup, the same for a campaign that exists and one that doesn't:
    the answer can't be used to find out which ids exist."""
    campaign = CampaignFactory()
    support = StaffFactory(permissions=["accounts.view_user"])
    for person in (bob, support):
        api = APIClient()
        api.force_login(person)
        call = getattr(api, method)
        existing = call(f"/api/v1/campaigns/{campaign.pk}/{suffix}", {}, format="json")
        missing = call(f"/api/v1/campaigns/{campaign.pk + 999}/{suffix}", {}, format="json")

        assert existing.status_code == missing.status_code == 403, person
        assert existing.json() == missing.json()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not campaign.deliveries.exists()


def test_a_campaign_id_that_does_not_exist_is_404_for_a_marketer(marketer):
    api = APIClient()
    api.force_login(marketer)

    assert api.get("/api/v1/campaigns/999999/").status_code == 404
    assert api.get("/api/v1/campaigns/x/").status_code == 404
    # a digit that is not 0-9 ("²", Arabic-Indic three): no such campaign either, not a 500
    for digit in ("%C2%B2", "%D9%A3"):
        assert api.get(f"/api/v1/campaigns/{digit}/").status_code == 404
        assert api.post(f"/api/v1/campaigns/{digit}/pause/").status_code == 404


def test_the_consents_api_by_address_refuses_a_customer(ann, bob):
    api = APIClient()
    api.force_login(bob)

    response = api.get("/api/v1/consents/", {"email": ann.email})

    assert response.status_code == 403
    assert ann.email not in response.content.decode()


def test_anns_wishlist_token_counts_a_click_and_shows_bob_nothing_of_hers(ann, bob):
    response = logged_in(bob).get("/wishlist/from/anns-token/")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_logged_out_visitor_with_anns_ids_is_sent_to_log_in(ann):
    for method, url, data in OWN_PAGES:
        if url.startswith("/accounts/export"):
            continue
        call = Client().get if method == "GET" else Client().post
        response = call(url, {**ids_of(ann), **data})
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"], url
