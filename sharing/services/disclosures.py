"""Recording disclosures: the one way personal data is logged as given to a third party.

``record_disclosure`` (one person) and ``record_disclosures`` (several, all or none) check the
register's rules first and write nothing when one is broken: they raise ``DisclosureRefused``,
whose ``rule`` says which rule and whose message says why in words. Callers disclose only
after the row is written, in the same transaction as whatever caused the disclosure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from api_keys.models import SystemAPIKey
from consent.selectors import usable_consents
from privacy_site.auth_user import AuthUser
from sharing.models import (
    DataCategory,
    Disclosure,
    DisclosurePurpose,
    LegalBasis,
    Role,
    ThirdParty,
)

# The longest reference the log keeps (the column's size).
# A CharField's, so never None.
REFERENCE_MAX = cast(int, Disclosure._meta.get_field("reference").max_length)


class Rule(enum.StrEnum):
    """The rules a disclosure must keep; ``DisclosureRefused.rule`` names the one broken."""

    ACTOR_REQUIRED = "actor_required"
    ACTOR_NOT_STAFF = "actor_not_staff"
    SYSTEM_KEY_NOT_USABLE = "system_key_not_usable"
    REFERENCE_REQUIRED = "reference_required"
    UNKNOWN_LEGAL_BASIS = "unknown_legal_basis"
    UNKNOWN_PURPOSE = "unknown_purpose"
    UNKNOWN_CATEGORY = "unknown_category"
    NO_CATEGORIES = "no_categories"
    AGGREGATE_ONLY_PARTY = "aggregate_only_party"
    PARTY_NOT_ACTIVE = "party_not_active"
    PURPOSE_NOT_REGISTERED = "purpose_not_registered"
    CATEGORY_NOT_REGISTERED = "category_not_registered"
    PERSON_GONE = "person_gone"
    NO_CONSENT = "no_consent"


ONLY_STAFF_OR_SELF = (
    "only an active member of staff may disclose data, or a person their own data for a "
    "service they asked for."
)


class DisclosureRefused(Exception):
    """The disclosure breaks ``rule``; nothing was written. The message says why."""

    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(f"Disclosure refused ({rule}): {message}")
        self.rule = rule


def _labels(values: Iterable[str], choices: type[models.TextChoices]) -> str:
    names = dict(choices.choices)
    return ", ".join(names.get(value, value) for value in values)


def _check_request(
    *,
    categories: Sequence[str],
    purpose: str | None,
    legal_basis: str,
    reference: str,
    actor: AuthUser | None,
    system: SystemAPIKey | None,
) -> list[str]:
    """Checks that need nothing but the arguments; returns the categories, in order.
    ``purpose`` None: each recipient's is checked on its own."""
    if (actor is None) == (system is None):
        raise DisclosureRefused(
            Rule.ACTOR_REQUIRED,
            "say who discloses: a member of staff (actor) or one of the shop's systems "
            "(system), one of the two.",
        )
    if actor is not None and not actor.is_active:
        raise DisclosureRefused(Rule.ACTOR_NOT_STAFF, ONLY_STAFF_OR_SELF)
    if system is not None and not system.is_usable:
        raise DisclosureRefused(
            Rule.SYSTEM_KEY_NOT_USABLE,
            f"the API key of {system.name} is revoked or expired.",
        )
    if not reference.strip():
        raise DisclosureRefused(
            Rule.REFERENCE_REQUIRED,
            "give the order, request or report the disclosure is for.",
        )
    if len(reference.strip()) > REFERENCE_MAX:
        raise DisclosureRefused(
            Rule.REFERENCE_REQUIRED, f"the reference is longer than {REFERENCE_MAX} characters."
        )
    if legal_basis not in LegalBasis.values:
        raise DisclosureRefused(Rule.UNKNOWN_LEGAL_BASIS, f"unknown legal basis {legal_basis!r}.")
    if purpose is not None and purpose not in DisclosurePurpose.values:
        raise DisclosureRefused(Rule.UNKNOWN_PURPOSE, f"unknown purpose {purpose!r}.")
    unknown = sorted(set(categories) - set(DataCategory.values))
    if unknown:
        raise DisclosureRefused(
            Rule.UNKNOWN_CATEGORY, f"unknown kinds of data: {', '.join(unknown)}."
        )
    if not categories:
        raise DisclosureRefused(Rule.NO_CATEGORIES, "name the kinds of data disclosed.")
    return [value for value in DataCategory.values if value in set(categories)]


