"""A person taking part in a survey or entering a contest.

Taking part is voluntary: only questions staff marked as required must be answered, and the
demographic questions never are. A contest entry carries the contact details the sponsor gets
if the person wins, and the ``SponsorStatement`` they were shown before entering.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from privacy_site.postcodes import INVALID_POSTCODE, uk_postcode, uk_postcode_district
from surveys import statement
from surveys.models import AgeBand, Answer, Entry, Question, SponsorStatement, Survey

MAX_TEXT = 2000
# One answer: the ids of the choices picked, or the free text.
AnswerValue = list[int] | str


class EntryError(ValueError):
    """An entry that can't be accepted; the message says why, for the person. Nothing was
    written."""


@dataclass(frozen=True)
class ContactDetails:
    name: str
    address: str
    postcode: str


def is_open(survey: Survey) -> bool:
    return survey.status == Survey.Status.OPEN and (
        survey.closes_at is None or timezone.now() < survey.closes_at
    )


def statement_for_entry() -> SponsorStatement:
    """The numbered statement for the sponsor sentence of the policy in force; the first entry
    under a new wording numbers it."""
    text = statement.sponsor_sentence()
    policy = statement.current_policy_version()
    if not text or policy is None:
        raise EntryError(
            "Contests can't be entered just now: our privacy policy does not say how "
            "winners' details are shared. Please contact Customer Support."
        )
    existing = SponsorStatement.objects.filter(text=text).order_by("-version").first()
    if existing is not None:
        return existing
    for _ in range(3):
        number = (SponsorStatement.objects.aggregate(top=Max("version"))["top"] or 0) + 1
        try:
            with transaction.atomic():
                return SponsorStatement.objects.create(
                    version=number, text=text, policy_version=policy
                )
        except IntegrityError:  # another entry numbered it first
            existing = SponsorStatement.objects.filter(text=text).first()
            if existing is not None:
                return existing
    raise EntryError("Please send your entry again.")


def _check_answers(
    survey: Survey, answers: dict[int, AnswerValue]
) -> list[tuple[Question, AnswerValue]]:
    questions = {question.pk: question for question in survey.questions.prefetch_related("choices")}
    unknown = set(answers) - set(questions)
    if unknown:
        raise EntryError("An answer was sent to a question this survey does not ask.")
    kept: list[tuple[Question, AnswerValue]] = []
    for question in questions.values():
        value = answers.get(question.pk)
        given = bool(value.strip()) if isinstance(value, str) else bool(value)
        if not given:
            if question.required:
                raise EntryError(f"“{question.text}” needs an answer to take part.")
            continue
        if question.kind == Question.Kind.FREE_TEXT:
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise EntryError(
                    f"Keep your answer to “{question.text}” under {MAX_TEXT} characters."
                )
            kept.append((question, value.strip()))
            continue
        if not isinstance(value, list):
            raise EntryError(f"Choose from the answers to “{question.text}”.")
        offered = {choice.pk for choice in question.choices.all()}
        picked = sorted(set(value))
        if not set(picked) <= offered:
            raise EntryError(f"Choose from the answers to “{question.text}”.")
        if question.kind == Question.Kind.SINGLE and len(picked) != 1:
            raise EntryError(f"Choose one answer to “{question.text}”.")
        kept.append((question, picked))
    return kept


def _check_contact(contact: ContactDetails | None) -> ContactDetails:
    if contact is None or not contact.name.strip() or not contact.address.strip():
        raise EntryError("A contest entry needs your name and postal address, for the prize.")
    postcode = uk_postcode(contact.postcode)
    if postcode is None:
        raise EntryError(INVALID_POSTCODE)
    if len(contact.name) > 150 or len(contact.address) > 500:
        raise EntryError("Your name or address is too long.")
    return ContactDetails(contact.name.strip(), contact.address.strip(), postcode)


@transaction.atomic
def submit_entry(
    *,
    survey: Survey,
    person: AuthUser,
    answers: dict[int, AnswerValue],
    postcode_district: str = "",
    age_band: str = "",
    contact: ContactDetails | None = None,
    statement_digest: str = "",
) -> Entry:
    """Record ``person``'s answers to ``survey`` (their entry, for a contest). Refused with
    ``EntryError``, writing nothing, when the survey is not open, the person has taken part
    already, a required question is unanswered, or an answer is not one offered. A contest
    entry needs contact details and ``statement_digest``, the fingerprint of the sponsor
    statement the form showed (``surveys.statement.digest``): if the policy's words changed
    since, the person must read them again."""
    # Not locked: entries to one survey must not queue behind each other. The unique
    # constraint refuses a second entry; the draw counts only entries made before closing.
    current = Survey.objects.get(pk=survey.pk)
    if not is_open(current):
        raise EntryError("This survey is closed.")
    if not person.is_active:
        raise EntryError("Your account is closed.")
    if Entry.objects.filter(survey=current, person=person).exists():
        raise EntryError("You have already taken part in this survey. Thank you.")
    kept = _check_answers(current, answers)
    district = ""
    if postcode_district.strip():
        if not current.ask_postcode_district:
            raise EntryError("This survey does not ask for a postcode district.")
        district = uk_postcode_district(postcode_district) or ""
        if not district:
            raise EntryError("Enter a postcode district like LS1 or SW1A, or leave it blank.")
    if age_band and (not current.ask_age_band or age_band not in AgeBand.values):
        raise EntryError("Choose one of the age bands, or leave it blank.")
    fields: dict[str, object] = {}
    if current.is_contest:
        details = _check_contact(contact)
        shown = statement_for_entry()
        if statement.digest(shown.text) != statement_digest:
            raise EntryError(
                "What we say about sharing your details with the sponsor has changed since "
                "the page was shown. Please read it again below and send your entry again."
            )
        fields = {
            "contact_name": details.name,
            "contact_address": details.address,
            "contact_postcode": details.postcode,
            "sponsor_statement": shown,
        }
    try:
        with transaction.atomic():
            entry = Entry.objects.create(
                survey=current,
                person=person,
                submitted_at=timezone.now(),
                postcode_district=district,
                age_band=age_band,
                **fields,
            )
    except IntegrityError:  # the same person's entry sent twice at once
        raise EntryError("You have already taken part in this survey. Thank you.") from None
    for question, value in kept:
        if isinstance(value, str):
            Answer.objects.create(entry=entry, question=question, text=value)
        else:
            answer = Answer.objects.create(entry=entry, question=question)
            answer.choices.set(value)
    return entry
