"""The preference centre, logged in and from a signed link, and the ledger it writes to."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from unittest import mock

import pytest
from django.test import Client

from consent.models import ConsentEvent, Purpose
from consent.selectors import consent_status
from consent.services import (
    ConsentSource,
    grant_consent,
    record_decisions,
    withdraw_consent,
)
from consent.tokens import TokenUse, make_token
from privacy_site.numbers import whole_number
from tests.factories import UserFactory
from tests.harness.http import text


class FormParser(HTMLParser):
    """Labels by their ``for``, inputs by id, buttons, and links."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.forms: list[dict[str, str | None]] = []
        self.buttons: list[str] = []
        self.links: list[str] = []
        self._label: str | None = None
        self._button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "label":
            self._label = values.get("for") or ""
            self.labels[self._label] = ""
        elif tag == "input" and values.get("id"):
            self.inputs[values["id"]] = values
        elif tag == "form":
            self.forms.append(values)
        elif tag == "button":
            self._button = True
            self.buttons.append("")
        elif tag == "a":
            self.links.append(values.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None
        elif tag == "button":
            self._button = False

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.labels[self._label] += data
        if self._button:
            self.buttons[-1] += data.strip()


def parse(response) -> FormParser:
    parser = FormParser()
    parser.feed(response.content.decode())
    return parser


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com")


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def granted(user) -> set[str]:
    return {code for code, state in consent_status(subject=user).items() if state.granted}


# --- Access ------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get("/preferences/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/preferences/")


def test_anonymous_post_changes_nothing(client, alice):
    response = client.post("/preferences/", {"newsletter": "on"})

    assert response.status_code == 302
    assert not ConsentEvent.objects.exists()


# --- The page ----------------------------------------------------------------------------------


def test_each_optional_purpose_is_a_checkbox_labelled_with_its_exact_wording(alice_client):
    response = alice_client.get("/preferences/")

    assert response.status_code == 200
    page = parse(response)
    for purpose in Purpose.objects.filter(is_optional=True):
        field_id = f"id_{purpose.code}"
        assert page.inputs[field_id]["type"] == "checkbox"
        assert page.labels[field_id].strip() == purpose.wording
    assert "id_service_announcements" not in page.inputs


def test_the_checkboxes_show_the_choices_in_force(alice, alice_client):
    grant_consent(subject=alice, purpose="surveys", source=ConsentSource.SIGNUP_FORM)

    page = parse(alice_client.get("/preferences/"))

    assert "checked" in page.inputs["id_surveys"]
    assert "checked" not in page.inputs["id_newsletter"]


def test_service_announcements_are_shown_as_always_on_with_the_reason(alice_client):
    response = alice_client.get("/preferences/")

    announcements = Purpose.objects.get(code=Purpose.SERVICE_ANNOUNCEMENTS)
    assert "Service announcements: always on." in text(response)
    assert announcements.mandatory_reason in text(response)


def test_the_purposes_are_grouped_in_a_fieldset_with_a_legend(alice_client):
    html = alice_client.get("/preferences/").content.decode()

    assert "<fieldset>" in html
    assert "<legend>Marketing emails you can choose</legend>" in html


def test_unsubscribe_from_all_marketing_is_a_separate_post_button(alice_client):
    page = parse(alice_client.get("/preferences/"))

    assert "Unsubscribe from all marketing" in page.buttons
    assert "Save my choices" in page.buttons
    assert [form["method"] for form in page.forms if form.get("action") == "/preferences/"] == [
        "post",
        "post",
    ]


# --- Saving ------------------------------------------------------------------------------------


def test_saving_records_the_choices_and_redirects_to_the_page(alice, alice_client):
    response = alice_client.post("/preferences/", {"newsletter": "on"}, REMOTE_ADDR="203.0.113.77")

    assert response.status_code == 302
    assert response["Location"] == "/preferences/"
    assert granted(alice) == {"newsletter", "service_announcements"}
    event = ConsentEvent.objects.get(subject=alice)
    assert event.source == ConsentSource.PREFERENCE_CENTRE
    assert event.wording == Purpose.objects.get(code="newsletter").wording
    assert event.ip_address == "203.0.113.0"


def test_the_message_lists_exactly_what_changed(alice, alice_client):
    grant_consent(subject=alice, purpose="special_offers", source=ConsentSource.SIGNUP_FORM)
    grant_consent(subject=alice, purpose="surveys", source=ConsentSource.SIGNUP_FORM)

    response = alice_client.post(
        "/preferences/", {"newsletter": "on", "surveys": "on"}, follow=True
    )

    page = text(response)
    assert "Newsletter: on" in page
    assert "Special offers and updates: off" in page
    assert "Surveys and contests:" not in page
    assert "Jessops Photo offers (CEWE):" not in page
    assert granted(alice) == {"newsletter", "surveys", "service_announcements"}


def test_saving_the_same_choices_says_no_changes_and_writes_nothing(alice, alice_client):
    grant_consent(subject=alice, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)

    response = alice_client.post("/preferences/", {"newsletter": "on"}, follow=True)

    assert "No changes." in text(response)
    assert ConsentEvent.objects.filter(subject=alice).count() == 1


def test_saving_calls_record_decisions_once_for_all_the_choices(alice, alice_client):
    with mock.patch(
        "communications.services.preferences.record_decisions", wraps=record_decisions
    ) as recorder:
        alice_client.post("/preferences/", {"newsletter": "on", "partner_photo": "on"})

    recorder.assert_called_once()
    assert recorder.call_args.kwargs["choices"] == {
        "newsletter": True,
        "special_offers": False,
        "surveys": False,
        "partner_photo": True,
    }
    assert recorder.call_args.kwargs["source"] == ConsentSource.PREFERENCE_CENTRE


def test_a_forged_mandatory_purpose_in_the_post_is_ignored(alice, alice_client):
    response = alice_client.post("/preferences/", {"service_announcements": ""})

    assert response.status_code == 302
    assert not ConsentEvent.objects.exists()


def test_unsubscribe_from_all_marketing_withdraws_everything_granted(alice, alice_client):
    grant_consent(subject=alice, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    grant_consent(subject=alice, purpose="partner_photo", source=ConsentSource.SIGNUP_FORM)

    response = alice_client.post("/preferences/", {"action": "withdraw_all"}, follow=True)

    assert granted(alice) == {"service_announcements"}
    page = text(response)
    assert "Newsletter: off" in page
    assert "Jessops Photo offers (CEWE): off" in page
    withdrawals = ConsentEvent.objects.filter(subject=alice, granted=False)
    assert {event.source for event in withdrawals} == {ConsentSource.PREFERENCE_CENTRE}


def test_the_logged_in_page_never_changes_anything_on_get(alice, alice_client):
    alice_client.get("/preferences/", {"newsletter": "on", "action": "withdraw_all"})

    assert not ConsentEvent.objects.exists()


# --- History -----------------------------------------------------------------------------------


def test_the_history_shows_what_when_how_and_under_which_policy_version(alice, alice_client):
    grant_consent(subject=alice, purpose="newsletter", source=ConsentSource.NEWSLETTER_FORM)
    withdraw_consent(subject=alice, purpose="newsletter", source=ConsentSource.UNSUBSCRIBE_LINK)

    response = alice_client.get("/preferences/")

    page = text(response)
    assert "Your consent history" in page
    turned_on = '<strong>Newsletter</strong>: <span class="timeline-choice">turned on</span>'
    turned_off = '<strong>Newsletter</strong>: <span class="timeline-choice">turned off</span>'
    assert turned_on in page
    assert turned_off in page
    assert "On the newsletter form, under" in page
    assert "With the unsubscribe link in one of our emails, under" in page
    assert page.index(turned_off) < page.index(turned_on)  # newest first
    assert '<a href="/privacy/1/">privacy policy version 1</a>' in page


def test_the_history_shows_only_the_persons_own_decisions(alice, alice_client):
    UserFactory(consents=["surveys"], consents__source=ConsentSource.API)

    page = text(alice_client.get("/preferences/"))

    assert "Surveys and contests</td>" not in page
    assert "You have not made any choices yet." in page


def test_a_long_history_is_shown_twenty_choices_a_page_newest_first(alice, alice_client):
    # given: 45 choices, alternating on and off
    # (the newest about special offers, to tell the ends apart)
    for n in range(45):
        change = grant_consent if n % 2 == 0 else withdraw_consent
        purpose = "special_offers" if n == 44 else "newsletter"
        change(subject=alice, purpose=purpose, source=ConsentSource.PREFERENCE_CENTRE)

    first, second, last = (
        alice_client.get("/preferences/", {"history": page} if page else {})
        for page in (None, 2, 3)
    )

    # then: 20, 20 and 5 choices, with links to the pages either side
    assert [
        page.content.decode().count('class="timeline-event') for page in (first, second, last)
    ] == [
        20,
        20,
        5,
    ]
    assert 'href="?history=2#history">Older choices' in text(first)
    assert "Newer choices" not in text(first)
    assert 'href="?history=1#history">Newer choices' in text(second)
    assert 'href="?history=3#history">Older choices' in text(second)
    assert "Older choices" not in text(last)
    # the newest choice opens the first page, the oldest closes the last
    assert text(first).count("turned on") == 10
    rows = [
        row
        for page in (first, second, last)
        for row in re.findall(
            r"<strong>([^<]+)</strong>: <span class=\"timeline-choice\">turned (on|off)<",
            page.content.decode(),
        )
    ]
    assert (
        rows
        == [("Special offers and updates", "on")]
        + [("Newsletter", "off"), ("Newsletter", "on")] * 22
    )


@pytest.mark.parametrize("page", ["abc", "0", "-1", "2.5", "99999999999999999999", "²", "٣"])
def test_a_history_page_that_is_not_a_number_shows_the_first_or_none(alice, alice_client, page):
    grant_consent(subject=alice, purpose="newsletter", source=ConsentSource.PREFERENCE_CENTRE)

    response = alice_client.get("/preferences/", {"history": page})

    assert response.status_code == 200
    if (whole_number(page) or 0) > 1:  # 20 digits are no page number: the first page
        assert "There are no older choices." in text(response)
    else:
        assert response.context["history_page"] == 1
        assert "turned on" in text(response)


# --- From a signed link ------------------------------------------------------------------------


def test_a_preference_link_opens_the_page_without_logging_in(alice, client):
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)

    response = client.get(f"/preferences/{token}/")

    assert response.status_code == 200
    assert "alice@example.com" in text(response)
    actions = {form.get("action") for form in parse(response).forms}
    assert f"/preferences/{token}/" in actions


def test_a_preference_link_saves_with_a_csrf_token_and_no_login(alice):
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)
    browser = Client(enforce_csrf_checks=True)
    browser.get(f"/preferences/{token}/")

    response = browser.post(
        f"/preferences/{token}/",
        {"newsletter": "on", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
        follow=True,
    )

    assert response.redirect_chain == [(f"/preferences/{token}/", 302)]
    assert "Newsletter: on" in text(response)
    assert granted(alice) == {"newsletter", "service_announcements"}


def test_a_preference_link_post_without_csrf_token_is_refused(alice):
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)

    response = Client(enforce_csrf_checks=True).post(f"/preferences/{token}/", {"newsletter": "on"})

    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