def _check_party(party: ThirdParty, *, categories: list[str], purpose: str, today: date) -> None:
    """The register's rules for ``party``, as the register stands now."""
    if party.role == Role.AGGREGATE_ONLY:
        raise DisclosureRefused(
            Rule.AGGREGATE_ONLY_PARTY,
            f"{party.name} receives aggregate information only, never a person's data.",
        )
    if not party.is_active_on(today):
        until = f" until {party.active_until:%d %b %Y}" if party.active_until else ""
        raise DisclosureRefused(
            Rule.PARTY_NOT_ACTIVE,
            f"{party.name} may receive data from {party.active_from:%d %b %Y}{until}, "
            f"not on {today:%d %b %Y}.",
        )
    if purpose not in party.purposes:
        raise DisclosureRefused(
            Rule.PURPOSE_NOT_REGISTERED,
            f"{party.name} is not registered to receive data for "
            f"{_labels([purpose], DisclosurePurpose)!r}; its purposes are: "
            f"{_labels(party.purposes, DisclosurePurpose) or 'none'}.",
        )
    beyond = [category for category in categories if category not in party.categories]
    if beyond:
        raise DisclosureRefused(
            Rule.CATEGORY_NOT_REGISTERED,
            f"{party.name} may not receive {_labels(beyond, DataCategory)}; the register "
            f"allows {_labels(party.categories, DataCategory) or 'nothing'}.",
        )


def _check_people(party: ThirdParty, *, people: list[AuthUser], legal_basis: str) -> None:
    """The rules about the people whose data goes: present (unless the law requires it), and
    their consent where consent is the basis."""
    if legal_basis != LegalBasis.LEGAL_OBLIGATION:
        gone = [person for person in people if not person.is_active]
        if gone:
            raise DisclosureRefused(
                Rule.PERSON_GONE,
                f"the account {_accounts(gone)} is deactivated or erased; only a disclosure "
                "required by law may include it.",
            )
    if legal_basis == LegalBasis.CONSENT:
        purposes = list(party.consent_purposes.select_related("introduced_in"))
        if not purposes:
            raise DisclosureRefused(
                Rule.NO_CONSENT,
                f"no consent purpose tells people about {party.name}, so consent can't be "
                "the basis for disclosing to it.",
            )
        ids = {person.pk for person in people}
        consenting: set[int] = set()
        for purpose in purposes:
            if not purpose.is_optional:
                consenting |= ids  # mandatory: every active account (checked above)
                continue
            consenting |= set(
                usable_consents(purpose=purpose)
                .filter(subject_id__in=ids)
                .values_list("subject_id", flat=True)
            )
        missing = [person for person in people if person.pk not in consenting]
        if missing:
            raise DisclosureRefused(
                Rule.NO_CONSENT,
                f"the account {_accounts(missing)} has not consented to "
                f"{' or '.join(repr(purpose.name) for purpose in purposes)}.",
            )


def _accounts(people: list[AuthUser]) -> str:
    return ", ".join(str(person.pk) for person in people)


@transaction.atomic
def record_disclosures(
    *,
    people: Iterable[AuthUser],
    party: ThirdParty,
    categories: Sequence[str],
    purpose: str,
    legal_basis: str,
    reference: str,
    actor: AuthUser | None = None,
    system: SystemAPIKey | None = None,
) -> list[Disclosure]:
    """Log the disclosure of the same kinds of data of each of ``people`` to ``party``, for
    ``purpose`` on ``legal_basis``, for ``reference`` (an order, request or report), by staff
    ``actor`` or the shop's ``system`` (its API key); a customer may be the ``actor`` for their
    own data alone (a service they asked for). All or none: if the rules refuse one person,
    ``DisclosureRefused`` is raised and nothing is written.

    The rules (``Rule``): the party is not aggregate-only, is active today, is registered for
    ``purpose`` and for every kind of data in ``categories``; each person's account is
    present (not deactivated or erased) unless the law requires the disclosure; with consent
    as the basis, each person currently grants a consent purpose linked to the party."""
    categories = _check_request(
        categories=categories,
        purpose=purpose,
        legal_basis=legal_basis,
        reference=reference,
        actor=actor,
        system=system,
    )
    now = timezone.now()
    # Read the register as it stands in this transaction, not as the caller last saw it.
    current = ThirdParty.objects.get(pk=party.pk)
    _check_party(current, categories=categories, purpose=purpose, today=timezone.localdate(now))
    ids = sorted({person.pk for person in people})
    if actor is not None and not actor.is_staff and ids != [actor.pk]:
        # A customer discloses only their own data (joining Jessops Photo, say).
        raise DisclosureRefused(Rule.ACTOR_NOT_STAFF, ONLY_STAFF_OR_SELF)
    if not ids:
        return []
    # Locked (without blocking the inserts that point at them) so that an account can't be
    # closed or erased between the check and the row.
    locked = list(
        get_user_model().objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    )
    missing = sorted(set(ids) - {person.pk for person in locked})
    if missing:
        raise DisclosureRefused(
            Rule.PERSON_GONE, f"no account {', '.join(map(str, missing))} exists."
        )
    _check_people(current, people=locked, legal_basis=legal_basis)
    rows = [
        Disclosure(
            person=person,
            party=current,
            categories=categories,
            purpose=purpose,
            legal_basis=legal_basis,
            reference=reference.strip(),
            actor=actor,
            system=system,
            occurred_at=now,
        )
        for person in locked
    ]
    return Disclosure.objects.bulk_create(rows)


