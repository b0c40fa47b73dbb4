"""The transfer of customer data to the counterparty of a business transition, recorded as
disclosures once the transition takes effect (the policy's "Business Transitions" clause:
"users' personal information will, in most instances, be part of the assets transferred").

Transitions are recorded, with their notice, in ``communications``; this module, above it,
finds those whose effective date has come and records the transfer (a periodic task, so no
lower app has to call up). For each one, in keyset batches of accounts, each batch one
transaction with its progress:

- the counterparty is the register's party of that name, or is registered (an independent
  controller, for the business transfer, every kind of personal data, active from the
  effective date) with the transition's recorder named in the change log;
- every open, non-staff account that existed when the transfer started gets a disclosure to
  it, on the basis of legitimate interests, for the kinds of data the register allows the
  party, referenced to the transition, made by the member of staff who recorded it;
- closed and erased accounts are left out: the register refuses their disclosure unless the
  law requires it, and the policy promises that people who closed their account are not
  "contacted, nor will their personal information be used in this new manner";
- if the register refuses (the party ended, its purposes or kinds of data changed, the
  recorder no longer staff), the transfer is *blocked* with the reason, and a member of staff
  resumes it once the register is right (``resume_business_transfer``), as themselves.

Each transition's transfer is recorded once: a second run finds it completed or carries on
from the last account done; two workers never do the same batch (``SKIP LOCKED``).
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from communications.models import BusinessTransition
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from sharing.models import DataCategory, DisclosurePurpose, LegalBasis, Role, ThirdParty
from sharing.transfer_models import BusinessTransfer, transfer_reference

from .disclosures import DisclosureRefused, record_disclosures
from .register import PartyDetails, RegisterError, register_decided_party

logger = logging.getLogger(__name__)

RESUME_PERMISSION = "sharing.change_businesstransfer"
State = BusinessTransfer.State


class TransferError(ValueError):
    """A step on a transfer that can't be taken; the message says why, for staff."""


@dataclass(frozen=True)
class TransferRun:
    """What one run did: transfers started, disclosures recorded, and whether work is left."""

    started: int = 0
    disclosed: int = 0
    more: bool = False


def transitions_to_transfer(*, today: datetime.date | None = None) -> QuerySet[BusinessTransition]:
    """Transitions in effect by ``today`` whose transfer has not started."""
    today = today or timezone.localdate()
    return (
        BusinessTransition.objects.filter(effective_on__lte=today)
        .exclude(pk__in=BusinessTransfer.objects.values("transition_id"))
        .order_by("effective_on", "pk")
    )


