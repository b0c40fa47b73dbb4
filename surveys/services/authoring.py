"""Staff writing a survey or contest: its details and questions, opening and closing it, and
the survey-invitation campaign that asks people holding the surveys-and-contests purpose.

Each write checks the actor's permission, refuses bad input with ``SurveyError`` (writing
nothing) and adds a ``SurveyEvent`` in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from communications.kinds import MessageKind
from communications.services.campaigns.lifecycle import CampaignError, create_campaign
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from sharing.models import DisclosurePurpose, Role, ThirdParty
from surveys.models import Choice, Question, Survey, SurveyEvent

MAX_QUESTIONS = 50
MAX_CHOICES = 30
# The longest a survey may keep answers linked to people after it closes: ten years.
MAX_ANSWERS_KEPT_DAYS = 3650


class SurveyError(ValueError):
    """A survey write that can't be made; the message says why. Nothing was written."""


@dataclass(frozen=True)
class QuestionSpec:
    text: str
    kind: str
    required: bool = False
    choices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SurveyDetails:
    kind: str
    title: str
    introduction: str = ""
    closes_at: datetime | None = None
    ask_postcode_district: bool = False
    ask_age_band: bool = False
    sponsor: ThirdParty | None = None
    prize: str = ""
    winners_wanted: int = 1
    # Days after closing that answers stay linked to the person (None: SURVEY_ANSWERS_KEPT_DAYS).
    answers_kept_days: int | None = None


def sponsors_allowed() -> Any:
    """Parties a contest may name as sponsor: registered to receive data to notify winners and
    award prizes, not aggregate-only, and active today."""
    today = timezone.localdate()
    return (
        ThirdParty.objects.filter(purposes__contains=[DisclosurePurpose.PRIZE_AWARD])
        .exclude(role=Role.AGGREGATE_ONLY)
        .filter(active_from__lte=today)
        .exclude(active_until__lt=today)
    )


def check_survey_details(details: SurveyDetails) -> None:
    """Raise ``SurveyError`` naming the first thing wrong with ``details``."""
    if details.kind not in Survey.Kind.values:
        raise SurveyError(f"Choose a survey or a contest, not {details.kind!r}.")
    if not details.title.strip():
        raise SurveyError("Give the survey a title.")
    if details.winners_wanted < 1:
        raise SurveyError("A contest has at least one winner.")
    if details.answers_kept_days is not None and not (
        1 <= details.answers_kept_days <= MAX_ANSWERS_KEPT_DAYS
    ):
        raise SurveyError(
            f"Keep answers linked to people for 1 to {MAX_ANSWERS_KEPT_DAYS} days after the "
            "survey closes."
        )
    if details.kind != Survey.Kind.CONTEST:
        if details.sponsor is not None or details.prize.strip():
            raise SurveyError("Only a contest has a sponsor and a prize.")
        return
    if details.sponsor is None:
        raise SurveyError("A contest needs its sponsor, from the register of third parties.")
    if not sponsors_allowed().filter(pk=details.sponsor.pk).exists():
        raise SurveyError(
            f"{details.sponsor.name} can't sponsor a contest: the register must allow it to "
            "receive data to notify winners and award prizes, today."
        )
    if not details.prize.strip():
        raise SurveyError("Say what the prize is.")
    if details.closes_at is None:
        raise SurveyError("A contest needs a closing date.")


# The columns' sizes: a longer text is refused with the form's error, not cut or left to fail.
QUESTION_LENGTH = Question._meta.get_field("text").max_length or 0
CHOICE_LENGTH = Choice._meta.get_field("text").max_length or 0


