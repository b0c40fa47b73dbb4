"""The profile page and ``update_profile``: name, address, UK postcode, phone and the
customer-service channel, with every change in the audit trail."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import AddressVerification, AuditEvent, AuditSource, Profile
from accounts.services import normalise_phone, update_profile
from tests.harness.http import text

URL = "/accounts/profile/"

ADDRESS = {
    "first_name": "Ann",
    "last_name": "Smith",
    "address_line_1": "10 Downing Street",
    "address_line_2": "",
    "town": "London",
    "postcode": "sw1a2aa",
    "phone": "",
    "contact_channel": "email",
}


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann")


@pytest.fixture
def ann_client(ann) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)
    return client


def visible_text(response) -> str:
    """The page's words without its tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def post(client: Client, data: dict[str, str]):
    """POST the form with the CSRF token the page gave, as a browser does."""
    client.get(URL)
    token = client.cookies["csrftoken"].value
    return client.post(URL, {**data, "csrfmiddlewaretoken": token})


# --- Access ------------------------------------------------------------------------------------


def test_the_profile_url_is_ours_not_allauths():
    assert reverse("account_profile") == URL


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_log_in(client):
    for response in (client.get(URL), client.post(URL, ADDRESS)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_post_without_csrf_token_is_refused(ann):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)
    response = client.post(URL, ADDRESS)
    assert response.status_code == 403
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_get_shows_labelled_fields_with_current_values(ann, ann_client):
    # given
    update_profile(user=ann, actor=ann, **ADDRESS)
    # when
    response = ann_client.get(URL)
    # then
    assert response.status_code == 200
    body = response.content.decode()
    for name in ADDRESS:
        if name != "contact_channel":
            assert f'<label for="id_{name}">' in body
    assert 'value="SW1A 2AA"' in body
    assert 'value="10 Downing Street"' in body
    assert '<label for="id_contact_channel_0">Email</label>' in body
    assert "csrfmiddlewaretoken" in body


@pytest.mark.django_db
def test_another_user_sees_only_their_own_profile(ann, make_user):
    # given Ann's address and change history
    update_profile(user=ann, actor=ann, **ADDRESS)
    bob = make_user("bob@example.com")
    client = Client()
    client.force_login(bob)
    # when Bob opens and saves the profile page
    page = client.get(URL)
    response = client.post(URL, {**ADDRESS, "postcode": "M1 1AE", "first_name": "Bob"})
    # then he saw nothing of Ann's and changed only his own record
    assert "Downing" not in page.content.decode()
    assert "SW1A 2AA" not in page.content.decode()
    assert response.status_code == 302
    assert Profile.objects.get(user=ann).postcode == "SW1A 2AA"
    assert Profile.objects.get(user=bob).postcode == "M1 1AE"
    assert set(AuditEvent.objects.filter(actor=bob).values_list("subject", flat=True)) == {bob.pk}


@pytest.mark.django_db
def test_the_service_refuses_an_actor_who_is_neither_the_person_nor_staff(ann, make_user):
    bob = make_user("bob@example.com")
    with pytest.raises(PermissionDenied):
        update_profile(user=ann, actor=bob, postcode="M1 1AE")
    assert not Profile.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_staff_may_correct_a_profile_and_are_recorded_as_the_actor(ann, make_user):
    support = make_user("support@example.com", is_staff=True)
    update_profile(user=ann, actor=support, source=AuditSource.STAFF, phone="020 7946 0000")
    event = AuditEvent.objects.get()
    assert (event.subject, event.actor, event.source) == (ann, support, "staff")


# --- Saving ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_valid_post_saves_normalises_and_says_what_changed(ann, ann_client):
    # when
    response = post(ann_client, {**ADDRESS, "last_name": "Smith", "phone": "07700 900123"})
    # then
    assert response.status_code == 302
    assert response["Location"] == URL
    profile = Profile.objects.get(user=ann)
    assert profile.postcode == "SW1A 2AA"
    assert profile.phone == "+447700900123"
    ann.refresh_from_db()
    assert ann.last_name == "Smith"
    page = text(ann_client.get(URL))
    assert (
        "Your profile is saved. Changed: last name, address line 1, town or city, postcode, "
        "phone number." in page
    )


@pytest.mark.django_db
def test_saving_unchanged_values_writes_nothing(ann, ann_client):
    update_profile(user=ann, actor=ann, **ADDRESS)
    count = AuditEvent.objects.count()
    response = post(ann_client, ADDRESS)
    assert response.status_code == 302
    assert AuditEvent.objects.count() == count
    assert AddressVerification.objects.count() == 1
    assert "Nothing changed." in text(ann_client.get(URL))