def record_business_transfers(
    *, batch_size: int | None = None, time_budget: float | None = None
) -> TransferRun:
    """Start the transfer of every transition in effect, and record batches of each open
    transfer until all are done or ``time_budget`` seconds have gone (``more`` is then true:
    call again). Safe to run twice, and on several workers at once."""
    batch_size = batch_size or settings.SHARING_TRANSFER_BATCH_SIZE
    budget = settings.SHARING_TRANSFER_RUN_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    started = disclosed = 0
    for transition in transitions_to_transfer().select_related("recorded_by"):
        if _start_transfer(transition) is not None:
            started += 1
    open_ids = list(
        BusinessTransfer.objects.filter(state=State.IN_PROGRESS)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for transfer_id in open_ids:
        while True:
            if time.monotonic() >= deadline:
                return TransferRun(started=started, disclosed=disclosed, more=True)
            done, count = record_transfer_batch(transfer_id=transfer_id, batch_size=batch_size)
            disclosed += count
            if done:
                break
    return TransferRun(started=started, disclosed=disclosed, more=False)


def _counterparty_details(transition: BusinessTransition) -> PartyDetails:
    return PartyDetails(
        name=transition.counterparty,
        role=Role.INDEPENDENT_CONTROLLER,
        purposes=[DisclosurePurpose.BUSINESS_TRANSFER],
        purpose_description=(
            f"The other party to our {transition.get_kind_display().lower()}, effective "
            f"{transition.effective_on:%-d %B %Y}: receives our customers' personal "
            "information as part of the assets transferred (policy: Business Transitions)."
        ),
        categories=list(DataCategory.values),
        retention_promise=(
            "Uses the information in accordance with the privacy policy under which it was "
            "collected; a use different from that needs the choice the policy's Notification "
            "of Changes section promises."
        ),
        active_from=transition.effective_on,
    )


def _counterparty(transition: BusinessTransition) -> ThirdParty:
    """The counterparty's register entry: the party of that name, or a new one."""
    party = ThirdParty.objects.filter(name__iexact=transition.counterparty.strip()).first()
    if party is not None:
        return party
    return register_decided_party(
        details=_counterparty_details(transition),
        decided_by=transition.recorded_by,
        reason=(
            f"Counterparty of business transition {transition.pk} "
            f"({transition.get_kind_display().lower()}), effective "
            f"{transition.effective_on:%-d %B %Y}: customer data is transferred to it."
        ),
    )


def _start_transfer(transition: BusinessTransition) -> BusinessTransfer | None:
    """The transition's transfer, created with its counterparty; None if another run has
    started it already."""
    now = timezone.now()
    try:
        with transaction.atomic():
            party = _counterparty(transition)
            highest = get_user_model().objects.aggregate(highest=Max("pk"))["highest"] or 0
            transfer = BusinessTransfer.objects.create(
                transition=transition,
                party=party,
                authorised_by=transition.recorded_by,
                up_to_person=highest,
                started_at=now,
                updated_at=now,
            )
    except IntegrityError:
        return None  # started by another run, just now
    except RegisterError as error:
        logger.error(
            "business transition %s: counterparty not registered: %s", transition.pk, error
        )
        return None
    logger.info(
        "business transition %s: transfer of accounts up to %s to %s started",
        transition.pk,
        transfer.up_to_person,
        transfer.party,
    )
    return transfer


@transaction.atomic
def record_transfer_batch(*, transfer_id: int, batch_size: int) -> tuple[bool, int]:
    """Record the next batch of one transfer: (whether the transfer is finished or cannot go
    on now, disclosures recorded). A transfer another worker holds is left to it."""
    transfer = (
        BusinessTransfer.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("transition", "authorised_by")
        .filter(pk=transfer_id, state=State.IN_PROGRESS)
        .first()
    )
    if transfer is None:
        return True, 0
    now = timezone.now()
    # Locked here, so none can be closed or erased before its row is written; the lock also
    # re-checks ``is_active`` on a row changed meanwhile.
    people = list(
        get_user_model()
        .objects.select_for_update(no_key=True)
        .filter(
            pk__gt=transfer.after_person,
            pk__lte=transfer.up_to_person,
            is_active=True,
            is_staff=False,
        )
        .order_by("pk")[:batch_size]
    )
    if not people:
        transfer.state = State.COMPLETED
        transfer.completed_at = transfer.updated_at = now
        transfer.save(update_fields=["state", "completed_at", "updated_at"])
        logger.info("business transfer %s completed: %s people", transfer.pk, transfer.people)
        return True, 0
    party = ThirdParty.objects.get(pk=transfer.party_id)
    try:
        with transaction.atomic():
            rows = record_disclosures(
                people=people,
                party=party,
                categories=party.categories,
                purpose=DisclosurePurpose.BUSINESS_TRANSFER,
                legal_basis=LegalBasis.LEGITIMATE_INTERESTS,
                reference=transfer_reference(transfer.transition),
                actor=transfer.authorised_by,
            )
    except DisclosureRefused as refusal:
        transfer.state = State.BLOCKED
        transfer.blocked_reason = str(refusal)
        transfer.updated_at = now
        transfer.save(update_fields=["state", "blocked_reason", "updated_at"])
        logger.error("business transfer %s blocked: %s", transfer.pk, refusal)
        return True, 0
    transfer.after_person = people[-1].pk
    transfer.people += len(rows)
    transfer.updated_at = now
    transfer.save(update_fields=["after_person", "people", "updated_at"])
    return False, len(rows)


@transaction.atomic
def resume_business_transfer(*, transfer: BusinessTransfer, actor: AuthUser) -> BusinessTransfer:
    """Put a blocked transfer back in progress, with ``actor`` as the member of staff its
    next disclosures name. Needs ``sharing.change_businesstransfer``; the next run carries on
    from the last account done. Raises ``TransferError`` (nothing written)."""
    if not is_active_staff(actor, RESUME_PERMISSION):
        raise TransferError("Only staff allowed to change business transfers may resume one.")
    locked = BusinessTransfer.objects.select_for_update().get(pk=transfer.pk)
    if locked.state != State.BLOCKED:
        raise TransferError(f"The transfer is {locked.get_state_display().lower()}, not blocked.")
    locked.state = State.IN_PROGRESS
    locked.authorised_by = actor
    locked.blocked_reason = ""
    locked.updated_at = timezone.now()
    locked.save(update_fields=["state", "authorised_by", "blocked_reason", "updated_at"])
    logger.info("business transfer %s resumed by %s", locked.pk, actor.pk)
    return locked
