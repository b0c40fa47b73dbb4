"""API errors and their documentation: the schema and docs endpoints answer their errors in JSON,
the campaign lists refuse an empty or unknown status filter naming the field, and the OpenAPI
schema documents the field-error shape, the 404s and the invalid cursor."""

from __future__ import annotations

import base64

import pytest
import yaml
from rest_framework.test import APIClient

from communications.services import cancel_campaign
from tests.factories import CampaignFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns/"


@pytest.fixture
def api(marketer) -> APIClient:
    return logged_in(marketer, APIClient)


def campaign(actor, name: str):
    return CampaignFactory(actor=actor, name=name, subject_line=name, body="Hello")


# --- The schema and the docs page -----------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/docs/", "/api/schema/"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_method_the_schema_and_docs_do_not_take_is_a_json_405(url, method):
    response = getattr(APIClient(), method)(url)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
    assert "GET" in response["Allow"]


def test_the_docs_page_and_schema_still_render_as_before():
    client = APIClient()

    page = client.get("/api/docs/")
    schema = client.get("/api/schema/")

    assert page.status_code == schema.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert schema["Content-Type"].startswith("application/vnd.oai.openapi")


# --- The status filters ---------------------------------------------------------------------------


def test_the_campaign_list_filters_by_status(api, marketer):
    kept = campaign(marketer, "Kept")
    cancel_campaign(campaign=campaign(marketer, "Dropped"))

    drafts = api.get(CAMPAIGNS, {"status": "draft"})
    everything = api.get(CAMPAIGNS)

    assert [row["id"] for row in drafts.json()["results"]] == [kept.pk]
    assert len(everything.json()["results"]) == 2


@pytest.mark.parametrize("value", ["", "drafts", "\u00e9t\u00e9"])
def test_an_empty_or_unknown_campaign_status_is_a_400_naming_the_field(api, marketer, value):
    campaign(marketer, "Spring")

    response = api.get(f"{CAMPAIGNS}?status={value}")

    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    assert response.json()["status"] == [
        f'"{value}" is not a status of campaigns: choose one of draft, scheduled, sending, '
        "paused, cancelled, completed, or leave status out for every status."
    ]


def test_an_empty_delivery_status_is_a_400_naming_the_field(api, marketer):
    spring = campaign(marketer, "Spring")

    response = api.get(f"{CAMPAIGNS}{spring.pk}/deliveries/?status=")

    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    assert "is not a status of deliveries" in response.json()["status"][0]


def _cursor(query: str) -> str:
    """A cursor as DRF encodes one, made by hand."""
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", _cursor("p=abc"), _cursor("p=1.5&r=1")],
    ids=["not-base64", "position-not-a-number", "position-a-fraction"],
)
@pytest.mark.parametrize("list_url", [CAMPAIGNS, "deliveries"])
def test_an_invalid_cursor_is_a_json_404(api, marketer, list_url, cursor):
    spring = campaign(marketer, "Spring")
    url = f"{CAMPAIGNS}{spring.pk}/deliveries/" if list_url == "deliveries" else list_url

    response = api.get(url, {"cursor": cursor})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


# --- What the schema says -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return yaml.safe_load(APIClient().get("/api/schema/").content)


def responses(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]["responses"]


def example_values(response: dict) -> list:
    examples = response["content"]["application/json"].get("examples", {})
    return [example["value"] for example in examples.values()]


def test_the_schema_documents_the_field_error_shape(schema):
    field_errors = schema["components"]["schemas"]["FieldErrors"]
    refusal = responses(schema, "/api/v1/campaigns/", "post")["400"]

    assert field_errors["type"] == "object"
    itself = {"$ref": "#/components/schemas/FieldErrors"}
    assert field_errors["additionalProperties"]["anyOf"] == [
        # messages, or a list of objects' errors
        {"type": "array", "items": {"anyOf": [{"type": "string"}, itself]}},
        # an object's errors, or a list's by index
        itself,
    ]
    assert refusal["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CampaignRefusal"
    }
    assert schema["components"]["schemas"]["CampaignRefusal"]["oneOf"] == [
        {"$ref": "#/components/schemas/FieldErrors"},
        {"$ref": "#/components/schemas/ErrorDetail"},
    ]
    assert any("segment" in value for value in example_values(refusal))


def test_the_schema_documents_the_404s_and_the_invalid_cursor(schema):
    listing = responses(schema, "/api/v1/campaigns/", "get")
    deliveries = responses(schema, "/api/v1/campaigns/{id}/deliveries/", "get")
    one = responses(schema, "/api/v1/campaigns/{id}/", "get")

    assert example_values(listing["404"]) == [{"detail": "Invalid cursor"}]
    assert {"detail": "Invalid cursor"} in example_values(deliveries["404"])
    assert {"detail": "No such campaign."} in example_values(deliveries["404"])
    assert example_values(one["404"]) == [{"detail": "No such campaign."}]


def test_the_schema_does_not_offer_an_empty_status(schema):
    operation = schema["paths"]["/api/v1/campaigns/"]["get"]
    status = next(p for p in operation["parameters"] if p["name"] == "status")

    assert "" not in status["schema"]["enum"]
    assert status["schema"]["minLength"] == 1
    assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FieldErrors"
    }
