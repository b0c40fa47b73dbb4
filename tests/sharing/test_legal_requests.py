"""Legal requests: logged with their order (a PDF, kept privately), approved or rejected by a
Privacy Officer other than the one who logged them, fulfilled only once approved, with an
export limited to the people, kinds of data and period asked for and one disclosure per
person; every step recorded, the steps append-only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditSource
from accounts.services import deactivate_account, update_profile
from accounts.services.audit import FieldChange, record_changes
from api_keys.models import Scope
from api_keys.services import issue_api_key
from consent.services import ConsentSource, grant_consent
from sharing import legal_export
from sharing.legal_models import LegalRequest, LegalRequestStep
from sharing.models import DataCategory, Disclosure, DisclosurePurpose, LegalBasis, Role
from sharing.services import (
    LegalRequestError,
    LegalScope,
    PartyDetails,
    approve_legal_request,
    fulfil_legal_request,
    log_legal_request,
    register_third_party,
    reject_legal_request,
)
from sharing.services.orders import (
    OrderCustomer,
    OrderItem,
    OrderRequest,
    PostalAddress,
    take_order,
)
from tests.factories import StaffFactory, set_up_second_factor
from tests.sharing.conftest import COURTS, PARCELFORCE, party
from tests.surveys.conftest import SURVEY_RIGHTS, enter, make_survey

pytestmark = pytest.mark.django_db
Status = LegalRequest.Status
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TODAY = timezone.localdate()


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
    """Logs requests; not a Privacy Officer."""
    return staff_member(
        django_user_model, "clerk@jessops.example", "add_legalrequest", "view_legalrequest"
    )


@pytest.fixture
def officers(django_user_model):
    """Two Privacy Officers."""
    return [
        staff_member(
            django_user_model,
            f"officer{n}@jessops.example",
            "add_legalrequest",
            "view_legalrequest",
            "approve_legalrequest",
        )
        for n in (1, 2)
    ]


def pdf(content: bytes = PDF, name: str = "order.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def scope(people, categories=(DataCategory.POSTAL_ADDRESS,), *, start=None, end=None):
    return LegalScope(
        people=people,
        categories=list(categories),
        period_start=start or TODAY - timedelta(days=60),
        period_end=end or TODAY - timedelta(days=30),
    )


def log(actor, people, *, document=None, authority=None, **scope_args) -> LegalRequest:
    return log_legal_request(
        authority=authority or party(COURTS),
        authority_reference="Leeds Crown Court 2026/417",
        description="Production order: postal addresses held for the named people.",
        document=document or pdf(),
        scope=scope(people, **scope_args),
        actor=actor,
    )


def at(monkeypatch, days_ago: int) -> None:
    moment = timezone.now() - timedelta(days=days_ago)
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture
def people(make_user, monkeypatch):
    """Ann moved twice: before the period (to 1 Old Road), during it (to 2 Middle Street) and
    after it (to 3 New Road). Bob never moved; Cy is not in the order."""
    joined = timezone.now() - timedelta(days=100)
    ann = make_user("ann@example.com", first_name="Ann", last_name="Quist", date_joined=joined)
    bob = make_user("bob@example.com", first_name="Bob", date_joined=joined)
    cy = make_user("cy@example.com", first_name="Cy", date_joined=joined)
    with monkeypatch.context() as patch:
        at(patch, 90)
        update_profile(
            user=ann, actor=ann, address_line_1="1 Old Road", town="Leeds", postcode="LS1 1AA"
        )
        update_profile(
            user=bob, actor=bob, address_line_1="9 Elm Lane", town="York", postcode="YO1 7HH"
        )
        update_profile(
            user=cy, actor=cy, address_line_1="5 Cy Court", town="Hull", postcode="HU1 1AA"
        )
        grant_consent(subject=ann, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    with monkeypatch.context() as patch:
        at(patch, 50)
        update_profile(user=ann, actor=ann, address_line_1="2 Middle Street")
        grant_consent(subject=ann, purpose="special_offers", source=ConsentSource.PREFERENCE_CENTRE)
    with monkeypatch.context() as patch:
        at(patch, 10)
        update_profile(user=ann, actor=ann, address_line_1="3 New Road")
    return {"ann": ann, "bob": bob, "cy": cy}


def kinds(request: LegalRequest) -> list[str]:
    return list(request.steps.order_by("id").values_list("kind", flat=True))


# --- Logging ----------------------------------------------------------------------------------


def test_a_logged_request_awaits_approval_with_its_order_kept_privately(
    clerk, people, private_root, settings
):
    request = log(clerk, [people["ann"], people["bob"]])

    assert request.status == Status.AWAITING_APPROVAL and request.logged_by == clerk
    assert request.reference == f"LR-{request.pk:05d}"
    assert set(request.people.all()) == {people["ann"], people["bob"]}
    assert request.categories == [DataCategory.POSTAL_ADDRESS]
    # the order is stored under the private root, by a name of our own, readable by us only
    stored = Path(request.document.path)
    assert private_root.resolve() in stored.parents and stored.read_bytes() == PDF
    assert stored.name != "order.pdf" and stored.stat().st_mode & 0o077 == 0
    assert request.document_name == "order.pdf" and request.document_size == len(PDF)
    # it has no URL at all
    with pytest.raises(ValueError, match="no URL"):
        request.document.url  # noqa: B018
    (step,) = request.steps.all()
    assert (step.kind, step.actor) == ("logged", clerk)
    assert step.details["people"] == sorted([people["ann"].pk, people["bob"].pk])


@pytest.mark.parametrize(
    ("content", "name", "problem"),
    [
        (b"<html><script>alert(1)</script></html>", "order.pdf", "must be a PDF"),
        (b"%PDF-1.7 but never ends", "order.pdf", "must be a PDF"),
        (b"", "order.pdf", "empty"),
        (PDF + b"x" * 2048, "order.pdf", "larger than"),
    ],
)
def test_an_order_that_is_not_a_pdf_or_too_large_is_refused_and_nothing_is_kept(
    clerk, people, private_root, settings, content, name, problem
):
    settings.LEGAL_REQUEST_DOCUMENT_MAX_BYTES = 1024

    with pytest.raises(LegalRequestError, match=problem):
        log(clerk, [people["ann"]], document=pdf(content, name))

    assert not LegalRequest.objects.exists()
    assert not private_root.exists() or not any(private_root.rglob("*.*"))


def test_logging_needs_the_right_to(django_user_model, people):
    viewer = staff_member(django_user_model, "viewer@jessops.example", "view_legalrequest")

    for actor in (viewer, people["ann"]):
        with pytest.raises(LegalRequestError, match="may not log"):
            log(actor, [people["ann"]])
    assert not LegalRequest.objects.exists()


def test_the_scope_is_checked_against_the_register_and_the_calendar(
    clerk, people, officer, django_user_model
):
    ann = [people["ann"]]
    # a party that is not a public authority
    with pytest.raises(LegalRequestError, match="not a public authority"):
        log(clerk, ann, authority=party(PARCELFORCE))
    # a named authority registered for names only can't be asked for addresses
    regulator = register_third_party(
        details=PartyDetails(
            name="Information Commissioner's Office",
            role=Role.PUBLIC_AUTHORITY,
            purposes=[DisclosurePurpose.LEGAL_OBLIGATION],
            purpose_description="Regulator's investigations.",
            categories=[DataCategory.NAME],
            retention_promise="As the law requires.",
            active_from=TODAY - timedelta(days=365),
        ),
        actor=officer,
        reason="A regulator that may order disclosures.",
    )
    with pytest.raises(LegalRequestError, match="may not receive Postal address"):
        log(clerk, ann, authority=regulator)
    assert log(clerk, ann, authority=regulator, categories=[DataCategory.NAME])
    # a period that ends before it starts, or starts in the future
    with pytest.raises(LegalRequestError, match="can't end before it starts"):
        log(clerk, ann, start=TODAY - timedelta(days=3), end=TODAY - timedelta(days=5))
    with pytest.raises(LegalRequestError, match="can't start in the future"):
        log(clerk, ann, start=TODAY + timedelta(days=1), end=TODAY + timedelta(days=2))
    # nobody, or no kind of data
    with pytest.raises(LegalRequestError, match="Name the people"):
        log(clerk, [])
    with pytest.raises(LegalRequestError, match="Name the kinds of data"):
        log(clerk, ann, categories=[])
    assert LegalRequest.objects.count() == 1


# --- Four eyes --------------------------------------------------------------------------------


def test_the_officer_who_logged_a_request_cannot_approve_or_reject_it(officers, people):
    first, second = officers
    request = log(first, [people["ann"]])

    for decide in (approve_legal_request, reject_legal_request):
        with pytest.raises(LegalRequestError, match="another Privacy Officer"):
            decide(request=request, actor=first, reason="Looks valid")

    request.refresh_from_db()
    assert request.status == Status.AWAITING_APPROVAL and request.decided_by is None
    assert kinds(request) == ["logged"]
    # and the database refuses it too
    with pytest.raises(IntegrityError), transaction.atomic():
        LegalRequest.objects.filter(pk=request.pk).update(
            status=Status.APPROVED, decided_by=first, decided_at=timezone.now()
        )
    # another officer may
    approved = approve_legal_request(request=request, actor=second, reason="Valid order")
    assert approved.status == Status.APPROVED and approved.decided_by == second
    assert kinds(request) == ["logged", "approved"]
    assert request.steps.get(kind="approved").note == "Valid order"


def test_someone_who_is_not_a_privacy_officer_cannot_approve(clerk, officers, people):
    request = log(officers[0], [people["ann"]])

    with pytest.raises(LegalRequestError, match="Only a Privacy Officer"):
        approve_legal_request(request=request, actor=clerk, reason="Looks fine")
    with pytest.raises(LegalRequestError, match="Only a Privacy Officer"):
        approve_legal_request(request=request, actor=people["bob"], reason="Looks fine")

    request.refresh_from_db()
    assert request.status == Status.AWAITING_APPROVAL


def test_a_decision_needs_a_reason_and_is_taken_once(clerk, officers, people):
    request = log(clerk, [people["ann"]])

    with pytest.raises(LegalRequestError, match="reason"):
        approve_legal_request(request=request, actor=officers[0], reason="  ")
    reject_legal_request(request=request, actor=officers[0], reason="Order not signed")
    with pytest.raises(LegalRequestError, match="already rejected"):
        approve_legal_request(request=request, actor=officers[1], reason="Signed after all")


def test_fulfilment_before_approval_is_refused(clerk, officers, people):
    request = log(clerk, [people["ann"]])

    with pytest.raises(LegalRequestError, match="has not been approved"):
        fulfil_legal_request(request=request, actor=officers[0])

    request.refresh_from_db()
    assert request.status == Status.AWAITING_APPROVAL and not request.export
    assert not Disclosure.objects.exists()


def test_a_rejected_request_cannot_be_fulfilled(clerk, officers, people):
    request = log(clerk, [people["ann"]])
    reject_legal_request(request=request, actor=officers[0], reason="Out of jurisdiction")

    with pytest.raises(LegalRequestError, match="was rejected"):
        fulfil_legal_request(request=request, actor=officers[1])

    assert not Disclosure.objects.exists()
    assert kinds(request) == ["logged", "rejected"]


def test_only_a_privacy_officer_fulfils_and_only_once(clerk, officers, people):
    request = log(clerk, [people["ann"]])
    approve_legal_request(request=request, actor=officers[0], reason="Valid")

    with pytest.raises(LegalRequestError, match="Only a Privacy Officer"):
        fulfil_legal_request(request=request, actor=clerk)
    fulfil_legal_request(request=request, actor=officers[1])
    with pytest.raises(LegalRequestError, match="already been fulfilled"):
        fulfil_legal_request(request=request, actor=officers[1])

    assert Disclosure.objects.count() == 1


# --- Fulfilment -------------------------------------------------------------------------------


def fulfilled(clerk, officers, people_in_scope, **scope_args) -> tuple[LegalRequest, dict]:
    request = log(clerk, people_in_scope, **scope_args)
    approve_legal_request(request=request, actor=officers[0], reason="Valid order")
    request = fulfil_legal_request(request=request, actor=officers[1])
    with request.export.open("rb") as export:
        return request, json.loads(export.read())


def test_the_export_holds_only_the_people_kinds_of_data_and_period_asked_for(
    clerk, officers, people
):
    ann, bob = people["ann"], people["bob"]

    request, export = fulfilled(clerk, officers, [ann, bob])

    assert request.status == Status.FULFILLED and request.fulfilled_by == officers[1]
    assert export["request"]["reference"] == request.reference
    assert export["request"]["kinds_of_data"] == ["Postal address"]
    # the people asked about, and nobody else
    assert [person["account"] for person in export["people"]] == [ann.pk, bob.pk]
    # their postal addresses only: no names, emails or consent
    assert all(set(person["data"]) == {"postal_address"} for person in export["people"])
    text = json.dumps(export)
    for elsewhere in ("ann@example.com", "Quist", "Bob", "newsletter", "Cy Court", "cy@"):
        assert elsewhere not in text
    # the addresses held during the period: the one at its start and the move within it,
    # never the one after it
    addresses = export["people"][0]["data"]["postal_address"]["postal_addresses"]
    assert [address["address_line_1"] for address in addresses] == [
        "1 Old Road",
        "2 Middle Street",
    ]
    assert "3 New Road" not in text
    bobs = export["people"][1]["data"]["postal_address"]["postal_addresses"]
    assert [address["address_line_1"] for address in bobs] == ["9 Elm Lane"]
    # the export's digest is recorded with the step
    step = request.steps.get(kind="fulfilled")
    assert step.actor == officers[1] and len(step.details["export_sha256"]) == 64


def test_fulfilment_logs_one_disclosure_per_person_to_the_authority(clerk, officers, people):
    ann, bob = people["ann"], people["bob"]

    request, _ = fulfilled(clerk, officers, [ann, bob])

    disclosures = Disclosure.objects.order_by("person_id")
    assert [d.person for d in disclosures] == [ann, bob]
    for disclosure in disclosures:
        assert disclosure.party == party(COURTS)
        assert disclosure.legal_basis == LegalBasis.LEGAL_OBLIGATION
        assert disclosure.purpose == DisclosurePurpose.LEGAL_OBLIGATION
        assert disclosure.categories == [DataCategory.POSTAL_ADDRESS]
        assert disclosure.reference == f"{request.reference} (Leeds Crown Court 2026/417)"
        assert disclosure.actor == officers[1]
    assert request.steps.get(kind="fulfilled").details["disclosures"] == [d.pk for d in disclosures]


def test_account_records_in_the_export_are_those_of_the_period(clerk, officers, people):
    _, export = fulfilled(
        clerk, officers, [people["ann"]], categories=[DataCategory.ACCOUNT_RECORDS]
    )

    data = export["people"][0]["data"]["account_records"]
    # the consent decision within the period, not the one before it
    assert [d["purpose"] for d in data["consent_decisions"]] == ["Special offers and updates"]
    # the change of address within it, without its values
    changes = data["account"]["changes_in_period"]
    assert [change["what"] for change in changes] == ["address_line_1"]
    assert "Middle Street" not in json.dumps(data)


def _take_order(system, person, reference: str, line_1: str) -> None:
    take_order(
        system=system,
        request=OrderRequest(
            reference=reference,
            customer=OrderCustomer(
                email=person.email,
                first_name=person.first_name,
                last_name="Quist-Delivery",
                address=PostalAddress(line_1=line_1, town="Leeds", postcode="LS1 1AA"),
            ),
            lines=[OrderItem(product="Canon EOS R8 body", supplier="Canon UK", quantity=1)],
            marketing_opt_out=True,
        ),
    )


@pytest.fixture
def held_elsewhere(people, officers, monkeypatch):
    """Ann's orders and a survey answer, one of each during the period (45 days ago) and
    one after it (10 days ago); Bob's order during it."""
    system, _ = issue_api_key(name="Checkout", scopes=[Scope.ORDERS_WRITE], actor=officers[0])
    author = StaffFactory(email="sam@jessops.example", permissions=SURVEY_RIGHTS)
    for days_ago, tag in ((45, "IN"), (10, "AFTER")):
        with monkeypatch.context() as patch:
            at(patch, days_ago)
            _take_order(system, people["ann"], f"JS-{tag}", f"{tag} Delivery Road")
            survey = make_survey(author, title=f"Survey {tag}")
            enter(survey, people["ann"], q1="Easy")
    with monkeypatch.context() as patch:
        at(patch, 45)
        _take_order(system, people["bob"], "JS-BOB", "Bob Delivery Road")


