"""Drawing a contest's winners, reproducibly, and giving the sponsor what it needs.

The draw (docs/SURVEYS.md, "Drawing winners"): each entry's number ``n`` is ranked by the
SHA-256 of ``"<seed>:<n>"`` (hexadecimal, lowest first; ties, which never happen, by the
number) and the first ``winners_wanted`` win. The seed is 32 random bytes from ``secrets``.
The seed, the entry numbers and the SHA-256 of those numbers (in ascending order, one per
line, no final newline) are recorded, so anyone can run it again and get the same winners
(``manage.py verify_draw <survey id>`` does).

In the draw's transaction the winners' contact details are logged as disclosed to the sponsor
(``sharing.services.disclosures.record_disclosures``, the register's rules checked) and each
winner's ``contest_winner`` email is written to the outbox.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from communications.kinds import MessageKind
from communications.services.outbox import enqueue_email
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from sharing.models import DataCategory, DisclosurePurpose, LegalBasis
from sharing.services.disclosures import DisclosureRefused, record_disclosures
from surveys.models import Draw, Entry, Survey, SurveyEvent
from surveys.services.authoring import SurveyError

# What the sponsor receives about each winner: the contact details the policy names.
WINNER_CATEGORIES = [DataCategory.NAME, DataCategory.EMAIL, DataCategory.POSTAL_ADDRESS]


def entries_hash(entry_ids: Sequence[int]) -> str:
    return hashlib.sha256("\n".join(str(n) for n in sorted(entry_ids)).encode()).hexdigest()


def rank(seed: str, entry_id: int) -> str:
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def pick_winners(*, seed: str, entry_ids: Sequence[int], count: int) -> list[int]:
    """The winning entry numbers, in the order drawn: the same for the same arguments,
    whatever the order of ``entry_ids``."""
    return sorted(set(entry_ids), key=lambda n: (rank(seed, n), n))[:count]


def eligible_entries(survey: Survey) -> list[Entry]:
    """Entries made before the contest closed by people whose account is open today."""
    entries = Entry.objects.filter(
        survey=survey, person__isnull=False, person__is_active=True
    ).select_related("person")
    if survey.closes_at is not None:
        entries = entries.filter(submitted_at__lt=survey.closes_at)
    return list(entries.order_by("pk"))


@transaction.atomic
def draw_winners(*, survey: Survey, actor: AuthUser) -> Draw:
    """Draw the closed contest's winners, once. Refused with ``SurveyError`` (nothing
    written) when the contest is still open, drawn already, has no eligible entry, or the
    register no longer lets the sponsor receive the winners' details."""
    if not is_active_staff(actor, "surveys.draw_winners"):
        raise SurveyError("Only a member of staff allowed to draw winners may do this.")
    contest = (
        Survey.objects.select_for_update(of=("self",)).select_related("sponsor").get(pk=survey.pk)
    )
    if not contest.is_contest or contest.sponsor is None:
        raise SurveyError("Only a contest has winners.")
    if Draw.objects.filter(survey=contest).exists():
        raise SurveyError("This contest's winners have been drawn already.")
    now = timezone.now()
    if contest.status == Survey.Status.DRAFT or (
        contest.closes_at is not None and now < contest.closes_at
    ):
        raise SurveyError("The contest is still open: draw its winners once it has closed.")
    entries = eligible_entries(contest)
    if not entries:
        raise SurveyError("Nobody can win: the contest has no entry from an open account.")
    seed = secrets.token_hex(32)
    ids = [entry.pk for entry in entries]
    winner_ids = pick_winners(seed=seed, entry_ids=ids, count=contest.winners_wanted)
    by_id = {entry.pk: entry for entry in entries}
    winners = [by_id[n] for n in winner_ids]
    try:
        record_disclosures(
            people=[entry.person for entry in winners if entry.person is not None],
            party=contest.sponsor,
            categories=WINNER_CATEGORIES,
            purpose=DisclosurePurpose.PRIZE_AWARD,
            # Entering is asking for the chance of the prize: the form said, in the policy's
            # words, that winners' details go to the sponsor to award it.
            legal_basis=LegalBasis.CONTRACT,
            reference=f"Contest {contest.pk}: {contest.title}"[:200],
            actor=actor,
        )
    except DisclosureRefused as refused:
        raise SurveyError(str(refused)) from refused
    draw = Draw.objects.create(
        survey=contest,
        seed=seed,
        entry_ids=ids,
        entries_hash=entries_hash(ids),
        winner_ids=winner_ids,
        drawn_by=actor,
        drawn_at=now,
    )
    if contest.status == Survey.Status.OPEN:
        contest.status, contest.closed_at = Survey.Status.CLOSED, now
        contest.save(update_fields=["status", "closed_at"])
    for entry in winners:
        enqueue_email(
            kind=MessageKind.CONTEST_WINNER,
            user=entry.person,
            context={
                "contest_name": contest.title,
                "prize": contest.prize,
                "sponsor_name": contest.sponsor.name,
            },
        )
    SurveyEvent.objects.create(
        survey=contest,
        action=SurveyEvent.Action.DRAWN,
        actor=actor,
        details={"entries": len(ids), "winners": winner_ids, "entries_hash": draw.entries_hash},
    )
    return draw


@dataclass(frozen=True)
class Verification:
    hash_matches: bool
    winners_match: bool
    winners: list[int]

    def __bool__(self) -> bool:
        return self.hash_matches and self.winners_match


def verify_draw(draw: Draw) -> Verification:
    """Run the draw again from what it recorded."""
    ids = [int(n) for n in draw.entry_ids]
    winners = pick_winners(seed=draw.seed, entry_ids=ids, count=len(draw.winner_ids))
    return Verification(
        hash_matches=entries_hash(ids) == draw.entries_hash,
        winners_match=winners == list(draw.winner_ids),
        winners=winners,
    )


@dataclass(frozen=True)
class WinnerContact:
    entry: int
    person: int
    name: str
    email: str
    address: str
    postcode: str


@transaction.atomic
def winner_contacts(*, survey: Survey, actor: AuthUser) -> list[WinnerContact]:
    """The winners' contact details, to hand to the sponsor; recorded as read by ``actor``.
    A winner who has since erased their account is left out."""
    if not is_active_staff(actor, "surveys.view_winner_contacts"):
        raise SurveyError("Only a member of staff allowed to see winners' details may do this.")
    draw = Draw.objects.filter(survey=survey).first()
    if draw is None:
        raise SurveyError("The winners have not been drawn yet.")
    entries = Entry.objects.filter(pk__in=draw.winner_ids, person__isnull=False).select_related(
        "person"
    )
    by_id = {entry.pk: entry for entry in entries}
    rows = [
        WinnerContact(
            entry=entry.pk,
            person=entry.person.pk,
            name=entry.contact_name,
            email=entry.person.email,
            address=entry.contact_address,
            postcode=entry.contact_postcode,
        )
        for n in draw.winner_ids
        if (entry := by_id.get(n)) is not None and entry.person is not None
    ]
    SurveyEvent.objects.create(
        survey=survey,
        action=SurveyEvent.Action.CONTACTS_DOWNLOADED,
        actor=actor,
        details={"winners": [row.entry for row in rows]},
    )
    return rows
