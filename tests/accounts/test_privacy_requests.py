"""Privacy requests made to staff: logged with a due date one calendar month after receipt,
extendable once by two months with a reason, listed overdue first, fulfilled only after an
identity check, by the same export, erasure, correction or withdrawal as self-service; and
only by staff allowed to."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, PrivacyRequest, add_calendar_months
from accounts.services.privacy import PrivacyError, erase_account
from accounts.services.requests import (
    due_date,
    extend_privacy_request,
    fulfil_access_request,
    link_privacy_request,
    log_privacy_request,
    record_identity_check,
)
from communications.kinds import MessageKind
from communications.models import Delivery
from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.services import ConsentSource, grant_consent
from staff_access.models import StaffAccess
from tests.factories import StaffFactory

ADMIN = "/admin/accounts/privacyrequest/"
Type = PrivacyRequest.Type


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 15), date(2026, 2, 15)),
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2026, 12, 5), date(2027, 1, 5)),
        (date(2026, 8, 31), date(2026, 9, 30)),
    ],
)
def test_the_due_date_is_one_calendar_month_after_receipt(received, due):
    assert due_date(received) == due


def test_an_extension_adds_two_more_calendar_months():
    assert due_date(date(2026, 1, 31), extended=True) == date(2026, 4, 30)
    assert add_calendar_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


@pytest.fixture
def staff(db):
    return StaffFactory(
        email="dpo@shop.example",
        permissions=[
            "accounts.view_privacyrequest",
            "accounts.add_privacyrequest",
            "accounts.change_privacyrequest",
            "accounts.fulfil_privacyrequest",
        ],
    )


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann")


def logged(ann, staff, request_type, *, received=None, checked=True):
    request = log_privacy_request(
        request_type=request_type,
        channel=PrivacyRequest.Channel.EMAIL,
        received_on=received or timezone.localdate(),
        logged_by=staff,
        subject=ann,
        details="Please.",
    )
    if checked:
        request = record_identity_check(
            privacy_request=request, method="Replied from the account's address", staff=staff
        )
    return request


def act(client, request, step, data=None):
    return client.post(f"{ADMIN}{request.pk}/act/{step}/", data or {})


def test_staff_log_a_phoned_request_in_admin_with_its_due_date(db, client, staff, ann):
    client.force_login(staff)

    response = client.post(
        f"{ADMIN}add/",
        {
            "request_type": "access",
            "channel": "phone",
            "received_on": "2026-01-31",
            "subject": ann.pk,
            "requester_name": "Ann Lee",
            "requester_contact": "07700 900123",
            "details": "Wants a copy of everything.",
        },
    )

    assert response.status_code == 302
    request = PrivacyRequest.objects.get()
    assert request.due_on == date(2026, 2, 28)
    assert request.logged_by == staff and request.status == "open"


def test_a_future_receipt_date_or_no_requester_is_refused_with_a_message(db, client, staff):
    client.force_login(staff)
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = client.post(
        f"{ADMIN}add/",
        {"request_type": "access", "channel": "post", "received_on": tomorrow.isoformat()},
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "A request cannot be received in the future." in body
    assert "Say who made the request" in body
    assert not PrivacyRequest.objects.exists()


def test_the_list_shows_overdue_requests_first(db, client, staff, ann):
    today = timezone.localdate()
    later = logged(ann, staff, Type.ACCESS, received=today)
    overdue = logged(ann, staff, Type.OBJECTION, received=today - timedelta(days=40))
    very_overdue = logged(ann, staff, Type.ACCESS, received=today - timedelta(days=90))
    done = logged(ann, staff, Type.ACCESS, received=today - timedelta(days=100))
    fulfil_access_request(privacy_request=done, staff=staff)
    client.force_login(staff)

    response = client.get(ADMIN)

    order = [row.pk for row in response.context["cl"].result_list]
    assert order == [very_overdue.pk, overdue.pk, later.pk, done.pk]
    assert "(overdue)" in response.content.decode()


def test_an_extension_needs_a_reason_is_allowed_once_and_moves_the_due_date(db, staff, ann):
    request = logged(ann, staff, Type.ACCESS, received=date.today() - timedelta(days=3))

    with pytest.raises(PrivacyError, match="needs a reason"):
        extend_privacy_request(privacy_request=request, reason="  ", staff=staff)
    extended = extend_privacy_request(
        privacy_request=request, reason="Ten years of orders", staff=staff
    )

    assert extended.due_on == due_date(request.received_on, extended=True)
    assert extended.extension_reason == "Ten years of orders"
    with pytest.raises(PrivacyError, match="already been extended"):
        extend_privacy_request(privacy_request=extended, reason="again", staff=staff)


def test_an_extension_after_the_first_month_is_refused(db, staff, ann):
    request = logged(ann, staff, Type.ACCESS, received=date.today() - timedelta(days=40))

    with pytest.raises(PrivacyError, match="too late"):
        extend_privacy_request(privacy_request=request, reason="Complex", staff=staff)


def test_nothing_is_fulfilled_before_the_identity_check(db, client, staff, ann):
    request = logged(ann, staff, Type.ERASURE, checked=False)
    client.force_login(staff)

    response = act(client, request, "fulfil")

    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert "Confirm the requester's identity before fulfilling the request." in messages
    ann.refresh_from_db()
    assert ann.is_active and ann.erasure_requested_at is None


def test_the_identity_check_is_recorded_from_admin(db, client, staff, ann):
    request = logged(ann, staff, Type.ACCESS, checked=False)
    client.force_login(staff)

    act(client, request, "identity", {"text": "Called back on the number on the account"})

    request.refresh_from_db()
    assert request.identity_check == "Called back on the number on the account"
    assert request.identity_checked_by == staff
    # The step is a change of the person's request: on the staff access record.
    access = StaffAccess.objects.get(page="admin:accounts_privacyrequest_act_identity")
    assert (access.staff, access.action, access.subject_ids) == (staff, "change", [ann.pk])


def test_opening_a_steps_page_is_on_the_staff_access_record(db, client, staff, ann):
    request = logged(ann, staff, Type.ACCESS)
    client.force_login(staff)

    assert client.get(f"{ADMIN}{request.pk}/act/fulfil/").status_code == 200

    access = StaffAccess.objects.get(page="admin:accounts_privacyrequest_act_fulfil")
    assert (access.action, access.subject_ids) == ("view", [ann.pk])


def test_fulfilling_an_access_request_downloads_the_same_copy_as_self_service(
    db, client, staff, ann
):
    grant_consent(subject=ann, purpose=Purpose.NEWSLETTER, source=ConsentSource.API)
    request = logged(ann, staff, Type.ACCESS)
    client.force_login(staff)

    response = act(client, request, "fulfil")

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["account"]["email"] == "ann@example.com"
    assert data["consent"]["consent_history"][0]["purpose"] == "Newsletter"
    request.refresh_from_db()
    assert request.status == "completed" and request.closed_by == staff


def test_fulfilling_an_erasure_runs_the_self_service_erasure(db, client, staff, ann, smtp):
    request = logged(ann, staff, Type.ERASURE)
    request.requester_contact = "ann@example.com"
    request.save()
    client.force_login(staff)

    act(client, request, "fulfil")
    ann.refresh_from_db()
    assert not ann.is_active and ann.erasure_requested_at is not None
    erase_account(user_id=ann.pk)  # the task the commit started

    ann.refresh_from_db()
    assert ann.erased_at is not None
    assert smtp.to("ann@example.com")[0].subject.endswith("is being deleted")
    request.refresh_from_db()
    assert request.status == "completed" and "Kept:" in request.outcome
    assert request.requester_contact == "" and request.closed_by == staff
    # it is the one request for this erasure: no second, self-service one
    assert PrivacyRequest.objects.filter(subject=ann).count() == 1
    assert AuditEvent.objects.filter(
        subject=ann, field="erasure_requested_at", actor=staff, source="privacy_request"
    ).exists()


def test_fulfilling_an_objection_withdraws_all_marketing_with_staff_as_actor(
    db, client, staff, ann
):
    grant_consent(subject=ann, purpose=Purpose.NEWSLETTER, source=ConsentSource.API)
    grant_consent(subject=ann, purpose=Purpose.SURVEYS, source=ConsentSource.API)
    request = logged(ann, staff, Type.OBJECTION)
    client.force_login(staff)

    act(client, request, "fulfil")

    assert not CurrentConsent.objects.filter(subject=ann, granted=True).exists()
    withdrawals = ConsentEvent.objects.filter(subject=ann, granted=False)
    assert {(e.source, e.actor_id) for e in withdrawals} == {(ConsentSource.STAFF, staff.pk)}
    assert Delivery.objects.filter(user=ann, kind=MessageKind.CONSENT_RECEIPT).exists()
    request.refresh_from_db()
    assert request.status == "completed" and "Newsletter" in request.outcome


def test_fulfilling_a_rectification_saves_through_the_profile_rules_and_audits(
    db, client, staff, ann
):
    request = logged(ann, staff, Type.RECTIFICATION)
    client.force_login(staff)
    form = {
        "first_name": "Anne",
        "last_name": "Lee",
        "address_line_1": "",
        "address_line_2": "",
        "town": "",
        "postcode": "",
        "phone": "",
        "contact_channel": "email",
        "_apply": "1",
    }

    page = client.get(f"{ADMIN}{request.pk}/act/fulfil/")
    assert page.status_code == 200 and 'name="first_name"' in page.content.decode()
    bad = act(
        client,
        request,
        "fulfil",
        {**form, "postcode": "nonsense", "town": "Leeds", "address_line_1": "1 High St"},
    )
    assert bad.status_code == 200 and "postcode" in bad.content.decode().lower()
    request.refresh_from_db()
    assert request.is_open

    act(client, request, "fulfil", form)

    ann.refresh_from_db()
    assert ann.first_name == "Anne"
    row = AuditEvent.objects.get(subject=ann, field="first_name")
    assert (row.old_value, row.new_value, row.actor, row.source) == (
        "Ann",
        "Anne",
        staff,
        "privacy_request",
    )
    request.refresh_from_db()
    assert request.status == "completed" and "first name" in request.outcome


def test_a_refusal_needs_a_reason_and_closes_the_request(db, client, staff, ann):
    request = logged(ann, staff, Type.ACCESS, checked=False)
    client.force_login(staff)

    act(client, request, "refuse", {"text": ""})
    request.refresh_from_db()
    assert request.is_open
    act(client, request, "refuse", {"text": "Identity could not be confirmed"})

    request.refresh_from_db()
    assert request.status == "refused" and request.outcome == "Identity could not be confirmed"
    with pytest.raises(PrivacyError, match="already refused"):
        record_identity_check(privacy_request=request, method="late", staff=staff)


def test_staff_without_the_fulfil_permission_cannot_act(db, client, staff, ann):
    request = logged(ann, staff, Type.ERASURE)
    clerk = StaffFactory(email="clerk@shop.example", permissions=["view_privacyrequest"])
    client.force_login(clerk)

    assert client.get(f"{ADMIN}{request.pk}/change/").status_code == 200
    assert "Act on this request" not in client.get(f"{ADMIN}{request.pk}/change/").content.decode()
    assert act(client, request, "fulfil").status_code == 403
    ann.refresh_from_db()
    assert ann.is_active


def test_a_customer_cannot_reach_the_requests_at_all(db, client, staff, ann):
    request = logged(ann, staff, Type.ACCESS)
    client.force_login(ann)

    assert client.get(ADMIN).status_code == 302
    response = act(client, request, "fulfil")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    request.refresh_from_db()
    assert request.is_open


def test_requests_cannot_be_deleted(db, client, staff, ann, admin_user):
    request = logged(ann, staff, Type.ACCESS)
    client.force_login(admin_user)

    assert client.post(f"{ADMIN}{request.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PrivacyRequest.objects.filter(pk=request.pk).exists()


# --- No side doors: a logged request changes only through its steps ----------------------------


def test_a_logged_request_cannot_be_edited_through_the_change_form(
    db, client, staff, ann, make_user
):
    request = logged(ann, staff, Type.ACCESS, checked=False)
    bob = make_user("bob@example.com")
    client.force_login(staff)

    page = client.get(f"{ADMIN}{request.pk}/change/")
    response = client.post(
        f"{ADMIN}{request.pk}/change/",
        {
            "subject": bob.pk,
            "requester_name": "Someone else",
            "requester_contact": "mallory@example.com",
            "details": "Send it to me instead.",
        },
    )

    assert page.status_code == 200
    assert 'name="requester_contact"' not in page.content.decode()
    assert response.status_code == 403
    request.refresh_from_db()
    assert (request.subject, request.requester_contact, request.details) == (ann, "", "Please.")


def test_a_request_logged_without_an_account_is_linked_by_a_step_that_is_audited(
    db, client, staff, ann
):
    request = log_privacy_request(
        request_type=Type.ACCESS,
        channel=PrivacyRequest.Channel.PHONE,
        received_on=timezone.localdate(),
        logged_by=staff,
        requester_name="Ann Lee",
        requester_contact="07700 900123",
    )
    client.force_login(staff)

    page = client.get(f"{ADMIN}{request.pk}/change/").content.decode()
    unknown = act(client, request, "link", {"email": "nobody@example.com"})
    request.refresh_from_db()
    assert request.subject is None
    linked = act(client, request, "link", {"email": "ANN@example.com"})

    assert f"{ADMIN}{request.pk}/act/link/" in page
    assert unknown.status_code == 302 and linked.status_code == 302
    request.refresh_from_db()
    assert request.subject == ann
    row = AuditEvent.objects.get(subject=ann, field="privacy_request")
    assert (row.new_value, row.actor, row.source) == (request.reference, staff, "privacy_request")
    again = act(client, request, "link", {"email": "ann@example.com"})
    assert again.status_code == 302
    assert AuditEvent.objects.filter(field="privacy_request").count() == 1


def test_linking_after_the_identity_check_is_refused(db, staff, ann):
    request = log_privacy_request(
        request_type=Type.ACCESS,
        channel=PrivacyRequest.Channel.POST,
        received_on=timezone.localdate(),
        logged_by=staff,
        requester_name="A. Lee",
    )
    request = record_identity_check(privacy_request=request, method="Letter signed", staff=staff)

    with pytest.raises(PrivacyError, match="identity check"):
        link_privacy_request(privacy_request=request, subject=ann, staff=staff)

    request.refresh_from_db()
    assert request.subject is None


def test_staff_without_the_fulfil_permission_cannot_link(db, client, staff, ann):
    request = log_privacy_request(
        request_type=Type.ACCESS,
        channel=PrivacyRequest.Channel.PHONE,
        received_on=timezone.localdate(),
        logged_by=staff,
        requester_name="Ann Lee",
    )
    clerk = StaffFactory(
        email="clerk@shop.example", permissions=["view_privacyrequest", "change_privacyrequest"]
    )
    client.force_login(clerk)

    assert act(client, request, "link", {"email": "ann@example.com"}).status_code == 403
    request.refresh_from_db()
    assert request.subject is None


def test_the_request_pages_carry_no_inline_style(db, client, staff, ann):
    request = logged(ann, staff, Type.ERASURE, received=timezone.localdate() - timedelta(days=40))
    client.force_login(staff)

    for url in (
        ADMIN,
        f"{ADMIN}{request.pk}/change/",
        f"{ADMIN}{request.pk}/act/refuse/",
    ):
        body = client.get(url).content.decode()
        assert "style=" not in body, url
        assert "css/admin-extra.css" in body, url
    assert "privacy-overdue" in client.get(f"{ADMIN}{request.pk}/change/").content.decode()
