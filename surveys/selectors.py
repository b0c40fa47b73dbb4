"""Reads of the surveys app: what a person may take part in, and the results staff see, which
are counts only (small demographic groups hidden, see ``surveys.small_groups``) and free text
without names."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from surveys.models import AgeBand, Answer, Entry, Question, Survey
from surveys.small_groups import Breakdown, hide_small_groups

NOT_GIVEN = "Not given"


def open_surveys(*, person: AuthUser) -> QuerySet[Survey]:
    """Surveys and contests open now, each annotated ``taken_part`` for ``person``."""
    now = timezone.now()
    return (
        Survey.objects.filter(status=Survey.Status.OPEN)
        .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
        .annotate(
            taken_part=Exists(Entry.objects.filter(survey=OuterRef("pk"), person_id=person.pk))
        )
        .select_related("sponsor")
        .order_by("closes_at", "-opened_at", "pk")
    )


def survey_to_take(*, survey_id: int) -> Survey:
    """A survey people may see (open or closed, never a draft); 404 otherwise."""
    survey = (
        Survey.objects.exclude(status=Survey.Status.DRAFT)
        .select_related("sponsor")
        .prefetch_related("questions__choices")
        .filter(pk=survey_id)
        .first()
    )
    if survey is None:
        raise Http404("No such survey.")
    return survey


def entry_of(*, survey: Survey, person: AuthUser) -> Entry | None:
    return Entry.objects.filter(survey=survey, person_id=person.pk).first()


def entries_of(*, person: AuthUser) -> QuerySet[Entry]:
    """A person's entries with their answers, for their copy of their data."""
    return (
        Entry.objects.filter(person_id=person.pk)
        .select_related("survey", "survey__sponsor", "sponsor_statement")
        .prefetch_related("answers__question", "answers__choices")
        .order_by("submitted_at", "pk")
    )


# --- Results -----------------------------------------------------------------------------------


@dataclass
class QuestionResult:
    question: Question
    answered: int
    # Choice questions: (choice text, count) in the survey's order.
    counts: list[tuple[str, int]] = field(default_factory=list)
    # Free text: the answers alone, sorted, so their order says nothing of who or when.
    texts: list[str] = field(default_factory=list)


@dataclass
class GroupTable:
    """One choice question's answers by group: a row per choice, a count per column."""

    question: Question
    rows: list[tuple[str, list[int]]]


@dataclass
class DemographicResult:
    title: str
    breakdown: Breakdown
    # The groups shown, then the hidden ones together (if any), with their sizes.
    columns: list[tuple[str, int]]
    tables: list[GroupTable]


@dataclass
class SurveyResults:
    survey: Survey
    entries: int
    questions: list[QuestionResult]
    demographics: list[DemographicResult]


ChoiceKey = tuple[str, int, int]  # (group, question id, choice id)


def _choice_counts(entries: QuerySet[Entry], group_by: str | None) -> Counter[ChoiceKey]:
    """How many picked each choice, by group (one group, "", without ``group_by``); counted
    by the database in one query."""
    through = Answer.choices.through.objects.filter(answer__entry__in=entries)
    group = f"answer__entry__{group_by}" if group_by else None
    keys = [*([group] if group else []), "answer__question_id", "choice_id"]
    counts: Counter[ChoiceKey] = Counter()
    for row in through.values(*keys).annotate(picked=Count("id")):
        key = (row[group] if group else "", row["answer__question_id"], row["choice_id"])
        counts[key] = row["picked"]
    return counts


def survey_results(*, survey: Survey) -> SurveyResults:
    entries = Entry.objects.filter(survey=survey)
    questions = list(survey.questions.prefetch_related("choices"))
    answered = Counter(
        Answer.objects.filter(entry__survey=survey).values_list("question_id", flat=True)
    )
    overall = _choice_counts(entries, None)
    results = []
    for question in questions:
        result = QuestionResult(question=question, answered=answered[question.pk])
        if question.kind == Question.Kind.FREE_TEXT:
            result.texts = sorted(
                Answer.objects.filter(question=question)
                .exclude(text="")
                .values_list("text", flat=True),
                key=str.lower,
            )
        else:
            result.counts = [
                (choice.text, overall[("", question.pk, choice.pk)])
                for choice in question.choices.all()
            ]
        results.append(result)
    demographics = []
    if survey.ask_postcode_district:
        demographics.append(
            _demographic("By postcode district", entries, "postcode_district", questions, {})
        )
    if survey.ask_age_band:
        demographics.append(
            _demographic("By age band", entries, "age_band", questions, dict(AgeBand.choices))
        )
    return SurveyResults(
        survey=survey, entries=entries.count(), questions=results, demographics=demographics
    )


HIDDEN = "Smaller groups, together"


def _demographic(
    title: str,
    entries: QuerySet[Entry],
    column: str,
    questions: list[Question],
    labels: dict[str, str],
) -> DemographicResult:
    sizes = Counter(entries.values_list(column, flat=True))
    breakdown = hide_small_groups({group or NOT_GIVEN: count for group, count in sizes.items()})
    known = list(labels)
    order = sorted(
        breakdown.shown,
        key=lambda g: (g == NOT_GIVEN, known.index(g) if g in known else 0, g),
    )
    columns = [(labels.get(group, group), breakdown.shown[group]) for group in order]
    if breakdown.hidden_groups:
        order.append(HIDDEN)
        columns.append((HIDDEN, breakdown.hidden_total))
    counts: Counter[ChoiceKey] = Counter()
    for (group, question_id, choice_id), count in _choice_counts(entries, column).items():
        name = group or NOT_GIVEN
        counts[(name if name in breakdown.shown else HIDDEN, question_id, choice_id)] += count
    tables = [
        GroupTable(
            question=question,
            rows=[
                (choice.text, [counts[(group, question.pk, choice.pk)] for group in order])
                for choice in question.choices.all()
            ],
        )
        for question in questions
        if question.kind != Question.Kind.FREE_TEXT
    ]
    return DemographicResult(title=title, breakdown=breakdown, columns=columns, tables=tables)