def test_orders_and_survey_answers_of_the_period_are_in_the_export(
    clerk, officers, people, held_elsewhere
):
    _, export = fulfilled(
        clerk,
        officers,
        [people["ann"]],
        categories=[
            DataCategory.ORDER_HISTORY,
            DataCategory.SURVEY_ANSWERS,
            DataCategory.NAME,
            DataCategory.POSTAL_ADDRESS,
        ],
    )

    assert export["not_held"] == []
    data = export["people"][0]["data"]
    (order,) = data["order_history"]["orders"]
    assert order["order"] == "JS-IN"
    assert order["what"] == [
        {"product": "Canon EOS R8 body", "supplier": "Canon UK", "quantity": 1}
    ]
    assert order["no_special_offers_box_ticked"] is True
    (entry,) = data["survey_answers"]["entries"]
    assert entry["survey"] == "Survey IN"
    assert entry["answers"] == ["How easy was checkout?: Easy"]
    # the names and addresses the order carried, beside the account's own
    (delivered_to,) = data["name"]["order_delivery_names"]
    assert (delivered_to["name"], delivered_to["order"]) == ("Ann Quist-Delivery", "JS-IN")
    (address,) = data["postal_address"]["order_delivery_addresses"]
    assert (address["address_line_1"], address["order"]) == ("IN Delivery Road", "JS-IN")
    # nothing of after the period, nor of Bob's
    text = json.dumps(export)
    for elsewhere in ("JS-AFTER", "AFTER Delivery Road", "Survey AFTER", "JS-BOB", "Bob"):
        assert elsewhere not in text


