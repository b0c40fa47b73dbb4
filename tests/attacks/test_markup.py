"""Script and HTML typed into every free-text field a customer, a member of staff or the
shop's API can set: it comes out as text, never as markup, on the customer's pages, on every
admin page, and in every email's HTML part; a campaign's provider merge data can't add markup
or attributes to the email it goes into."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import PrivacyRequest
from accounts.services.requests import log_privacy_request
from api_keys.models import Scope
from api_keys.services import issue_api_key
from communications.kinds import CAMPAIGN_KINDS, RULES, STAFF_CAMPAIGN_KINDS
from communications.models import Campaign
from communications.referrals.mail import render_referral
from communications.referrals.sealing import Sealed, WishlistItem
from communications.rendering import campaign_template, recipient_values, render_transactional
from communications.sending import BatchRecipient, send_as_batch
from consent.services import save_policy_draft
from sharing.models import DataCategory
from sharing.order_serializers import OrderRequestSerializer
from sharing.services import LegalScope, PartyDetails, change_third_party, log_legal_request
from sharing.services.orders import take_order
from surveys.models import Survey
from tests.factories import CampaignFactory, UserFactory, permissions_named
from tests.harness.http import logged_in
from tests.sharing.conftest import BANK, COURTS, SPONSORS, party
from tests.staff import world as staff_world
from tests.staff.test_walk import admin_urls
from tests.surveys.conftest import SURVEY_RIGHTS, enter, make_contest, make_survey

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
HOSTILE = SCRIPT + ATTRIBUTE
# What either payload leaves in a page when it is not escaped.
RAW = ("<script>alert(1)", "<img src=x onerror")


class Markup(HTMLParser):
    """The elements and attributes a page really has (as a browser would parse it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.injected: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [name for name, _ in attrs]
        if any(name.startswith("on") for name in names):
            self.injected.append(f"<{tag} {attrs}>")

    def handle_data(self, data: str) -> None:
        pass

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)


def assert_no_markup_from(content: str, where: str) -> None:
    for raw in RAW:
        assert raw not in content, f"{where}: {raw!r} unescaped"
    parser = Markup()
    parser.feed(content)
    assert not parser.injected, f"{where}: {parser.injected}"


# --- A shop in which every free text is hostile ----------------------------------------------


