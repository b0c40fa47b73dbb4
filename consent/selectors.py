"""Reads of the consent app that are more than a one-model filter."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from consent.anonymous_id import parse_anonymous_id
from consent.models import (
    ConsentEvent,
    ConsentSource,
    CookieConsent,
    CurrentConsent,
    PolicyVersion,
    Purpose,
)
from privacy_site.auth_user import AuthUser

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def audience_for(
    *,
    purpose: Purpose,
    after: int = 0,
    limit: int = 1000,
    subjects: QuerySet[AuthUser] | None = None,
    legal_basis: str | None = None,
) -> QuerySet[AuthUser, int] | QuerySet[CurrentConsent, int]:
    """Ids of active subjects who currently grant ``purpose``, ascending, after id ``after``.

    Keyset pagination: pass the last id of one batch as ``after`` for the next. The scan walks
    the partial index ``consent_current_audience`` (purpose, subject WHERE granted), so each
    batch costs the same however deep into a million subjects it starts. A mandatory purpose
    has no consent rows: its audience is every active account, walked by primary key.
    ``subjects`` narrows the audience to some users (a campaign's segment); ``legal_basis``
    to consents given on that basis.
    """
    users = subjects if subjects is not None else get_user_model().objects.all()
    # The bound is repeated on the users' side so PostgreSQL's merge join starts both index
    # scans at ``after`` instead of walking every user before it.
    active = users.filter(is_active=True, pk__gt=after)
    if not purpose.is_optional:
        return active.order_by("pk").values_list("pk", flat=True)[:limit]
    # Only consents given after the person was told of the purpose (``usable_consents``).
    granted = usable_consents(purpose=purpose).filter(subject_id__gt=after, subject__in=active)
    if legal_basis:
        granted = granted.filter(legal_basis=legal_basis)
    return granted.order_by("subject_id").values_list("subject_id", flat=True)[:limit]


@dataclass(frozen=True)
class ConsentState:
    purpose: Purpose
    granted: bool
    legal_basis: str | None
    since: object | None  # datetime of the decision in force, None if never asked
    mandatory: bool


def consent_status(*, subject: AuthUser) -> dict[str, ConsentState]:
    """Every purpose with the subject's state. Mandatory purposes are on for an active account."""
    # Plain tuples, not model instances: this runs on every preference-centre page.
    rows = {
        purpose_id: (granted, legal_basis, since)
        for purpose_id, granted, legal_basis, since in CurrentConsent.objects.filter(
            subject=subject
        ).values_list("purpose_id", "granted", "legal_basis", "event__occurred_at")
    }
    status = {}
    for purpose in Purpose.objects.all():
        row = rows.get(purpose.pk)
        if not purpose.is_optional:
            status[purpose.code] = ConsentState(
                purpose, bool(subject.is_active), None, None, mandatory=True
            )
        else:
            status[purpose.code] = ConsentState(
                purpose,
                granted=bool(row and row[0]),
                legal_basis=row[1] if row else None,
                since=row[2] if row else None,
                mandatory=False,
            )
    return status


def consent_history_for(*, subject: AuthUser) -> QuerySet[ConsentEvent]:
    """The subject's own decisions, newest first, with what they need for display."""
    return (
        ConsentEvent.objects.filter(subject=subject)
        .select_related("purpose", "policy_version")
        .order_by("-occurred_at", "-id")
    )


HISTORY_COLUMNS = (
    "pk",
    "granted",
    "purpose__name",
    "occurred_at",
    "source",
    "policy_version__number",
)


def consent_history_rows(*, subject: AuthUser) -> QuerySet[ConsentEvent, tuple[Any, ...]]:
    """The subject's decisions, newest first, as tuples of ``HISTORY_COLUMNS``: what the
    preference centre shows, without building three model instances a row."""
    return (
        ConsentEvent.objects.filter(subject=subject)
        .order_by("-occurred_at", "-id")
        .values_list(*HISTORY_COLUMNS)
    )


def current_consent_for(*, subject: AuthUser) -> QuerySet[CurrentConsent]:
    """The subject's decisions in force, in the purposes' display order, each with the event
    and policy version behind it."""
    return (
        CurrentConsent.objects.filter(subject=subject)
        .select_related("purpose", "event__policy_version")
        .order_by("purpose__display_order", "purpose_id")
    )


def cookie_history_for(*, user: AuthUser) -> QuerySet[CookieConsent]:
    """The cookie choices made while ``user`` was logged in, newest first."""
    return CookieConsent.objects.filter(user=user).select_related("policy_version").order_by("-id")


def optional_purposes() -> QuerySet[Purpose]:
    return Purpose.objects.filter(is_optional=True)


def policy_history() -> QuerySet[PolicyVersion]:
    """Every published version, newest first, without the full texts (a list shows summaries)."""
    return PolicyVersion.objects.defer("text").order_by("-number")


def policy_version_get(*, number: int) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(number=number).first()


def previous_policy_version(version: PolicyVersion) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(number__lt=version.number).order_by("-number").first()


def optional_purpose_get(*, code: str) -> Purpose | None:
    """The optional purpose with this code; None for an unknown or mandatory one."""
    return optional_purposes().filter(code=code).first()


class PolicyChangedSince(TypedDict):
    policy_changed_since: bool


def cookie_choice_for(
    *, anonymous_id: uuid.UUID
) -> WithAnnotations[CookieConsent, PolicyChangedSince] | None:
    """The choice in force for this browser (its latest row), or None if it never chose.

    One query on the ``anonymous_id`` index. The row carries ``policy_changed_since``: True
    when a version newer than the one it was made under changed more than wording, so the
    browser must be asked again. A choice older than the retention schedule keeps cookie
    choices counts as none: the browser is asked again.
    """
    parsed_id = parse_anonymous_id(anonymous_id)
    if parsed_id is None:
        return None
    material_change_since = PolicyVersion.objects.filter(
        number__gt=OuterRef("policy_version__number")
    ).exclude(change_type=PolicyVersion.ChangeType.EDITORIAL)
    choice = (
        CookieConsent.objects.filter(anonymous_id=parsed_id)
        .select_related("policy_version")
        .annotate(policy_changed_since=Exists(material_change_since))
        .order_by("-id")
        .first()
    )
    if choice is not None and choice.created_at < cookie_choices_asked_since():
        return None  # past its 12 months: the banner asks again, whether or not it is deleted
    return choice


def cookie_choices_asked_since() -> datetime:
    """A cookie choice made before this is no longer in force (``RETENTION_COOKIE_CHOICES_DAYS``;
    the retention job deletes it)."""
    return timezone.now() - timedelta(days=settings.RETENTION_COOKIE_CHOICES_DAYS)


# --- Who a notice reaches (see docs/CONSENT.md, "Opted in, opted out of all, gone") ---------


def _users(subjects: QuerySet[AuthUser] | None) -> QuerySet[AuthUser]:
    return subjects if subjects is not None else get_user_model().objects.all()


def _holds(*, granted: bool) -> Exists:
    return Exists(
        CurrentConsent.objects.filter(
            subject=OuterRef("pk"), purpose__is_optional=True, granted=granted
        )
    )


def opted_in_to_communications(subjects: QuerySet[AuthUser] | None = None) -> QuerySet[AuthUser]:
    """Subjects holding at least one optional purpose granted now (gone ones included: a
    caller that emails also excludes ``gone_subjects``)."""
    return _users(subjects).filter(_holds(granted=True))


def opted_out_of_all_communication(
    subjects: QuerySet[AuthUser] | None = None,
) -> QuerySet[AuthUser]:
    """Subjects holding no optional purpose granted now who have said no at least once.

    A "no" is a withdrawal or refusal in the ledger (preference centre, unsubscribe link,
    one-click, provider complaint or unsubscribe, a re-consent answered no): the ledger
    writes a row only for a change, so a current row that is not granted exists exactly
    when the person's last word on that purpose was no. Someone never asked has no rows
    and is not opted out. (A complaint about an address with no consent to withdraw is
    known to the communications app only: see ``communications.audiences``.)"""
    return _users(subjects).filter(~_holds(granted=True), _holds(granted=False))


def gone_subjects(subjects: QuerySet[AuthUser] | None = None) -> QuerySet[AuthUser]:
    """Deactivated, erased, or awaiting erasure. The accounts app keeps an erased account,
    or one on its way to erasure, inactive (a database constraint), so inactive is all three."""
    return _users(subjects).filter(is_active=False)


def present_subjects(subjects: QuerySet[AuthUser] | None = None) -> QuerySet[AuthUser]:
    """Subjects who are not gone."""
    return _users(subjects).filter(is_active=True)


# --- Using data under the version it was collected under ----------------------------------


def usable_consents(*, purpose: Purpose) -> QuerySet[CurrentConsent]:
    """Current grants of ``purpose`` that allow using the data for it now: given under the
    version that introduced the purpose or a later one, so the person had been told of the
    use when they agreed. For a purpose as old as the first version every grant counts, and
    the check costs nothing."""
    grants = CurrentConsent.objects.filter(purpose=purpose, granted=True)
    introduced = purpose.introduced_in.number
    if PolicyVersion.objects.filter(number__lt=introduced).exists():
        grants = grants.filter(event__policy_version__number__gte=introduced)
    return grants


def usable_consents_by_code(code: str) -> QuerySet[CurrentConsent]:
    """``usable_consents`` in one query from a purpose code (the version check always made:
    for the few rows of a batch the join costs nothing)."""
    return CurrentConsent.objects.filter(
        purpose__code=code,
        granted=True,
        event__policy_version__number__gte=F("purpose__introduced_in__number"),
    )


def may_use_for_purpose(*, subject: AuthUser, purpose: Purpose) -> bool:
    """May data of ``subject`` be used for ``purpose`` now? Mandatory purposes: while the
    account is active. Optional ones: an active account whose current consent was given
    under ``purpose``'s introducing version or later (``usable_consents``)."""
    if not subject.is_active:
        return False
    if not purpose.is_optional:
        return True
    return usable_consents(purpose=purpose).filter(subject=subject).exists()


def unanswered_purposes(*, subject: AuthUser, version: PolicyVersion) -> QuerySet[Purpose]:
    """Optional purposes ``version`` introduced on which ``subject`` has given no answer since
    (no decision under that version or a later one)."""
    answered = CurrentConsent.objects.filter(
        subject=subject,
        purpose=OuterRef("pk"),
        event__policy_version__number__gte=version.number,
    )
    return Purpose.objects.filter(introduced_in=version, is_optional=True).filter(~Exists(answered))


def use_change_versions_unanswered_by(*, subject: AuthUser) -> QuerySet[PolicyVersion]:
    """Use-change versions with a purpose ``subject`` has not answered yet, oldest first."""
    answered = CurrentConsent.objects.filter(
        subject=subject,
        purpose=OuterRef("pk"),
        event__policy_version__number__gte=OuterRef("introduced_in__number"),
    )
    open_purposes = Purpose.objects.filter(introduced_in=OuterRef("pk"), is_optional=True).filter(
        ~Exists(answered)
    )
    return (
        PolicyVersion.objects.filter(change_type=PolicyVersion.ChangeType.USE_CHANGE)
        .filter(Exists(open_purposes))
        .order_by("number")
    )


def nothing_to_withdraw(*, subject: AuthUser, purpose: Purpose | None) -> bool:
    """Nothing for an unsubscribe link to stop: its purpose (``None``: every optional purpose)
    is not granted now."""
    status = consent_status(subject=subject)
    if purpose is not None:
        state = status.get(purpose.code)
        return not (state and state.granted)
    return not any(state.granted for state in status.values() if not state.mandatory)


def confirmed_by_double_opt_in(subject_ids: Iterable[int]) -> set[int]:
    """Those of ``subject_ids`` who have ever followed a newsletter confirmation link: the
    link went to the account's address, so the click proves the mailbox is theirs (though not
    that they made the account). One query, on the ledger's (subject, purpose, id) index.

    The address it proves is the account's current one: a newsletter link confirms only for
    the account holding the address it was sent to, and an account's address changes only
    once the new one is verified (``ACCOUNT_CHANGE_EMAIL``).
    """
    subject_ids = list(subject_ids)
    if not subject_ids:
        return set()
    return set(
        ConsentEvent.objects.filter(
            subject_id__in=subject_ids,
            purpose__code=Purpose.NEWSLETTER,
            source=ConsentSource.NEWSLETTER_FORM,
            granted=True,
        ).values_list("subject_id", flat=True)
    )
