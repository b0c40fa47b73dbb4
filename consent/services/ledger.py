"""Every consent decision is written here: a ledger row and the current state, atomically."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypedDict

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from consent.models import ConsentEvent, ConsentSource, CurrentConsent, PolicyVersion, Purpose
from consent.provenance import NO_PROVENANCE, Provenance
from privacy_site.auth_user import AuthUser

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

LegalBasis = ConsentEvent.LegalBasis


class _PurposeAndState(TypedDict):
    current_policy_version_id: int | None
    # The subject's state in force for the purpose (None: never asked).
    current_granted: bool | None
    current_legal_basis: str | None


class ConsentError(ValueError):
    """A decision that can't be recorded: an unknown or mandatory purpose, say."""


def current_policy_version() -> PolicyVersion:
    version = PolicyVersion.objects.filter(is_current=True).first()
    if version is None:
        raise ConsentError("No policy version is current; publish one first.")
    return version


def lock_subject(subject: AuthUser) -> None:
    """Lock the subject's row for the rest of the transaction: decisions for one person are
    taken in turn, so the current table always equals the fold of the ledger."""
    list(get_user_model().objects.select_for_update().filter(pk=subject.pk).values_list("pk"))


def optional_purposes(
    codes: Iterable[str], *, subject: AuthUser
) -> dict[str, WithAnnotations[Purpose, _PurposeAndState]]:
    """The optional purposes ``codes``, each with the current policy version and the
    subject's state in force, in one query. Read it after ``lock_subject``. Raises
    ``ConsentError`` for an unknown or mandatory purpose."""
    codes = set(codes)
    current_version = PolicyVersion.objects.filter(is_current=True).values("pk")[:1]
    state = CurrentConsent.objects.filter(subject=subject, purpose=OuterRef("pk"))
    purposes = {
        p.code: p
        for p in Purpose.objects.filter(code__in=codes).annotate(
            current_policy_version_id=Subquery(current_version),
            current_granted=Subquery(state.values("granted")[:1]),
            current_legal_basis=Subquery(state.values("legal_basis")[:1]),
        )
    }
    unknown = codes - purposes.keys()
    if unknown:
        raise ConsentError(f"Unknown purpose: {', '.join(sorted(unknown))}.")
    mandatory = sorted(code for code, p in purposes.items() if not p.is_optional)
    if mandatory:
        raise ConsentError(
            f"{', '.join(mandatory)} is mandatory: there is no consent to give or withdraw."
        )
    return purposes


def policy_version_of(purposes: Mapping[str, WithAnnotations[Purpose, _PurposeAndState]]) -> int:
    """The current policy version's id, read with ``purposes``."""
    version_id = next(iter(purposes.values())).current_policy_version_id
    if version_id is None:
        raise ConsentError("No policy version is current; publish one first.")
    return version_id


def write_events(*, subject: AuthUser, events: list[ConsentEvent]) -> None:
    """Append ``events`` to the ledger and make them the subject's current state: two
    statements, whatever the number of events."""
    ConsentEvent.objects.bulk_create(events)
    CurrentConsent.objects.bulk_create(
        [
            CurrentConsent(
                subject=subject,
                purpose_id=event.purpose_id,
                granted=event.granted,
                legal_basis=event.legal_basis,
                event=event,
                updated_at=event.occurred_at,
            )
            for event in events
        ],
        update_conflicts=True,
        unique_fields=["subject", "purpose"],
        update_fields=["granted", "legal_basis", "event", "updated_at"],
    )


@transaction.atomic
def record_decisions(
    *,
    subject: AuthUser,
    choices: Mapping[str, bool],
    source: str,
    legal_basis: str = LegalBasis.CONSENT,
    actor: AuthUser | None = None,
    provenance: Provenance = NO_PROVENANCE,
    wording: Mapping[str, str] | None = None,
    record_refusals: bool = False,
    record_repeats: bool = False,
) -> list[ConsentEvent]:
    """Record ``{purpose code: granted}`` for one subject; return the events that changed state.

    ``record_refusals``: a "no" from someone never asked is recorded too (the answer to a
    re-consent question is proof that they were asked and what they said).
    ``record_repeats``: a choice equal to the state in force is recorded too (a newsletter
    confirmation link followed by someone already subscribed: the click is proof of the
    address the grant before it lacked).

    A choice equal to the state already in force writes nothing. The subject's row is locked
    first (even when they have no current rows yet), so concurrent decisions for one person are
    serialised and the current table always equals the fold of the ledger. ``wording``
    overrides the purpose's own words when the person was shown something else (an older form,
    say). Four statements at most, in one transaction: the lock, the purposes with the policy
    version and the subject's state, the ledger rows and the current rows.
    """
    if source not in ConsentSource.values:
        raise ConsentError(f"Unknown source {source!r}.")
    if legal_basis not in LegalBasis.values:
        raise ConsentError(f"Unknown legal basis {legal_basis!r}.")
    if not choices:
        return []
    lock_subject(subject)
    purposes = optional_purposes(choices, subject=subject)
    version_id = policy_version_of(purposes)
    now = timezone.now()
    events = []
    for code, granted in choices.items():
        purpose = purposes[code]
        unchanged = purpose.current_granted is not None and purpose.current_granted == bool(granted)
        if unchanged and not record_repeats:
            continue
        if purpose.current_granted is None and not granted and not record_refusals:
            # Never asked and still no: nothing to prove, nothing to record.
            continue
        events.append(
            ConsentEvent(
                subject=subject,
                purpose=purpose,
                granted=bool(granted),
                legal_basis=legal_basis,
                source=source,
                policy_version_id=version_id,
                wording=(wording or {}).get(code, purpose.wording),
                occurred_at=now,
                actor=actor,
                ip_address=provenance.ip_address,
                user_agent=provenance.user_agent,
            )
        )
    if not events:
        return []
    write_events(subject=subject, events=events)
    return events


def grant_consent(
    *,
    subject: AuthUser,
    purpose: str,
    source: str,
    legal_basis: str = LegalBasis.CONSENT,
    actor: AuthUser | None = None,
    provenance: Provenance = NO_PROVENANCE,
    wording: str | None = None,
) -> ConsentEvent | None:
    """Grant one purpose; None if it was already granted."""
    events = record_decisions(
        subject=subject,
        choices={purpose: True},
        source=source,
        legal_basis=legal_basis,
        actor=actor,
        provenance=provenance,
        wording={purpose: wording} if wording else None,
    )
    return events[0] if events else None


def withdraw_consent(
    *,
    subject: AuthUser,
    purpose: str,
    source: str,
    actor: AuthUser | None = None,
    provenance: Provenance = NO_PROVENANCE,
) -> ConsentEvent | None:
    """Withdraw one purpose; None if it was not granted."""
    events = record_decisions(
        subject=subject,
        choices={purpose: False},
        source=source,
        actor=actor,
        provenance=provenance,
    )
    return events[0] if events else None


def withdraw_all_marketing(
    *,
    subject: AuthUser,
    source: str,
    actor: AuthUser | None = None,
    provenance: Provenance = NO_PROVENANCE,
) -> list[ConsentEvent]:
    """Withdraw every optional purpose the subject has granted."""
    codes = Purpose.objects.filter(is_optional=True).values_list("code", flat=True)
    return record_decisions(
        subject=subject,
        choices=dict.fromkeys(codes, False),
        source=source,
        actor=actor,
        provenance=provenance,
    )
