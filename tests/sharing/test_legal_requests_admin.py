"""Legal requests in the admin: logging one with its PDF, the Privacy Officer's decision and
fulfilment, and the order and export served only to Privacy Officers, as attachments, each
download recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.checks import Error
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from sharing.checks import private_storage_is_not_public
from sharing.legal_models import LegalRequest
from sharing.models import DataCategory, Disclosure
from sharing.services import LegalScope, approve_legal_request, log_legal_request
from tests.factories import set_up_second_factor
from tests.harness.http import text
from tests.sharing.conftest import COURTS, party, staff_client

pytestmark = pytest.mark.django_db
LIST = "/admin/sharing/legalrequest/"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
TODAY = timezone.localdate()
Status = LegalRequest.Status


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path) -> Path:
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


def staff_member(django_user_model, email: str, *codenames: str):
    user = django_user_model.objects.create_user(email, "a long test password", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="sharing", codename__in=codenames)
    )
    set_up_second_factor(user)
    return user


@pytest.fixture
def clerk(django_user_model):
    return staff_member(
        django_user_model, "clerk@jessops.example", "add_legalrequest", "view_legalrequest"
    )


@pytest.fixture
def officers(django_user_model):
    return [
        staff_member(
            django_user_model,
            f"officer{n}@jessops.example",
            "view_legalrequest",
            "approve_legalrequest",
        )
        for n in (1, 2)
    ]


@pytest.fixture
def ann(make_user):
    return make_user(
        "ann@example.com", first_name="Ann", date_joined=timezone.now() - timedelta(days=90)
    )


@pytest.fixture
def logged(clerk, ann) -> LegalRequest:
    return log_legal_request(
        authority=party(COURTS),
        authority_reference="Case 2026/99",
        description="Names of the account holders.",
        document=SimpleUploadedFile("order.pdf", PDF),
        scope=LegalScope(
            people=[ann],
            categories=[DataCategory.NAME],
            period_start=TODAY - timedelta(days=30),
            period_end=TODAY,
        ),
        actor=clerk,
    )


def add_form(**overrides) -> dict:
    return {
        "authority": party(COURTS).pk,
        "authority_reference": "Case 2026/99",
        "description": "Names of the account holders.",
        "order_document": SimpleUploadedFile("court-order.pdf", PDF, "application/pdf"),
        "people_emails": "ANN@example.com\n",
        "categories": [DataCategory.NAME],
        "period_start": (TODAY - timedelta(days=30)).isoformat(),
        "period_end": TODAY.isoformat(),
        **overrides,
    }


def test_staff_log_a_request_with_its_order_in_the_admin(clerk, ann):
    response = staff_client(clerk).post(f"{LIST}add/", add_form())

    assert response.status_code == 302
    request = LegalRequest.objects.get()
    assert request.logged_by == clerk and list(request.people.all()) == [ann]
    assert request.document_name == "court-order.pdf" and request.document.read() == PDF


def test_the_form_names_each_problem_and_logs_nothing(clerk, ann):
    client = staff_client(clerk)

    not_pdf = client.post(
        f"{LIST}add/",
        add_form(order_document=SimpleUploadedFile("order.pdf", b"<html></html>", "text/html")),
    )
    unknown = client.post(f"{LIST}add/", add_form(people_emails="nobody@example.com"))
    backwards = client.post(
        f"{LIST}add/",
        add_form(
            period_start=TODAY.isoformat(), period_end=(TODAY - timedelta(days=9)).isoformat()
        ),
    )

    assert not_pdf.status_code == unknown.status_code == backwards.status_code == 200
    assert "must be a PDF" in text(not_pdf)
    assert "No account has the address nobody@example.com" in text(unknown)
    assert "can&#x27;t end before it starts" in text(backwards)
    assert not LegalRequest.objects.exists()


def document_url(request: LegalRequest) -> str:
    return f"{LIST}{request.pk}/document/"


def test_the_order_document_is_served_only_to_privacy_officers_as_an_attachment(
    client, logged, clerk, officers
):
    # anonymous visitors are sent to log in; staff who are not Privacy Officers are refused,
    # the one who logged it included
    assert client.get(document_url(logged)).status_code == 302
    assert "/admin/login/" in client.get(document_url(logged))["Location"]
    assert staff_client(clerk).get(document_url(logged)).status_code == 403
    assert not logged.steps.filter(kind="document_downloaded").exists()

    response = staff_client(officers[0]).get(document_url(logged))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{logged.reference}-order.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == PDF
    step = logged.steps.get(kind="document_downloaded")
    assert step.actor == officers[0]


def test_a_customer_logged_in_on_the_site_cannot_fetch_the_document(client, logged, ann):
    client.force_login(ann, backend="django.contrib.auth.backends.ModelBackend")

    response = client.get(document_url(logged))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_officer_page_offers_the_decision_only_to_another_officer(
    logged, clerk, officers, django_user_model
):
    # an officer who logged a request is told another must decide
    own = log_legal_request(
        authority=party(COURTS),
        authority_reference="Case 2026/100",
        description="Names.",
        document=SimpleUploadedFile("order.pdf", PDF),
        scope=LegalScope(
            people=list(logged.people.all()),
            categories=[DataCategory.NAME],
            period_start=TODAY - timedelta(days=3),
            period_end=TODAY,
        ),
        actor=staff_member(
            django_user_model,
            "officer3@jessops.example",
            "add_legalrequest",
            "view_legalrequest",
            "approve_legalrequest",
        ),
    )
    page = text(staff_client(own.logged_by).get(f"{LIST}{own.pk}/change/"))
    assert "another Privacy Officer must approve or reject it" in page
    assert "Approve" not in page
    # another officer gets the buttons and the download
    page = text(staff_client(officers[0]).get(f"{LIST}{logged.pk}/change/"))
    assert "Approve" in page and "Download the order document" in page
    # staff who may only view see neither
    page = text(staff_client(clerk).get(f"{LIST}{logged.pk}/change/"))
    assert "Approve" not in page and "Download the order document" not in page
    assert "Case 2026/99" in page and "Logged" in page


def test_the_logger_cannot_approve_through_the_admin_and_another_officer_can(
    logged, clerk, officers
):
    approve = f"{LIST}{logged.pk}/decide/approve/"

    assert staff_client(clerk).post(approve, {"reason": "Valid"}).status_code == 403
    assert staff_client(officers[0]).get(approve).status_code == 405
    response = staff_client(officers[0]).post(approve, {"reason": "Valid order"})

    assert response.status_code == 302
    logged.refresh_from_db()
    assert logged.status == Status.APPROVED and logged.decided_by == officers[0]


def test_fulfilling_in_the_admin_logs_the_disclosures_and_offers_the_export(logged, officers):
    approve_legal_request(request=logged, actor=officers[0], reason="Valid order")
    officer = staff_client(officers[1])

    response = officer.post(f"{LIST}{logged.pk}/fulfil/")

    assert response.status_code == 302
    logged.refresh_from_db()
    assert logged.status == Status.FULFILLED
    assert Disclosure.objects.get().reference.startswith(logged.reference)
    export = officer.get(f"{LIST}{logged.pk}/export/")
    assert export.status_code == 200
    assert export["Content-Disposition"] == f'attachment; filename="{logged.reference}-export.json"'
    assert export["X-Content-Type-Options"] == "nosniff"
    assert b'"format": "legal-request-export/1"' in b"".join(export.streaming_content)
    assert logged.steps.filter(kind="export_downloaded", actor=officers[1]).exists()


def test_an_export_before_fulfilment_is_not_found(logged, officers):
    assert staff_client(officers[0]).get(f"{LIST}{logged.pk}/export/").status_code == 404


def test_fulfilment_before_approval_is_refused_in_the_admin(logged, officers):
    response = staff_client(officers[0]).post(f"{LIST}{logged.pk}/fulfil/", follow=True)

    assert "has not been approved" in text(response)
    logged.refresh_from_db()
    assert logged.status == Status.AWAITING_APPROVAL and not Disclosure.objects.exists()


def test_private_storage_inside_a_served_folder_is_refused_at_start_up(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "static" / "private"

    (problem,) = private_storage_is_not_public(None)

    assert isinstance(problem, Error) and problem.id == "sharing.E001"
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    assert private_storage_is_not_public(None) == []