@pytest.fixture
def hostile(monkeypatch, settings, tmp_path):
    """tests/staff/world.py's shop (a customer with profile, consents, a privacy request, an
    order from the shop's API, a photo membership, a legal request, a hold, a campaign), its
    customer's names and home address hostile; and hostile too: a survey's free-text answer,
    a contest, a campaign written by staff, a policy draft, the register's contract text and
    the reason for its change, an API key's name, an order's product and supplier from the
    shop's API, a legal request's reference and description, a privacy request's details."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    monkeypatch.setattr(staff_world, "HOME", (SCRIPT, ATTRIBUTE, "HG1 2RE"))
    shop = staff_world.build_world()
    # The shop's API and the profile page take letters only in a name (a 400 for markup);
    # a name from before those checks, or typed by staff, is shown as text all the same.
    type(shop.customer).objects.filter(pk=shop.customer.pk).update(
        first_name=SCRIPT, last_name=ATTRIBUTE
    )
    shop.customer.refresh_from_db()
    author = shop.staff[staff_world.MARKETING]
    author.user_permissions.add(*_permissions())
    survey = make_survey(author, title=HOSTILE, introduction=HOSTILE)
    enter(survey, shop.customer, q1="Easy", q3=HOSTILE)
    contest = make_contest(author, party(SPONSORS), title=HOSTILE, prize=HOSTILE)
    enter(contest, shop.customer, q1="Easy", q3=HOSTILE)
    CampaignFactory(name=HOSTILE, subject_line=HOSTILE, body=HOSTILE)
    bank = party(BANK)
    change_third_party(
        party=bank,
        details=replace(PartyDetails.of(bank), contract_reference=HOSTILE),
        actor=shop.superuser,
        reason=HOSTILE,
    )
    # The shop's API takes any one-line product and supplier name.
    key, _ = issue_api_key(name=SCRIPT, scopes=[Scope.ORDERS_WRITE], actor=shop.superuser)
    incoming = OrderRequestSerializer(
        data={
            "reference": "JS-HOSTILE-1",
            "customer": {
                "email": shop.customer.email,
                "first_name": "Ann",
                "last_name": "Jones",
                "address": {"line_1": "1 High Street", "town": "Leeds", "postcode": "LS1 4AP"},
            },
            "lines": [{"product": SCRIPT, "supplier": ATTRIBUTE, "quantity": 1}],
            "marketing_opt_out": False,
        }
    )
    incoming.is_valid(raise_exception=True)
    take_order(system=key, request=incoming.order_request())
    officer = shop.staff[staff_world.PRIVACY_OFFICER]
    log_legal_request(
        authority=party(COURTS),
        authority_reference=ATTRIBUTE,
        description=HOSTILE,
        document=SimpleUploadedFile("order.pdf", staff_world.PDF, content_type="application/pdf"),
        scope=LegalScope(
            people=[shop.customer],
            categories=[DataCategory.POSTAL_ADDRESS],
            period_start=timezone.localdate() - timedelta(days=60),
            period_end=timezone.localdate() - timedelta(days=30),
        ),
        actor=officer,
    )
    log_privacy_request(
        request_type=PrivacyRequest.Type.ACCESS,
        channel=PrivacyRequest.Channel.PHONE,
        received_on=timezone.localdate(),
        logged_by=shop.staff[staff_world.CUSTOMER_SUPPORT],
        subject=shop.customer,
        details=HOSTILE,
    )
    save_policy_draft(actor=shop.superuser, change_type="editorial", text=HOSTILE, summary=HOSTILE)
    return shop


def _permissions():
    return permissions_named(SURVEY_RIGHTS)


CUSTOMER_PAGES = [
    "/",
    "/accounts/profile/",
    "/accounts/export/",
    "/my-data/",
    "/my-data/jessops-photo/",
    "/preferences/",
    "/privacy/",
    "/privacy/history/",
    "/surveys/",
    "/wishlist/send/",
]


def test_the_customers_pages_show_their_hostile_text_as_text(hostile):
    customer = logged_in(hostile.customer)
    surveys = Survey.objects.values_list("pk", flat=True)
    pages = CUSTOMER_PAGES + [f"/surveys/{pk}/" for pk in surveys]
    shown = 0
    for url in pages:
        response = customer.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        assert_no_markup_from(content, url)
        shown += html.escape(SCRIPT, quote=False) in content
    # The names, addresses and answers were on the pages, as text.
    assert shown >= 4


def test_every_admin_page_shows_hostile_text_as_text(hostile):
    root = logged_in(hostile.superuser)
    urls = admin_urls(hostile.superuser)
    shown = 0
    for name, url in urls:
        response = root.get(url)
        assert response.status_code < 500, (name, url, response.status_code)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        content = response.content.decode()
        assert_no_markup_from(content, f"{name} {url}")
        shown += "&lt;script&gt;alert(1)" in content
    assert len(urls) > 100
    assert shown >= 10


# --- Emails ----------------------------------------------------------------------------------

TEMPLATES = Path(settings.BASE_DIR) / "templates" / "emails"


TRANSACTIONAL = sorted(
    kind
    for kind in RULES
    if kind not in CAMPAIGN_KINDS and kind != "referral" and (TEMPLATES / f"{kind}.html").exists()
)


def test_every_kind_of_email_is_attacked_here():
    """Each kind is rendered below: a transactional one from its template, a campaign's from
    a campaign of that kind, the wishlist email from its sealed details."""
    assert set(TRANSACTIONAL) | set(CAMPAIGN_KINDS) | {"referral", "campaign_test"} == set(RULES)


@pytest.mark.parametrize("kind", TRANSACTIONAL)
def test_every_transactional_email_shows_hostile_text_as_text(kind, db):
    """Every variable the email's templates print is given the hostile text."""
    person = UserFactory(email="ann@example.com", first_name=HOSTILE, last_name=HOSTILE)
    source = (TEMPLATES / f"{kind}.html").read_text() + (TEMPLATES / f"{kind}.txt").read_text()
    names = set(re.findall(r"{{\s*(\w+)", source)) - {"site_name", "site_url"}

    rendered = render_transactional(kind=kind, user=person, context=dict.fromkeys(names, HOSTILE))

    assert_no_markup_from(rendered.html, kind)
    assert "\n" not in rendered.subject


