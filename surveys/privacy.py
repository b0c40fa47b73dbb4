"""What the surveys app holds about a person: their survey answers and contest entries, for
their copy (``export_for_user``) and for erasure (``erase_for_user``).

Erasure anonymises each entry rather than deleting it: the link to the person, the contact
details and the free-text answers (which may name them) go; the choices picked and the
demographic answers stay, unnamed, so the results' counts and a past draw's list of entry
numbers stay as they were.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from retention.selectors import kept_until
from surveys.models import Answer, Entry
from surveys.selectors import entries_of

KEPT_ON_ERASURE = [
    {
        "what": "Your survey answers and contest entries as choices picked, with any postcode "
        "district and age band you gave, no longer linked to you; your free-text answers, "
        "name and address are erased",
        "why": "They are counted in results that are never broken down into groups of fewer "
        "than 10 people, and a contest's draw must stay checkable.",
    },
]


def how_long_we_keep() -> dict[str, str]:
    """How long each part of this section is kept, for the person's copy."""
    statement = kept_until("survey_answers")
    return {"survey_entries": statement, "contest_entries": statement}


def _when(value) -> str | None:
    return value.isoformat() if value else None


def answer_lines(entry: Entry) -> list[str]:
    """Each answer as "question: answer" (choices joined by " / "); one line each."""
    return [
        f"{answer.question.text}: "
        + (answer.text or " / ".join(choice.text for choice in answer.choices.all()))
        for answer in sorted(entry.answers.all(), key=lambda a: a.question.position)
    ]


def export_for_user(user: AuthUser) -> dict:
    surveys: list[dict[str, object]] = []
    contests: list[dict[str, object]] = []
    for entry in entries_of(person=user):
        row: dict[str, object] = {
            "survey": entry.survey.title,
            "entry_number": entry.pk,
            "sent": _when(entry.submitted_at),
            "postcode_district": entry.postcode_district,
            "age_band": entry.get_age_band_display() if entry.age_band else "",
            "answers": answer_lines(entry),
        }
        if entry.survey.is_contest:
            statement = entry.sponsor_statement
            row.update(
                {
                    "prize": entry.survey.prize,
                    "sponsor": entry.survey.sponsor.name if entry.survey.sponsor else "",
                    "name": entry.contact_name,
                    "postal_address": entry.contact_address,
                    "postcode": entry.contact_postcode,
                    "statement_shown": statement.text if statement else "",
                    "statement_version": statement.version if statement else None,
                }
            )
            contests.append(row)
        else:
            surveys.append(row)
    return {"survey_entries": surveys, "contest_entries": contests}


@transaction.atomic
def erase_for_user(user: AuthUser) -> None:
    _anonymise(Entry.objects.filter(person_id=user.pk))


@transaction.atomic
def anonymise_entries(*, entry_ids: list[int]) -> int:
    """The retention schedule's ``survey_answers`` rule: these entries, past their survey's
    stated period, lose what erasure removes. How many were anonymised."""
    return _anonymise(Entry.objects.filter(pk__in=entry_ids, anonymised_at__isnull=True))


def _anonymise(entries) -> int:
    Answer.objects.filter(entry__in=entries).exclude(text="").update(text="")
    return entries.update(
        person=None,
        contact_name="",
        contact_address="",
        contact_postcode="",
        anonymised_at=timezone.now(),
    )