@pytest.mark.django_db
def test_profile_is_created_only_when_there_is_profile_data_to_keep(ann):
    update_profile(user=ann, actor=ann, first_name="Annie")
    assert not Profile.objects.exists()
    ann.refresh_from_db()
    assert ann.first_name == "Annie"
    update_profile(user=ann, actor=ann, phone="07700900123")
    assert Profile.objects.get(user=ann).phone == "+447700900123"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("sw1a 1aa", "SW1A 1AA"),
        ("  SW1A   1AA ", "SW1A 1AA"),
        ("m11ae", "M1 1AE"),
        ("b338th", "B33 8TH"),
        ("cr26xh", "CR2 6XH"),
        ("dn551pt", "DN55 1PT"),
        ("w1a0ax", "W1A 0AX"),
        ("ec1a1bb", "EC1A 1BB"),
        ("gir0aa", "GIR 0AA"),
    ],
)
@pytest.mark.django_db
def test_postcodes_are_stored_upper_case_with_one_space(ann, ann_client, typed, stored):
    response = post(ann_client, {**ADDRESS, "postcode": typed})
    assert response.status_code == 302
    assert Profile.objects.get(user=ann).postcode == stored


@pytest.mark.parametrize("typed", ["SW1A", "12345", "SW1A 1A", "QW1A 1AA", "SW1A 1AAA", "A1 1CI"])
@pytest.mark.django_db
def test_an_invalid_postcode_is_a_clear_error_and_nothing_is_saved(ann, ann_client, typed):
    response = post(ann_client, {**ADDRESS, "postcode": typed, "first_name": "Changed"})
    assert response.status_code == 400
    assert "Enter a UK postcode, like SW1A 1AA." in text(response)
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Profile.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not AddressVerification.objects.exists()
    ann.refresh_from_db()
    assert ann.first_name == "Ann"


@pytest.mark.django_db
def test_a_partial_address_asks_for_the_missing_parts(ann, ann_client):
    response = post(ann_client, {**ADDRESS, "town": "", "postcode": ""})
    assert response.status_code == 400
    page = text(response)
    assert "Enter your town or city." in page
    assert "Enter your postcode." in page
    assert not Profile.objects.exists()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("07700 900123", "+447700900123"),
        ("07700-900-123", "+447700900123"),
        ("(020) 7946 0000", "+442079460000"),
        ("+44 (0)20 7946 0000", "+442079460000"),
        ("+44 7700 900123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("01632 96011", "+44163296011"),
        ("", ""),
    ],
)
def test_phone_numbers_are_stored_in_international_form(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["12345", "07700", "077009001234567", "+4407700900123", "+44 123", "phone me", "+0123456789"],
)
@pytest.mark.django_db
def test_an_invalid_phone_is_refused(ann, ann_client, typed):
    response = post(ann_client, {**ADDRESS, "phone": typed})
    assert response.status_code == 400
    assert "Enter a UK phone number like 07700 900123" in text(response)
    assert not Profile.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_customer_service_by_phone_needs_a_phone_number(ann, ann_client):
    response = post(ann_client, {**ADDRESS, "contact_channel": "phone", "phone": ""})
    assert response.status_code == 400
    assert "Enter a phone number for customer service to call, or choose email replies." in text(
        response
    )
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_customer_service_by_phone_with_a_number_is_kept(ann, ann_client):
    response = post(ann_client, {**ADDRESS, "contact_channel": "phone", "phone": "07700900123"})
    assert response.status_code == 302
    profile = Profile.objects.get(user=ann)
    assert (profile.contact_channel, profile.phone) == ("phone", "+447700900123")


@pytest.mark.django_db
def test_removing_the_phone_while_replies_are_by_phone_is_refused_by_the_service(ann):
    update_profile(user=ann, actor=ann, phone="07700900123", contact_channel="phone")
    with pytest.raises(ValidationError) as error:
        update_profile(user=ann, actor=ann, phone="")
    assert "phone" in error.value.message_dict
    assert Profile.objects.get(user=ann).phone == "+447700900123"


@pytest.mark.django_db
def test_an_unknown_channel_is_refused(ann, ann_client):
    response = post(ann_client, {**ADDRESS, "contact_channel": "pigeon"})
    assert response.status_code == 400
    assert "Choose email or phone." in text(response)


@pytest.mark.django_db
def test_the_service_refuses_fields_it_does_not_edit(ann):
    with pytest.raises(TypeError, match="email"):
        update_profile(user=ann, actor=ann, email="evil@example.com")


# --- What the page shows -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_lists_the_persons_own_recent_changes(ann, ann_client):
    post(ann_client, ADDRESS)
    post(ann_client, {**ADDRESS, "postcode": "SW1A 1AA"})
    page = visible_text(ann_client.get(URL))
    assert "Recent changes to your details" in page
    assert "Postcode SW1A 2AA SW1A 1AA" in page
    assert "Postcode (empty) SW1A 2AA" in page
    assert "You" in page


@pytest.mark.django_db
def test_the_page_shows_the_address_check_and_its_source(ann, ann_client):
    post(ann_client, ADDRESS)
    page = visible_text(ann_client.get(URL))
    assert "Checked. The postcode is a valid UK postcode; the address was not looked up." in page
    assert "Checked by postcode_format" in page
    assert "information from a third party" in page