def test_an_email_address_is_given_as_held_during_the_period(clerk, officers, people, monkeypatch):
    # Ann changed her address during the period and again after it (each change audited)
    ann = people["ann"]
    for days_ago, new in ((45, "ann.middle@example.com"), (10, "ann.new@example.com")):
        with monkeypatch.context() as patch:
            at(patch, days_ago)
            with transaction.atomic():
                old, ann.email = ann.email, new
                ann.save(update_fields=["email"])
                record_changes(
                    subject=ann,
                    actor=ann,
                    changes=[FieldChange(field="email", old=old, new=new)],
                    source=AuditSource.ACCOUNT,
                )

    _, export = fulfilled(clerk, officers, [ann], categories=[DataCategory.EMAIL])

    held = export["people"][0]["data"]["email"]["email_addresses"]
    assert [version["email"] for version in held] == ["ann@example.com", "ann.middle@example.com"]
    assert "ann.new@example.com" not in json.dumps(export)


def test_kinds_of_data_no_part_of_the_system_holds_are_said_to_be_not_held(
    clerk, officers, people, monkeypatch
):
    # every kind the register knows has a source today; one without any is named, not dropped
    monkeypatch.setitem(legal_export._SOURCES, DataCategory.ORDER_HISTORY, {})

    _, export = fulfilled(
        clerk,
        officers,
        [people["ann"]],
        categories=[DataCategory.NAME, DataCategory.ORDER_HISTORY],
    )

    assert export["not_held"] == ["Orders and what was in them"]
    assert set(export["people"][0]["data"]) == {"name"}
    names = export["people"][0]["data"]["name"]["account_names"]
    assert names == [
        {"first_name": "Ann", "last_name": "Quist", "held_from": names[0]["held_from"]}
    ]


def test_a_closed_account_is_still_reached_by_a_court_order(clerk, officers, people):
    deactivate_account(user=people["ann"], actor=people["ann"])

    _, export = fulfilled(clerk, officers, [people["ann"]])

    assert Disclosure.objects.get().person == people["ann"]
    assert export["people"][0]["account"] == people["ann"].pk


def test_the_steps_of_a_request_are_append_only(clerk, people):
    request = log(clerk, [people["ann"]])
    step = LegalRequestStep.objects.get(request=request)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LegalRequestStep.objects.filter(pk=step.pk).update(note="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LegalRequestStep.objects.filter(pk=step.pk).delete()
