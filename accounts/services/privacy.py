"""The person's rights over their data, self-service and through staff: deactivation and
reactivation, and erasure. (A copy of everything is a read: ``accounts.selectors``.)

Every app below accounts takes part through its ``privacy`` module (``accounts.data_rights``):
``erase_for_user(user)`` erases what it holds, and ``KEPT_ON_ERASURE`` says what it must keep
and why. Erasure runs in two steps:

1. ``request_erasure`` (in the request): the account is closed at once (it can't log in and
   is sent nothing), and the confirmation email is written to the bare address, with what
   will be kept and why.
2. ``erase_account`` (a task, after commit): sends that confirmation first, so that it goes
   before the data does, then erases in one transaction. If the email can't go yet (provider
   down), erasure waits for it, but never longer than ``ACCOUNT_ERASURE_CONFIRMATION_WAIT``;
   the beat job ``complete_pending_erasures`` finishes any erasure whose task was lost.

After erasure the account row remains as the pseudonymous subject of the consent ledger and
the audit trail: no name, no address, no password, no login.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.data_rights import SECTIONS, PrivacyError, kept_on_erasure
from accounts.models import AddressVerification, AuditSource, PrivacyRequest, Profile, User
from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import enqueue_email, send_delivery
from privacy_site.staff import is_active_staff

from .audit import FieldChange, record_changes, redact_audit_values_for

logger = logging.getLogger(__name__)

# Seconds to wait for a confirmation another worker is sending before retrying later.
SENDING_WAIT = 20


# --- Accounts made by staff -------------------------------------------------------------------


@transaction.atomic
def create_account_by_staff(
    *,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None,
    actor: User,
) -> User:
    """An account made in the admin (a colleague, or a customer on the phone): its details
    are recorded in the audit trail with the staff member as actor, the password only as
    set. ``password=None`` makes an account that cannot log in until a password is set."""
    if not is_active_staff(actor):
        raise PrivacyError("Only a member of staff may create an account here.")
    user = User.objects.create_user(
        email, password, first_name=first_name.strip(), last_name=last_name.strip()
    )
    changes = [
        FieldChange(field=name, old="", new=getattr(user, name))
        for name in ("email", "first_name", "last_name")
        if getattr(user, name)
    ]
    if password is not None:
        changes.append(FieldChange(field="password", old="", new=""))
    record_changes(subject=user, actor=actor, changes=changes, source=AuditSource.STAFF)
    return user


# --- Deactivation ----------------------------------------------------------------------------


@transaction.atomic
def deactivate_account(
    *, user: User, actor: User | None, source: str = AuditSource.ACCOUNT
) -> bool:
    """Close the account until its owner logs in again (when they closed it themselves) or
    staff reactivate it. Nothing is sent to a deactivated account, service announcements
    included. False if already closed."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        return False
    # Only an account its owner closed reopens when they log in; one closed by staff stays
    # closed until staff reopen it.
    by_owner = actor is not None and actor.pk == user.pk
    _set_active(
        user,
        active=False,
        deactivated_at=timezone.now() if by_owner else None,
        actor=actor,
        source=source,
    )
    return True


@transaction.atomic
def reactivate_account(
    *, user: User, actor: User | None, source: str = AuditSource.ACCOUNT
) -> bool:
    """Open a deactivated account again. Never an erased one, or one being erased."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.erased_at is not None or user.erasure_requested_at is not None:
        raise PrivacyError("This account has been erased and cannot be reactivated.")
    if user.is_active:
        return False
    _set_active(user, active=True, deactivated_at=None, actor=actor, source=source)
    return True


def _set_active(
    user: User,
    *,
    active: bool,
    deactivated_at: datetime | None,
    actor: User | None,
    source: str,
) -> None:
    """Open or close ``user`` (locked by the caller), with the audit row of the change."""
    user.is_active = active
    user.deactivated_at = deactivated_at
    user.save(update_fields=["is_active", "deactivated_at"])
    before, after = ("no", "yes") if active else ("yes", "no")
    record_changes(
        subject=user,
        actor=actor,
        changes=[FieldChange(field="is_active", old=before, new=after)],
        source=source,
    )


# --- Erasure ---------------------------------------------------------------------------------


@transaction.atomic
def request_erasure(
    *,
    user: User,
    actor: User | None,
    source: str = AuditSource.ACCOUNT,
    privacy_request: PrivacyRequest | None = None,
) -> PrivacyRequest:
    """Close the account now and queue its erasure, with the confirmation email first.

    Self-service erasure is logged as a completed-on-erasure privacy request too, so staff
    see every erasure in one list. Returns that request."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.erased_at is not None:
        raise PrivacyError("This account's data has already been erased.")
    open_request = (
        privacy_request
        or PrivacyRequest.objects.filter(
            subject=user, request_type=PrivacyRequest.Type.ERASURE, status="open"
        ).first()
    )
    now = timezone.now()
    privacy_request = open_request or _log_self_service_erasure(user, now)
    if user.erasure_requested_at is not None:
        return privacy_request  # already on its way
    address = user.email
    user.is_active = False
    user.erasure_requested_at = now
    user.save(update_fields=["is_active", "erasure_requested_at"])
    record_changes(
        subject=user,
        actor=actor,
        changes=[FieldChange(field="erasure_requested_at", old="", new=now.isoformat())],
        source=source,
    )
    enqueue_email(
        kind=MessageKind.ERASURE_CONFIRMATION,
        to_email=address,
        context={
            "first_name": user.first_name,
            "requested_on": timezone.localdate(now).strftime("%-d %B %Y"),
            "kept": kept_on_erasure(),
        },
    )
    user_id = user.pk

    def start() -> None:
        from accounts.tasks import erase_account_task

        erase_account_task.delay(user_id)

    transaction.on_commit(start, robust=True)
    return privacy_request


