"""Address verification: the postcode format check, the AFD verifier (its HTTP call mocked:
tests never reach the internet), and swapping verifiers through ``ADDRESS_VERIFIER``."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.address import (
    AddressInput,
    AFDVerifier,
    InvalidPostcode,
    PostcodeFormatVerifier,
    VerificationResult,
    get_verifier,
    normalise_postcode,
)
from accounts.models import AddressVerification
from accounts.services import update_profile

AFD_URL = "https://afd.example/json/addresslookup"
ADDRESS = AddressInput(line_1="10 Downing Street", town="London", postcode="SW1A 2AA")


class FakeVerifier:
    """A verifier plugged in by settings: says every address is verified, and remembers."""

    source = "fake_registry"
    calls: list[AddressInput] = []

    def verify(self, address: AddressInput) -> VerificationResult:
        FakeVerifier.calls.append(address)
        return VerificationResult(
            verified=True,
            source=self.source,
            postcode=address.postcode,
            address={"line_1": address.line_1.upper()},
            detail="Found in the fake registry.",
            response={"id": "fake-1"},
        )


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com")


@pytest.fixture
def afd_settings(settings):
    settings.ADDRESS_VERIFIER = "accounts.address.AFDVerifier"
    settings.AFD_API_URL = AFD_URL
    settings.AFD_API_KEY = "test-key"
    settings.AFD_TIMEOUT = 1.5
    return settings


def http_response(payload: object, status: int = 200) -> mock.MagicMock:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = mock.MagicMock()
    response.__enter__.return_value = response
    response.read.side_effect = lambda *args: body
    response.status = status
    return response


# --- The default: postcode format --------------------------------------------------------------


def test_the_default_verifier_is_the_postcode_format_check(settings):
    del settings.ADDRESS_VERIFIER
    assert isinstance(get_verifier(), PostcodeFormatVerifier)


def test_postcode_format_verifier_normalises_a_valid_postcode():
    result = PostcodeFormatVerifier().verify(AddressInput(line_1="1 A St", postcode="sw1a2aa"))
    assert result.verified
    assert result.postcode == "SW1A 2AA"
    assert result.source == "postcode_format"
    assert "not looked up" in result.detail


def test_postcode_format_verifier_says_no_to_a_bad_postcode():
    result = PostcodeFormatVerifier().verify(AddressInput(postcode="not a postcode"))
    assert not result.verified
    assert result.detail == "Enter a UK postcode, like SW1A 1AA."


@pytest.mark.parametrize("bad", ["", "SW1A", "VW1A 1AA", "SW1A 1CA", "1AB 2CD", "SW1A-1AA"])
def test_normalise_postcode_refuses_what_is_not_a_uk_postcode(bad):
    with pytest.raises(InvalidPostcode):
        normalise_postcode(bad)


# --- Swapping verifiers through settings -------------------------------------------------------


@pytest.mark.django_db
def test_a_verifier_named_in_settings_is_used_and_its_answer_kept_with_its_source(ann, settings):
    # given
    settings.ADDRESS_VERIFIER = f"{__name__}.FakeVerifier"
    FakeVerifier.calls.clear()
    # when
    update = update_profile(
        user=ann, actor=ann, address_line_1="10 Downing St", town="London", postcode="sw1a2aa"
    )
    # then
    assert FakeVerifier.calls == [
        AddressInput(line_1="10 Downing St", town="London", postcode="SW1A 2AA")
    ]
    row = AddressVerification.objects.get(user=ann)
    assert update.verification == row
    assert (row.source, row.verified, row.postcode) == ("fake_registry", True, "SW1A 2AA")
    assert row.detail == "Found in the fake registry."
    assert row.result["response"] == {"id": "fake-1"}
    assert row.result["address"] == {"line_1": "10 DOWNING ST"}


@pytest.mark.django_db
def test_the_verifier_runs_only_when_the_address_changes(ann, settings):
    settings.ADDRESS_VERIFIER = f"{__name__}.FakeVerifier"
    FakeVerifier.calls.clear()
    update_profile(user=ann, actor=ann, address_line_1="1 A St", town="X", postcode="M1 1AE")
    update_profile(user=ann, actor=ann, phone="07700900123", first_name="Ann")
    assert len(FakeVerifier.calls) == 1
    update_profile(user=ann, actor=ann, town="Manchester")
    assert len(FakeVerifier.calls) == 2
    assert AddressVerification.objects.filter(user=ann).count() == 2


def test_an_unknown_verifier_is_a_configuration_error(settings):
    settings.ADDRESS_VERIFIER = "accounts.address.NoSuchVerifier"
    with pytest.raises(ImproperlyConfigured, match="NoSuchVerifier"):
        get_verifier()


# --- AFD -----------------------------------------------------------------------------------------


def test_afd_needs_its_url_and_key(settings):
    settings.AFD_API_URL = AFD_URL
    settings.AFD_API_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="AFD_API_KEY"):
        AFDVerifier()


def test_afd_refuses_a_plain_http_endpoint(afd_settings):
    afd_settings.AFD_API_URL = "http://afd.example/lookup"
    with pytest.raises(ImproperlyConfigured, match="https"):
        AFDVerifier()


def test_afd_success_sends_the_key_in_a_header_and_returns_the_address(afd_settings):
    payload = {
        "Result": 1,
        "Item": [
            {"Property": "10", "Street": "Downing Street", "Town": "LONDON", "Postcode": "SW1A2AA"}
        ],
    }
    with mock.patch.object(urllib.request, "urlopen", return_value=http_response(payload)) as call:
        result = get_verifier().verify(ADDRESS)

    request = call.call_args.args[0]
    assert call.call_args.kwargs["timeout"] == 1.5
    assert request.full_url.startswith(f"{AFD_URL}?")
    assert "postcode=SW1A+2AA" in request.full_url
    assert "test-key" not in request.full_url
    assert request.get_header("Authorization") == "Bearer test-key"
    assert result.verified
    assert result.source == "afd"
    assert result.postcode == "SW1A 2AA"
    assert result.address == {
        "line_1": "10 Downing Street",
        "town": "LONDON",
        "postcode": "SW1A 2AA",
    }
    assert result.response == payload


def test_afd_not_found_is_recorded_as_not_verified(afd_settings):
    payload = {"Result": -2, "Item": []}
    with mock.patch.object(urllib.request, "urlopen", return_value=http_response(payload)):
        result = AFDVerifier().verify(ADDRESS)
    assert not result.verified
    assert result.source == "afd"
    assert "found no address" in result.detail


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (TimeoutError("timed out"), "did not answer within 1.5 seconds"),
        (urllib.error.URLError(TimeoutError("timed out")), "did not answer within 1.5 seconds"),
        (urllib.error.URLError(ConnectionRefusedError()), "could not be reached"),
        (
            urllib.error.HTTPError(AFD_URL, 503, "Unavailable", {}, io.BytesIO(b"")),
            "answered HTTP 503",
        ),
    ],
)
def test_afd_failure_falls_back_to_the_format_check_with_a_clear_note(
    afd_settings, failure, reason
):
    with mock.patch.object(urllib.request, "urlopen", side_effect=failure):
        result = AFDVerifier().verify(ADDRESS)
    assert result.source == "postcode_format"
    assert result.verified  # the postcode's format is valid
    assert result.postcode == "SW1A 2AA"
    assert result.detail.startswith(f"AFD {reason}; only the postcode format was checked.")
    assert result.response == {"fallback_from": "afd", "error": reason}


NONSENSE = [
    b"<html>oops</html>",
    b"[1, 2]",
    b'{"Result": "x"}',
    b'{"Result": 1, "Item": ["x"]}',
    b'{"Result": 1, "Item": "x"}',
    b'{"Result": Infinity, "Item": [{}]}',
    b'{"Result": 1e400, "Item": [{}]}',
    b'{"Result": NaN, "Item": [{}]}',
    b'{"Result": 1, "Item": [{"Town": "Lon\\u0000don"}]}',
    b"[" * 5000 + b"]" * 5000,
]


@pytest.mark.parametrize("body", NONSENSE)
def test_afd_nonsense_answer_falls_back_too(afd_settings, body):
    with mock.patch.object(urllib.request, "urlopen", return_value=http_response(body)):
        result = AFDVerifier().verify(ADDRESS)
    assert result.source == "postcode_format"
    assert "gave an answer we could not read" in result.detail


def save_downing_street(client):
    """The customer saves 10 Downing Street on their profile page."""
    return client.post(
        "/accounts/profile/",
        {
            "address_line_1": "10 Downing Street",
            "town": "London",
            "postcode": "sw1a 2aa",
            "contact_channel": "email",
        },
    )


@pytest.mark.django_db
@pytest.mark.parametrize("body", NONSENSE[3:])
def test_afd_nonsense_answer_still_saves_the_profile(ann, afd_settings, client, body):
    client.force_login(ann)
    with mock.patch.object(urllib.request, "urlopen", return_value=http_response(body)):
        response = save_downing_street(client)
    assert response.status_code == 302
    row = AddressVerification.objects.get(user=ann)
    assert row.source == "postcode_format"
    assert row.result["response"]["fallback_from"] == "afd"


@pytest.mark.django_db
def test_afd_timeout_still_saves_the_profile_and_records_the_fallback(ann, afd_settings, client):
    # given AFD does not answer
    with mock.patch.object(urllib.request, "urlopen", side_effect=TimeoutError()):
        # when the customer saves an address
        client.force_login(ann)
        response = save_downing_street(client)
    # then the address is saved and the page says only the format was checked
    assert response.status_code == 302
    row = AddressVerification.objects.get(user=ann)
    assert row.source == "postcode_format"
    assert row.result["response"]["fallback_from"] == "afd"
    page = " ".join(client.get("/accounts/profile/").content.decode().split())
    assert "AFD did not answer within 1.5 seconds; only the postcode format was checked." in page


@pytest.mark.django_db
def test_afd_answer_is_stored_as_third_party_data(ann, afd_settings):
    payload = {"Result": 1, "Item": [{"Property": "10", "Town": "LONDON", "Postcode": "SW1A 2AA"}]}
    with mock.patch.object(urllib.request, "urlopen", return_value=http_response(payload)):
        update_profile(
            user=ann, actor=ann, address_line_1="10 Downing St", town="London", postcode="SW1A2AA"
        )
    row = AddressVerification.objects.get(user=ann)
    assert (row.source, row.verified) == ("afd", True)
    assert row.result["response"] == payload
