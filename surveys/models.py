"""Surveys and contests (the policy's "Surveys & Contests"): what staff ask, what people answer,
and the draws that pick a contest's winners.

Staff write surveys only through ``surveys.services`` (each write adds a ``SurveyEvent``);
people answer through ``surveys.services.entries.submit_entry``. Once a survey is open its
questions never change, so every answer keeps meaning what it meant when it was given.
``SurveyEvent``, ``SponsorStatement`` and ``Draw`` are append-only (a PostgreSQL trigger).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


def default_answers_kept_days() -> int:
    return settings.SURVEY_ANSWERS_KEPT_DAYS


class Survey(models.Model):
    class Kind(models.TextChoices):
        SURVEY = "survey", "Survey"
        CONTEST = "contest", "Contest"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (not yet open)"
        OPEN = "open", "Open for answers"
        CLOSED = "closed", "Closed"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SURVEY)
    title = models.CharField(max_length=200)
    introduction = models.TextField(
        blank=True, help_text="Shown above the questions: what the survey is about."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    closes_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="No answers or entries after this moment. Required for a contest.",
    )
    ask_postcode_district = models.BooleanField(
        default=False,
        help_text="Ask for the postcode district (the first half of a postcode, like LS1); "
        "always optional.",
    )
    ask_age_band = models.BooleanField(
        default=False, help_text="Ask for an age band; always optional."
    )
    # A contest's: who gives the prize, and what it is.
    sponsor = models.ForeignKey(
        "sharing.ThirdParty",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The sponsor giving the prize: a party in the register of third parties "
        "that may receive data to notify winners and award prizes.",
    )
    prize = models.CharField(max_length=200, blank=True)
    winners_wanted = models.PositiveSmallIntegerField(
        default=1, help_text="How many winners the draw picks."
    )
    invitation = models.ForeignKey(
        "communications.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The survey-invitation campaign written for it.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    answers_kept_days = models.PositiveSmallIntegerField(
        "answers kept for (days)",
        default=default_answers_kept_days,
        help_text="Days after the survey closes that answers stay linked to the person who "
        "gave them; then they are kept only unnamed, as on erasure. Shown to people "
        "before they answer.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("view_results", "Can see a survey's results (aggregated)"),
            ("draw_winners", "Can draw a contest's winners"),
            ("view_winner_contacts", "Can download winners' contact details for the sponsor"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="survey")
                | (Q(sponsor__isnull=False) & Q(closes_at__isnull=False) & ~Q(prize="")),
                name="surveys_contest_has_sponsor_prize_and_closing",
            ),
            models.CheckConstraint(
                condition=Q(winners_wanted__gte=1), name="surveys_at_least_one_winner"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_contest(self) -> bool:
        return self.kind == self.Kind.CONTEST


class Question(models.Model):
    class Kind(models.TextChoices):
        FREE_TEXT = "free_text", "Free text"
        SINGLE = "single", "One choice"
        MULTIPLE = "multiple", "Any number of choices"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    required = models.BooleanField(
        default=False,
        help_text="Must be answered to take part. Leave unticked: questions are optional "
        "unless the survey cannot work without them.",
    )

    class Meta:
        ordering = ["survey", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "position"], name="surveys_question_position_unique"
            )
        ]

    def __str__(self) -> str:
        return self.text


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)

    class Meta:
        ordering = ["question", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "position"], name="surveys_choice_position_unique"
            )
        ]

    def __str__(self) -> str:
        return self.text


class SponsorStatement(models.Model):
    """What a contest's entry form says about sharing contact details with the sponsor, in
    the policy's words, numbered: each entry records the version it was made under."""

    version = models.PositiveIntegerField(unique=True)
    text = models.TextField()
    policy_version = models.ForeignKey(
        "consent.PolicyVersion", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Sponsor statement {self.version}"


class AgeBand(models.TextChoices):
    UNDER_25 = "18-24", "18 to 24"
    FROM_25 = "25-34", "25 to 34"
    FROM_35 = "35-44", "35 to 44"
    FROM_45 = "45-54", "45 to 54"
    FROM_55 = "55-64", "55 to 64"
    OVER_65 = "65+", "65 or over"


class Entry(models.Model):
    """One person's answers to one survey, or their entry to one contest.

    On erasure the entry loses its person, contact details and free-text answers; its choices
    and demographic answers stay, unnamed, so the results' counts do not change."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="entries")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_entries",
    )
    submitted_at = models.DateTimeField()
    postcode_district = models.CharField(max_length=4, blank=True)
    age_band = models.CharField(max_length=5, choices=AgeBand.choices, blank=True)
    # A contest's: where the sponsor sends the prize, and the statement the person was shown.
    contact_name = models.CharField(max_length=150, blank=True)
    contact_address = models.TextField(blank=True)
    contact_postcode = models.CharField(max_length=8, blank=True)
    sponsor_statement = models.ForeignKey(
        SponsorStatement, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name_plural = "entries"
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "person"],
                condition=Q(person__isnull=False),
                name="surveys_one_entry_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"Entry {self.pk}"


class Answer(models.Model):
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    choices = models.ManyToManyField(Choice, blank=True, related_name="answers")
    text = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "question"], name="surveys_one_answer_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"Answer {self.pk}"


class Draw(models.Model):
    """A contest's draw, with what anyone needs to run it again and get the same winners: the
    seed, the entries drawn from (their numbers) and the SHA-256 of that list."""

    survey = models.OneToOneField(Survey, on_delete=models.PROTECT, related_name="draw")
    seed = models.CharField(max_length=64)
    entry_ids = models.JSONField(help_text="The numbers of the entries drawn from, ascending.")
    entries_hash = models.CharField(max_length=64)
    winner_ids = models.JSONField(help_text="The winning entries' numbers, in the order drawn.")
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    drawn_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Draw for {self.survey}"


class SurveyEvent(models.Model):
    """Every staff write to a survey: who, when, what. Append-only."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        CHANGED = "changed", "Changed"
        OPENED = "opened", "Opened for answers"
        CLOSED = "closed", "Closed"
        INVITATION_WRITTEN = "invitation_written", "Invitation campaign written"
        DRAWN = "drawn", "Winners drawn"
        CONTACTS_DOWNLOADED = "contacts_downloaded", "Winners' contact details downloaded"

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=30, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.occurred_at:%d %b %Y %H:%M}"