def record_disclosure(
    *,
    person: AuthUser,
    party: ThirdParty,
    categories: Sequence[str],
    purpose: str,
    legal_basis: str,
    reference: str,
    actor: AuthUser | None = None,
    system: SystemAPIKey | None = None,
) -> Disclosure:
    """Log one disclosure of ``person``'s data (see ``record_disclosures`` for the rules).
    Raises ``DisclosureRefused`` and writes nothing when a rule is broken."""
    [disclosure] = record_disclosures(
        people=[person],
        party=party,
        categories=categories,
        purpose=purpose,
        legal_basis=legal_basis,
        reference=reference,
        actor=actor,
        system=system,
    )
    return disclosure


@dataclass(frozen=True)
class Recipient:
    """One party that receives a person's data, and what for."""

    party: ThirdParty
    purpose: str


def record_disclosures_to(
    *,
    person: AuthUser,
    recipients: Sequence[Recipient],
    categories: Sequence[str],
    legal_basis: str,
    reference: str,
    actor: AuthUser | None = None,
    system: SystemAPIKey | None = None,
    as_read_in_transaction: bool = False,
) -> list[Disclosure | DisclosureRefused]:
    """Log the disclosure of the same kinds of ``person``'s data to each of ``recipients`` (a
    party and the purpose it receives them for), for ``reference``, by ``actor`` or
    ``system``: the bank and the carrier of one order, say. The rules are those of
    ``record_disclosures``; each recipient is judged on its own, so the answer holds, in the
    order of ``recipients``, either the row written or the ``DisclosureRefused`` saying why
    that party gets nothing (returned, not raised). A request no party could take (no one
    disclosing, no reference, an unknown kind of data...) raises ``DisclosureRefused`` and
    writes nothing.

    Three statements whatever the number of recipients: the register re-read, the person's
    row locked (``FOR NO KEY UPDATE``), and one insert. ``as_read_in_transaction``: the caller
    read each party and the person, with the person's row locked (``SELECT ... FOR UPDATE``)
    or inserted, in the transaction this joins, so neither is read again and the insert is the
    only statement. Joins the caller's transaction without a savepoint: nothing is written
    until every rule is checked, and an error leaves the transaction to roll back.
    """
    if as_read_in_transaction and not connection.in_atomic_block:
        raise ValueError("Rows read in a transaction can only be used inside it.")
    checked = _check_request(
        categories=categories,
        purpose=None,
        legal_basis=legal_basis,
        reference=reference,
        actor=actor,
        system=system,
    )
    if actor is not None and not actor.is_staff and person.pk != actor.pk:
        raise DisclosureRefused(Rule.ACTOR_NOT_STAFF, ONLY_STAFF_OR_SELF)
    with transaction.atomic(savepoint=False):
        now = timezone.now()
        today = timezone.localdate(now)
        if as_read_in_transaction:
            parties = {recipient.party.pk: recipient.party for recipient in recipients}
            present = person
        else:
            parties = ThirdParty.objects.in_bulk([recipient.party.pk for recipient in recipients])
            present = _locked_person(person)
        outcomes: list[Disclosure | DisclosureRefused] = []
        for recipient in recipients:
            try:
                if recipient.purpose not in DisclosurePurpose.values:
                    raise DisclosureRefused(
                        Rule.UNKNOWN_PURPOSE, f"unknown purpose {recipient.purpose!r}."
                    )
                party = parties.get(recipient.party.pk)
                if party is None:
                    raise ThirdParty.DoesNotExist(f"No third party {recipient.party.pk}.")
                _check_party(party, categories=checked, purpose=recipient.purpose, today=today)
                _check_people(party, people=[present], legal_basis=legal_basis)
            except DisclosureRefused as refusal:
                outcomes.append(refusal)
                continue
            outcomes.append(
                Disclosure(
                    person=present,
                    party=party,
                    categories=checked,
                    purpose=recipient.purpose,
                    legal_basis=legal_basis,
                    reference=reference.strip(),
                    actor=actor,
                    system=system,
                    occurred_at=now,
                )
            )
        rows = [outcome for outcome in outcomes if isinstance(outcome, Disclosure)]
        if rows:
            Disclosure.objects.bulk_create(rows)
        return outcomes


def _locked_person(person: AuthUser) -> AuthUser:
    """``person``'s row as it stands, locked (without blocking the inserts that point at it)
    so that the account can't be closed or erased between the check and the row."""
    locked = get_user_model().objects.select_for_update(no_key=True).filter(pk=person.pk).first()
    if locked is None:
        raise DisclosureRefused(Rule.PERSON_GONE, f"no account {person.pk} exists.")
    return locked