def check_questions(questions: list[QuestionSpec]) -> None:
    if len(questions) > MAX_QUESTIONS:
        raise SurveyError(f"A survey has at most {MAX_QUESTIONS} questions.")
    for number, question in enumerate(questions, start=1):
        if not question.text.strip():
            raise SurveyError(f"Question {number} has no text.")
        if len(question.text.strip()) > QUESTION_LENGTH:
            raise SurveyError(f"Question {number} is longer than {QUESTION_LENGTH} characters.")
        if question.kind not in Question.Kind.values:
            raise SurveyError(f"Question {number}: unknown kind {question.kind!r}.")
        choices = [choice.strip() for choice in question.choices if choice.strip()]
        if question.kind == Question.Kind.FREE_TEXT and choices:
            raise SurveyError(f"Question {number} is free text: it has no choices.")
        if question.kind != Question.Kind.FREE_TEXT and len(choices) < 2:
            raise SurveyError(f"Question {number} needs at least two choices, one per line.")
        if len(choices) > MAX_CHOICES:
            raise SurveyError(f"Question {number} has more than {MAX_CHOICES} choices.")
        if any(len(choice) > CHOICE_LENGTH for choice in choices):
            raise SurveyError(
                f"Question {number} has a choice longer than {CHOICE_LENGTH} characters."
            )
        if len({choice.lower() for choice in choices}) != len(choices):
            raise SurveyError(f"Question {number} has the same choice twice.")


def _require(actor: AuthUser, *perms: str) -> None:
    if not is_active_staff(actor, *perms):
        raise SurveyError("Only a member of staff with the permission may do this.")


def _record(survey: Survey, action: str, actor: AuthUser, **details: Any) -> None:
    SurveyEvent.objects.create(survey=survey, action=action, actor=actor, details=details)


def _write_questions(survey: Survey, questions: list[QuestionSpec]) -> None:
    survey.questions.all().delete()
    for position, spec in enumerate(questions, start=1):
        question = Question.objects.create(
            survey=survey,
            position=position,
            text=spec.text.strip(),
            kind=spec.kind,
            required=spec.required,
        )
        Choice.objects.bulk_create(
            Choice(question=question, position=number, text=text)
            for number, text in enumerate(
                (choice.strip() for choice in spec.choices if choice.strip()), start=1
            )
        )


def _fields(details: SurveyDetails) -> dict[str, Any]:
    return {
        "kind": details.kind,
        "title": details.title.strip(),
        "introduction": details.introduction.strip(),
        "closes_at": details.closes_at,
        "ask_postcode_district": details.ask_postcode_district,
        "ask_age_band": details.ask_age_band,
        "sponsor": details.sponsor,
        "prize": details.prize.strip(),
        "winners_wanted": details.winners_wanted,
        "answers_kept_days": (
            settings.SURVEY_ANSWERS_KEPT_DAYS
            if details.answers_kept_days is None
            else details.answers_kept_days
        ),
    }


@transaction.atomic
def save_survey(
    *,
    survey: Survey | None,
    details: SurveyDetails,
    questions: list[QuestionSpec] | None,
    actor: AuthUser,
) -> Survey:
    """Create a survey (``survey`` None) or change one. Questions change only while it is a
    draft (``questions`` None leaves them as they are); an open or closed survey may change
    its title, introduction and closing date only."""
    _require(actor, "surveys.add_survey" if survey is None else "surveys.change_survey")
    check_survey_details(details)
    if questions is not None:
        check_questions(questions)
    fields = _fields(details)
    if survey is None:
        created = Survey.objects.create(created_by=actor, **fields)
        _write_questions(created, questions or [])
        _record(created, SurveyEvent.Action.CREATED, actor, title=created.title)
        return created
    current = Survey.objects.select_for_update().get(pk=survey.pk)
    if current.status != Survey.Status.DRAFT:
        # A contest's prize and number of winners are what its entrants were told.
        fixed = {"kind", "ask_postcode_district", "ask_age_band", "sponsor", "prize"}
        fixed.add("winners_wanted")
        if any(getattr(current, name) != fields[name] for name in fixed):
            raise SurveyError(
                "Once a survey is open, only its title, introduction and closing date can "
                "change: people answered what it asked."
            )
        if questions is not None and _specs_of(current) != questions:
            raise SurveyError("Once a survey is open its questions can't change.")
        questions = None
    changed = sorted(name for name, value in fields.items() if getattr(current, name) != value)
    for name, value in fields.items():
        setattr(current, name, value)
    current.save()
    if questions is not None and _specs_of(current) != questions:
        _write_questions(current, questions)
        changed.append("questions")
    if changed:
        _record(current, SurveyEvent.Action.CHANGED, actor, fields=changed)
    return current


