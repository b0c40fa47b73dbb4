"""The marketing box at the point of collection (the order form): the choice the policy offers
"at the point where we request information about the visitor", recorded on the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from consent.models import ConsentEvent, ConsentSource
from privacy_site.auth_user import AuthUser

from .ledger import (
    ConsentError,
    LegalBasis,
    lock_subject,
    optional_purposes,
    policy_version_of,
    write_events,
)


@dataclass(frozen=True)
class CollectionChoice:
    """The purpose's state in force after the box was read, and whether it changed it."""

    granted: bool
    legal_basis: str | None  # None: never asked
    changed: bool


def record_collection_choice(
    *,
    subject: AuthUser,
    purpose: str,
    opted_out: bool,
    may_grant: bool,
    source: str,
    wording: str,
    subject_locked: bool = False,
) -> CollectionChoice:
    """Record the answer to a box "tick if you do not want ``purpose``" for ``subject``.

    Ticked (``opted_out``): ``purpose`` is withdrawn, and recorded even if the subject was
    never asked, as proof they said no; nothing is written if it is withdrawn already. Not
    ticked: a subject never asked about ``purpose`` is granted it on the soft opt-in basis
    when ``may_grant`` (the caller says no for an address on the do-not-email list); an
    earlier "no" stands and an earlier "yes" keeps its basis. No other purpose is touched.

    ``subject_locked``: the caller locked the subject's row (``SELECT ... FOR UPDATE``) or
    inserted it, in the transaction this joins, so it is not locked again. Joins the caller's
    transaction without a savepoint: an error leaves it to roll back. Two statements when
    nothing changes (the lock and one read), four when something does, none of them repeated.
    """
    if source not in ConsentSource.values:
        raise ConsentError(f"Unknown source {source!r}.")
    if subject_locked and not connection.in_atomic_block:
        raise ConsentError("A subject can only be locked already inside a transaction.")
    with transaction.atomic(savepoint=False):
        return _record(
            subject=subject,
            purpose=purpose,
            opted_out=opted_out,
            may_grant=may_grant,
            source=source,
            wording=wording,
            subject_locked=subject_locked,
        )


def _record(
    *,
    subject: AuthUser,
    purpose: str,
    opted_out: bool,
    may_grant: bool,
    source: str,
    wording: str,
    subject_locked: bool,
) -> CollectionChoice:
    if not subject_locked:
        lock_subject(subject)
    purposes = optional_purposes([purpose], subject=subject)
    chosen = purposes[purpose]
    granted, basis = chosen.current_granted, chosen.current_legal_basis
    if opted_out and granted is not False:
        decision: tuple[bool, str] | None = (False, LegalBasis.CONSENT)
    elif not opted_out and granted is None and may_grant:
        decision = (True, LegalBasis.SOFT_OPT_IN)
    else:
        decision = None
    if decision is None:
        return CollectionChoice(
            granted=bool(granted), legal_basis=None if basis is None else str(basis), changed=False
        )
    event = ConsentEvent(
        subject=subject,
        purpose=chosen,
        granted=decision[0],
        legal_basis=decision[1],
        source=source,
        policy_version_id=policy_version_of(purposes),
        wording=wording,
        occurred_at=timezone.now(),
    )
    write_events(subject=subject, events=[event])
    return CollectionChoice(granted=event.granted, legal_basis=str(event.legal_basis), changed=True)