def test_a_link_for_one_person_never_changes_another(alice, make_user):
    bob = make_user("bob@example.com", consents=["newsletter"])
    bob_client = Client()
    bob_client.force_login(bob)
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)

    bob_client.post(f"/preferences/{token}/", {"surveys": "on"})
    bob_client.post(f"/preferences/{token}/", {"action": "withdraw_all"})

    assert granted(bob) == {"newsletter", "service_announcements"}
    assert ConsentEvent.objects.filter(subject=bob).count() == 1
    assert ConsentEvent.objects.filter(subject=alice).count() == 2  # surveys on, then off


def test_an_unsubscribe_link_does_not_open_the_preference_centre(alice, client, caplog):
    token = make_token(subject=alice, use=TokenUse.UNSUBSCRIBE)

    response = client.post(f"/preferences/{token}/", {"newsletter": "on"})

    assert response.status_code == 400
    assert "This link is not valid or has expired" in text(response)
    assert not ConsentEvent.objects.exists()
    assert "consent token refused" in caplog.text


def test_a_tampered_preference_link_changes_nothing(alice, client, caplog):
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)

    response = client.post(f"/preferences/{token[:-2]}xx/", {"newsletter": "on"})

    assert response.status_code == 400
    assert "This link is not valid or has expired" in text(response)
    assert '/accounts/login/?next=/preferences/"' in response.content.decode()
    assert not ConsentEvent.objects.exists()
    assert any(r.name == "consent.tokens" and r.levelname == "WARNING" for r in caplog.records)


def test_the_history_escapes_what_it_prints(alice, alice_client):
    Purpose.objects.filter(code="newsletter").update(name='<b onmouseover="x()">News</b>')
    grant_consent(subject=alice, purpose="newsletter", source=ConsentSource.PREFERENCE_CENTRE)

    page = alice_client.get("/preferences/").content.decode()

    assert "<strong>&lt;b onmouseover=&quot;x()&quot;&gt;News&lt;/b&gt;</strong>" in page
    assert "<b onmouseover" not in page
