"""Privacy requests made to staff by email, phone or post (the policy invites all three):
logged with their type, identity-checked, answered within one calendar month of receipt
(extendable once by two further months, with a recorded reason), and fulfilled by the same
export, erasure, profile update or withdrawal as self-service."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.data_rights import PrivacyError
from accounts.models import AuditSource, PrivacyRequest, User, add_calendar_months
from accounts.selectors import export_personal_data
from communications.services.preferences import send_consent_receipt
from consent.services import ConsentSource, withdraw_all_marketing

from .audit import FieldChange, record_changes
from .privacy import request_erasure
from .profile import update_profile

Type = PrivacyRequest.Type
RESPONSE_MONTHS = 1
EXTENSION_MONTHS = 2


def due_date(received_on: date, *, extended: bool = False) -> date:
    """One calendar month after receipt; three when extended."""
    return add_calendar_months(received_on, RESPONSE_MONTHS + (EXTENSION_MONTHS if extended else 0))


def request_problems(
    *,
    received_on: date | None,
    subject: User | None,
    requester_name: str,
    requester_contact: str,
) -> dict[str | None, str]:
    """What is wrong with a request to be logged, by field (None: the whole request)."""
    problems: dict[str | None, str] = {}
    if received_on is not None and received_on > timezone.localdate():
        problems["received_on"] = "A request cannot be received in the future."
    if subject is None and not (requester_name or requester_contact):
        problems[None] = "Say who made the request: an account, or a name and contact."
    return problems


@transaction.atomic
def log_privacy_request(
    *,
    request_type: str,
    channel: str,
    received_on: date,
    logged_by: User | None,
    subject: User | None = None,
    requester_name: str = "",
    requester_contact: str = "",
    details: str = "",
) -> PrivacyRequest:
    if request_type not in Type.values:
        raise PrivacyError(f"Unknown request type {request_type!r}.")
    if channel not in PrivacyRequest.Channel.values:
        raise PrivacyError(f"Unknown channel {channel!r}.")
    problems = request_problems(
        received_on=received_on,
        subject=subject,
        requester_name=requester_name,
        requester_contact=requester_contact,
    )
    if problems:
        raise PrivacyError(" ".join(problems.values()))
    return PrivacyRequest.objects.create(
        request_type=request_type,
        channel=channel,
        received_on=received_on,
        due_on=due_date(received_on),
        subject=subject,
        requester_name=requester_name,
        requester_contact=requester_contact,
        details=details,
        logged_by=logged_by,
    )


@transaction.atomic
def link_privacy_request(
    *, privacy_request: PrivacyRequest, subject: User, staff: User
) -> PrivacyRequest:
    """Say which account a request logged without one is about. Only before the identity
    check, which must then confirm the requester owns that account; never an erased account.
    The link is recorded in that account's audit trail with the staff member as actor."""
    privacy_request = _open(privacy_request)
    if privacy_request.subject_id is not None:
        raise PrivacyError(f"{privacy_request.reference} is already linked to an account.")
    if privacy_request.identity_checked_at is not None:
        raise PrivacyError(
            "The identity check was recorded before the account was known: refuse this "
            "request and log a new one for the account."
        )
    if subject.erased_at is not None:
        raise PrivacyError("That account has been erased.")
    privacy_request.subject = subject
    privacy_request.save(update_fields=["subject"])
    record_changes(
        subject=subject,
        actor=staff,
        changes=[FieldChange(field="privacy_request", old="", new=privacy_request.reference)],
        source=AuditSource.PRIVACY_REQUEST,
    )
    return privacy_request


def _open(privacy_request: PrivacyRequest) -> PrivacyRequest:
    locked = PrivacyRequest.objects.select_for_update().get(pk=privacy_request.pk)
    if not locked.is_open:
        raise PrivacyError(f"{locked.reference} is already {locked.get_status_display().lower()}.")
    return locked


@transaction.atomic
def record_identity_check(
    *, privacy_request: PrivacyRequest, method: str, staff: User
) -> PrivacyRequest:
    method = method.strip()
    if not method:
        raise PrivacyError("Say how the requester's identity was confirmed.")
    privacy_request = _open(privacy_request)
    privacy_request.identity_check = method[:300]
    privacy_request.identity_checked_at = timezone.now()
    privacy_request.identity_checked_by = staff
    privacy_request.save(
        update_fields=["identity_check", "identity_checked_at", "identity_checked_by"]
    )
    return privacy_request


@transaction.atomic
def extend_privacy_request(
    *, privacy_request: PrivacyRequest, reason: str, staff: User
) -> PrivacyRequest:
    """Extend the deadline by two months, once, for a complex or numerous request; the
    person must be told why within the first month, so it can't be done after."""
    reason = reason.strip()
    if not reason:
        raise PrivacyError("An extension needs a reason, which the person will be told.")
    privacy_request = _open(privacy_request)
    if privacy_request.extended_on is not None:
        raise PrivacyError(f"{privacy_request.reference} has already been extended.")
    if timezone.localdate() > due_date(privacy_request.received_on):
        raise PrivacyError("The first month has passed: it is too late to extend.")
    privacy_request.extended_on = timezone.localdate()
    privacy_request.extension_reason = reason
    privacy_request.due_on = due_date(privacy_request.received_on, extended=True)
    privacy_request.save(update_fields=["extended_on", "extension_reason", "due_on"])
    return privacy_request