def test_a_wishlist_email_shows_the_senders_words_as_text(db):
    details = Sealed(
        friend_name=HOSTILE,
        friend_email="friend@example.com",
        sender_name=HOSTILE,
        message=HOSTILE,
        items=(WishlistItem(name=HOSTILE, url=""),),
    )

    rendered = render_referral(token="t", details=details)

    assert_no_markup_from(rendered.html, "referral")
    assert html.escape(SCRIPT, quote=False) in rendered.html
    assert SCRIPT in rendered.text  # plain text is shown as text by every mail program


@pytest.mark.parametrize("kind", CAMPAIGN_KINDS)
def test_a_campaign_of_every_kind_written_with_script_is_sent_without_it(kind, db):
    campaign = CampaignFactory(
        kind=kind,
        subject_line=HOSTILE,
        body=f"Hello {{{{ first_name }}}} {HOSTILE} <a href='javascript:alert(1)'>x</a>",
        body_format=Campaign.BodyFormat.HTML,
        # notices' bodies are written by the policy's publication, not staff: still sanitised
        notice=kind not in STAFF_CAMPAIGN_KINDS,
    )
    person = UserFactory(email="ann@example.com", first_name=HOSTILE, consents=["newsletter"])
    template = campaign_template(campaign)
    values, headers = recipient_values(template, user=person, ref="1")

    # What the outbox sends by SMTP: the merge values put in by us, escaped for the HTML.
    rendered = template.for_recipient(values, headers)

    assert_no_markup_from(rendered.html, kind)
    assert "javascript:" not in rendered.html
    assert "\n" not in rendered.subject


@pytest.fixture
def provider(settings, redis_client):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.EMAIL_BATCH_SEND = True
    mail.outbox = []
    return mail.outbox


def test_a_hostile_first_name_in_a_providers_merge_data_adds_no_markup(provider):
    """Providers put merge data into the HTML as it is, without escaping: a first name in a
    link's title (where a writer may put it) must not end the attribute and add another."""
    person = UserFactory(email="ann@example.com", first_name=ATTRIBUTE.replace(">", "") + " x")
    campaign = CampaignFactory(
        body='<a href="https://www.jessops.example/" title="For {{ first_name }}">Hello '
        "{{ first_name }}</a>",
        body_format=Campaign.BodyFormat.HTML,
    )
    template = campaign_template(campaign)
    values, headers = recipient_values(template, user=person, ref="1")

    send_as_batch(template, [BatchRecipient(1, person.email, values, headers)])

    [message] = provider
    merged = message.alternatives[0][0]
    for name, value in message.merge_data[person.email].items():
        merged = merged.replace("{{" + name + "}}", value)
    assert_no_markup_from(merged, "merged campaign")
    parser = _Attributes()
    parser.feed(merged)
    # The body's link (the layout's own links follow it) kept exactly its attributes.
    assert parser.link_attributes[0] == ["href", "title", "rel"], parser.link_attributes


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.link_attributes: list[list[str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            self.link_attributes.append([name for name, _ in attrs])