def _specs_of(survey: Survey) -> list[QuestionSpec]:
    return [
        QuestionSpec(
            text=question.text,
            kind=question.kind,
            required=question.required,
            choices=[choice.text for choice in question.choices.all()],
        )
        for question in survey.questions.prefetch_related("choices")
    ]


@transaction.atomic
def open_survey(*, survey: Survey, actor: AuthUser) -> Survey:
    _require(actor, "surveys.change_survey")
    current = Survey.objects.select_for_update().get(pk=survey.pk)
    if current.status != Survey.Status.DRAFT:
        raise SurveyError(f"This survey is {current.get_status_display().lower()}.")
    if not current.questions.exists() and not (
        current.ask_age_band or current.ask_postcode_district or current.is_contest
    ):
        raise SurveyError("Add at least one question before opening the survey.")
    if current.closes_at is not None and current.closes_at <= timezone.now():
        raise SurveyError("The closing date has passed: move it later first.")
    current.status, current.opened_at = Survey.Status.OPEN, timezone.now()
    current.save(update_fields=["status", "opened_at"])
    _record(current, SurveyEvent.Action.OPENED, actor)
    return current


@transaction.atomic
def close_survey(*, survey: Survey, actor: AuthUser) -> Survey:
    _require(actor, "surveys.change_survey")
    current = Survey.objects.select_for_update().get(pk=survey.pk)
    if current.status != Survey.Status.OPEN:
        raise SurveyError("Only an open survey can be closed.")
    current.status, current.closed_at = Survey.Status.CLOSED, timezone.now()
    current.save(update_fields=["status", "closed_at"])
    _record(current, SurveyEvent.Action.CLOSED, actor)
    return current


def survey_url(survey: Survey) -> str:
    return f"{settings.SITE_URL}{reverse('surveys:take', args=[survey.pk])}"


@transaction.atomic
def write_invitation(*, survey: Survey, actor: AuthUser) -> Survey:
    """A draft survey-invitation campaign linking to the open survey: it goes, through the
    campaign machinery and the gate, only to people holding the surveys-and-contests purpose.
    Marketing previews, tests and sends or schedules it from the campaign's page."""
    _require(actor, "surveys.change_survey", "communications.add_campaign")
    current = Survey.objects.select_for_update().get(pk=survey.pk)
    if current.status != Survey.Status.OPEN:
        raise SurveyError("Open the survey before inviting people to it.")
    if current.invitation_id is not None:
        raise SurveyError("This survey's invitation campaign is already written.")
    what = "contest" if current.is_contest else "survey"
    closes = ""
    if current.closes_at is not None:
        local = timezone.localtime(current.closes_at)
        closes = f" It closes on {local.day} {local:%B %Y at %H:%M}."
    prize = f" You could win {current.prize}." if current.is_contest else ""
    body = (
        f"We would like to hear from you: **{current.title}**.{prize}{closes}\n\n"
        f"Taking part is voluntary, and you can leave any question marked optional blank.\n\n"
        f"[Take part in the {what}]({survey_url(current)})"
    )
    try:
        campaign = create_campaign(
            actor=actor,
            name=f"Invitation: {current.title}"[:200],
            kind=MessageKind.SURVEY_INVITATION,
            subject_line=f"Take part: {current.title}"[:200],
            body=body,
        )
    except CampaignError as error:
        raise SurveyError(str(error)) from error
    current.invitation = campaign
    current.save(update_fields=["invitation"])
    _record(current, SurveyEvent.Action.INVITATION_WRITTEN, actor, campaign=campaign.pk)
    return current