@transaction.atomic
def refuse_privacy_request(
    *, privacy_request: PrivacyRequest, reason: str, staff: User
) -> PrivacyRequest:
    reason = reason.strip()
    if not reason:
        raise PrivacyError("A refusal needs a reason, which the person will be told.")
    privacy_request = _open(privacy_request)
    _close(privacy_request, staff=staff, status=PrivacyRequest.Status.REFUSED, outcome=reason)
    return privacy_request


def _close(privacy_request: PrivacyRequest, *, staff: User, status: str, outcome: str) -> None:
    privacy_request.status = status
    privacy_request.outcome = outcome
    privacy_request.closed_at = timezone.now()
    privacy_request.closed_by = staff
    privacy_request.save(update_fields=["status", "outcome", "closed_at", "closed_by"])


def _ready(privacy_request: PrivacyRequest) -> PrivacyRequest:
    privacy_request = _open(privacy_request)
    if privacy_request.identity_checked_at is None:
        raise PrivacyError("Confirm the requester's identity before fulfilling the request.")
    if privacy_request.subject_id is None:
        raise PrivacyError("Link the request to the account it is about first.")
    return privacy_request


@transaction.atomic
def fulfil_access_request(*, privacy_request: PrivacyRequest, staff: User) -> dict[str, Any]:
    """The same copy as ``/accounts/export/``; the request is completed."""
    privacy_request = _ready(privacy_request)
    if privacy_request.request_type != Type.ACCESS:
        raise PrivacyError(f"{privacy_request.reference} is not an access request.")
    assert privacy_request.subject is not None  # _ready checked it is linked
    data = export_personal_data(privacy_request.subject)
    _close(
        privacy_request,
        staff=staff,
        status=PrivacyRequest.Status.COMPLETED,
        outcome=f"A copy of the data (format {data['format']}) was produced on "
        f"{timezone.localdate():%d %B %Y} for sending to the person.",
    )
    return data


@transaction.atomic
def fulfil_erasure_request(*, privacy_request: PrivacyRequest, staff: User) -> PrivacyRequest:
    """The same erasure as ``/accounts/delete/``: the account closes now, the confirmation
    email goes, the data goes; the request completes when the erasure does."""
    privacy_request = _ready(privacy_request)
    if privacy_request.request_type != Type.ERASURE:
        raise PrivacyError(f"{privacy_request.reference} is not an erasure request.")
    assert privacy_request.subject is not None  # _ready checked it is linked
    privacy_request.closed_by = staff
    privacy_request.outcome = "Erasure started; the account is closed."
    privacy_request.save(update_fields=["closed_by", "outcome"])
    request_erasure(
        user=privacy_request.subject,
        actor=staff,
        source=AuditSource.PRIVACY_REQUEST,
        privacy_request=privacy_request,
    )
    return privacy_request


@transaction.atomic
def fulfil_objection_request(*, privacy_request: PrivacyRequest, staff: User) -> PrivacyRequest:
    """An objection to direct marketing: every marketing purpose withdrawn (ledger source
    staff, with the staff member as actor) and a receipt emailed, as the preference centre
    does."""
    privacy_request = _ready(privacy_request)
    if privacy_request.request_type != Type.OBJECTION:
        raise PrivacyError(f"{privacy_request.reference} is not an objection.")
    assert privacy_request.subject is not None  # _ready checked it is linked
    events = withdraw_all_marketing(
        subject=privacy_request.subject, source=ConsentSource.STAFF, actor=staff
    )
    send_consent_receipt(subject=privacy_request.subject, events=events)
    names = ", ".join(event.purpose.name for event in events) or "nothing was granted"
    _close(
        privacy_request,
        staff=staff,
        status=PrivacyRequest.Status.COMPLETED,
        outcome=f"All direct marketing stopped. Withdrawn: {names}.",
    )
    return privacy_request


@transaction.atomic
def fulfil_rectification_request(
    *, privacy_request: PrivacyRequest, staff: User, fields: Mapping[str, Any]
) -> PrivacyRequest:
    """The corrections, through ``update_profile`` (validated, audited with the staff member
    as actor and source "privacy request")."""
    privacy_request = _ready(privacy_request)
    if privacy_request.request_type != Type.RECTIFICATION:
        raise PrivacyError(f"{privacy_request.reference} is not a rectification request.")
    assert privacy_request.subject is not None  # _ready checked it is linked
    update = update_profile(
        user=privacy_request.subject, actor=staff, source=AuditSource.PRIVACY_REQUEST, **fields
    )
    changed = ", ".join(update.changed_labels) or "nothing needed changing"
    _close(
        privacy_request,
        staff=staff,
        status=PrivacyRequest.Status.COMPLETED,
        outcome=f"Corrected: {changed}.",
    )
    return privacy_request
