"""Reads of the accounts app that are more than a one-model filter, and the person's copy of
everything held about them (``export_personal_data``, UK GDPR Articles 15 and 20)."""

from __future__ import annotations

from datetime import date
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.data_rights import SECTIONS, PrivacyError
from accounts.models import AddressVerification, AuditEvent, PrivacyRequest, Profile, User
from accounts.services.profile import FIELD_LABELS
from retention.selectors import kept_until

EXPORT_FORMAT = "personal-data-export/1"


def audit_events_for(*, subject: User) -> QuerySet[AuditEvent]:
    """The changes to ``subject``'s data, newest first, with the actor joined in."""
    return AuditEvent.objects.filter(subject=subject).select_related("actor").order_by("-id")


def address_checks_for(*, user: User) -> QuerySet[AddressVerification]:
    """What the verifiers said about ``user``'s addresses, newest first."""
    return AddressVerification.objects.filter(user=user).order_by("-id")


def latest_address_verification(*, user: User) -> AddressVerification | None:
    """The last thing a verifier said about ``user``'s address, if anything."""
    return address_checks_for(user=user).first()


def email_addresses_for(*, user: User) -> QuerySet[EmailAddress]:
    """The account's addresses, primary first."""
    addresses: QuerySet[EmailAddress] = EmailAddress.objects.filter(user=user).order_by(
        "-primary", "id"
    )
    return addresses


def privacy_requests_for(*, subject: User) -> QuerySet[PrivacyRequest]:
    """The privacy requests about ``subject``, newest first."""
    return PrivacyRequest.objects.filter(subject=subject).order_by("-id")


# --- A copy of everything ----------------------------------------------------------------------


def _when(value: date | None) -> str | None:
    return value.isoformat() if value else None


def export_personal_data(user: User) -> dict[str, Any]:
    """Everything held about ``user`` (UK GDPR Articles 15 and 20), as JSON-ready data: the
    accounts app's own sections, then each lower app's (``accounts.data_rights.SECTIONS``)."""
    if user.erased_at is not None:
        raise PrivacyError("This account's data has been erased; there is nothing to export.")
    profile = Profile.objects.filter(user=user).first()
    data = {
        "format": EXPORT_FORMAT,
        "generated_at": _when(timezone.now()),
        "controller": settings.SITE_NAME,
        "account": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
            "active": user.is_active,
            "email_addresses": [
                {"email": address.email, "verified": address.verified, "primary": address.primary}
                for address in email_addresses_for(user=user)
            ],
        },
        "profile": (
            {
                "address_line_1": profile.address_line_1,
                "address_line_2": profile.address_line_2,
                "town": profile.town,
                "postcode": profile.postcode,
                "phone": profile.phone,
                "customer_service_replies_by": profile.get_contact_channel_display(),
                "updated": _when(profile.updated_at),
            }
            if profile
            else None
        ),
        "address_checks": [
            {
                "checked_by": check.source,
                "verified": check.verified,
                "postcode": check.postcode,
                "detail": check.detail,
                "when": _when(check.created_at),
            }
            for check in address_checks_for(user=user)
        ],
        "changes_to_your_details": [
            {
                "what": FIELD_LABELS.get(event.field, event.field),
                "before": None if event.is_secret else event.old_value,
                "after": None if event.is_secret else event.new_value,
                "when": _when(event.occurred_at),
                "by": _actor(event.actor_id, user),
                "how": event.get_source_display(),
            }
            for event in audit_events_for(subject=user)
        ],
        "privacy_requests": [
            {
                "type": privacy_request.get_request_type_display(),
                "received": privacy_request.received_on.isoformat(),
                "status": privacy_request.get_status_display(),
                "due": privacy_request.due_on.isoformat(),
            }
            for privacy_request in privacy_requests_for(subject=user)
        ],
    }
    for name, module in SECTIONS:
        data[name] = module.export_for_user(user)
    data["how_long_we_keep_it"] = how_long_we_keep()
    return data


def how_long_we_keep() -> dict[str, Any]:
    """How long each section of the copy is kept, in the copy's own shape: the accounts
    app's sections, then each lower app's (its ``how_long_we_keep``); the retention
    schedule's periods as configured now (docs/RETENTION.md)."""
    while_open = "Kept while your account is open; erased when you delete your account."
    statements: dict[str, Any] = {
        "account": "Kept while your account is open. When you delete your account it is "
        "erased, except an account number with no name, address or password that our "
        "records point to. An account whose email address is never verified: "
        + kept_until("unverified_accounts"),
        "profile": while_open,
        "address_checks": while_open,
        "changes_to_your_details": "Kept while your account is open. When you delete your "
        "account the old and new values are removed; which detail changed, when and by "
        "whom is kept, to show the changes were authorised.",
        "privacy_requests": "Kept as the record that we handled each request; your name "
        "and contact details in them are removed when your account is erased.",
    }
    for name, module in SECTIONS:
        statements[name] = module.how_long_we_keep()
    return statements


def _actor(actor_id: int | None, user: User) -> str:
    if actor_id == user.pk:
        return "you"
    return "our staff" if actor_id else "the system"