def _log_self_service_erasure(user: User, now: datetime) -> PrivacyRequest:
    return PrivacyRequest.objects.create(
        request_type=PrivacyRequest.Type.ERASURE,
        channel=PrivacyRequest.Channel.SELF_SERVICE,
        subject=user,
        details="Deleted their account on the site.",
        received_on=timezone.localdate(now),
        due_on=timezone.localdate(now),
        identity_checked_at=now,
        identity_check="Logged in and re-entered their password.",
        identity_checked_by=user,
        logged_by=user,
    )


class ConfirmationPending(Exception):
    """The confirmation email has not gone yet: try the erasure again later."""


def erase_account(*, user_id: int) -> bool:
    """Send the confirmation, then erase. True once erased (now or before); raises
    ``ConfirmationPending`` while the confirmation is still waiting to go."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.erased_at is not None:
        return user is not None
    if user.erasure_requested_at is None:
        raise PrivacyError("Nobody asked for this account to be erased.")
    _send_confirmation_first(user)
    _erase(user_id)
    return True


def _send_confirmation_first(user: User) -> None:
    requested_at = user.erasure_requested_at
    assert requested_at is not None  # erase_account checks first
    confirmation = (
        Delivery.objects.filter(
            kind=MessageKind.ERASURE_CONFIRMATION,
            user__isnull=True,
            to_email__iexact=user.email,
            created_at__gte=requested_at,
        )
        .order_by("-id")
        .first()
    )
    if confirmation is None:
        return  # sent and forgotten already, or never allowed (a suppressed address)
    status = confirmation.status
    if status == Delivery.Status.QUEUED:
        status = send_delivery(delivery_id=confirmation.pk)
    # The outbox relay may be sending it right now: a send takes moments, so wait for it
    # here rather than retry the whole task a minute later.
    waited = 0.0
    while status == Delivery.Status.SENDING and waited < SENDING_WAIT:
        time.sleep(0.2)
        waited += 0.2
        status = Delivery.objects.filter(pk=confirmation.pk).values_list("status", flat=True)[0]
    if status in (Delivery.Status.QUEUED, Delivery.Status.SENDING):
        deadline = requested_at + timedelta(seconds=settings.ACCOUNT_ERASURE_CONFIRMATION_WAIT)
        if timezone.now() < deadline:
            raise ConfirmationPending(f"confirmation email {confirmation.pk} is {status}")
        logger.warning(
            "erasing account %s without its confirmation email (still %s after the wait)",
            user.pk,
            status,
        )


@transaction.atomic
def _erase(user_id: int, *, source: AuditSource = AuditSource.PRIVACY_REQUEST) -> None:
    user = User.objects.select_for_update().get(pk=user_id)
    if user.erased_at is not None:
        return
    for _, module in SECTIONS:
        module.erase_for_user(user)
    kept = kept_on_erasure()
    Profile.objects.filter(user=user).delete()
    AddressVerification.objects.filter(user=user).delete()
    EmailAddress.objects.filter(user=user).delete()
    redact_audit_values_for(subject=user)
    now = timezone.now()
    user.email = f"erased-{user.pk}@erased.invalid"
    user.first_name = user.last_name = ""
    user.set_unusable_password()
    user.last_login = None
    user.is_active = False
    user.is_staff = user.is_superuser = False
    user.erased_at = now
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    record_changes(
        subject=user,
        actor=None,
        changes=[FieldChange(field="erased_at", old="", new=now.isoformat())],
        source=source,
    )
    outcome = "Erased. Kept:\n" + "\n".join(f"- {item['what']}: {item['why']}" for item in kept)
    privacy_requests = PrivacyRequest.objects.filter(subject=user)
    privacy_requests.filter(request_type=PrivacyRequest.Type.ERASURE, status="open").update(
        status=PrivacyRequest.Status.COMPLETED, outcome=outcome, closed_at=now
    )
    # The person's contact details go with the rest; the requests stay as the record.
    privacy_requests.update(requester_name="", requester_contact="")
    logger.info("account %s erased", user.pk)


def forget_unverified_account(*, user_id: int) -> None:
    """The retention schedule's ``unverified_accounts`` rule: an account whose address was
    never verified is pseudonymised exactly as an erasure would, without the confirmation
    email (nobody proved the address theirs, so nothing is sent to it)."""
    _erase(user_id, source=AuditSource.RETENTION)


def complete_pending_erasures() -> list[int]:
    """Erasures whose task was lost (broker down, worker killed): finish them. For beat."""
    erased = []
    pending = User.objects.filter(erasure_requested_at__isnull=False, erased_at__isnull=True)
    for user_id in pending.values_list("pk", flat=True):
        try:
            if erase_account(user_id=user_id):
                erased.append(user_id)
        except ConfirmationPending:
            continue
    return erased
