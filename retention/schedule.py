"""The retention schedule: every rule, in one place (docs/RETENTION.md).

Each period is a setting, ``RETENTION_<KEY>_DAYS``, with the default below. The schedule is
shown to staff in the record of processing activities and to each person in their export.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.db.models import DateTimeField, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.functions import Coalesce

from retention.rules import Action, Rule


def _never_verified() -> Q:
    EmailAddress = apps.get_model("account", "EmailAddress")
    ConsentEvent = apps.get_model("consent", "ConsentEvent")
    mine = EmailAddress.objects.filter(user_id=OuterRef("pk"))
    # A newsletter confirmation link followed proves the address as verification would
    # (consent.selectors.confirmed_by_double_opt_in): that subscriber is kept.
    confirmed_newsletter = ConsentEvent.objects.filter(
        subject_id=OuterRef("pk"),
        purpose__code="newsletter",
        source="newsletter_form",
        granted=True,
    )
    return Q(
        Exists(mine.filter(verified=False)),
        ~Exists(mine.filter(verified=True)),
        ~Exists(confirmed_newsletter),
        erased_at__isnull=True,
        is_staff=False,
        is_superuser=False,
    )


def _survey_answers_due_at() -> Any:
    closed = Coalesce(F("survey__closed_at"), F("survey__closes_at"))
    kept = ExpressionWrapper(
        F("survey__answers_kept_days") * timedelta(days=1), output_field=DurationField()
    )
    return ExpressionWrapper(closed + kept, output_field=DateTimeField())


FINISHED_DELIVERY = ~Q(status__in=["queued", "sending"])

RULES: tuple[Rule, ...] = (
    Rule(
        key="unverified_accounts",
        model="accounts.User",
        what="An account whose email address was never verified (by its link, or by a "
        "newsletter confirmation link)",
        why="Nobody proved the address was theirs, so the account cannot be used and nothing "
        "may be sent to it; we keep it long enough for the welcome email to be acted on.",
        action=Action.PSEUDONYMISE,
        anchor="date_joined",
        counted_from="when the account was opened",
        default_days=30,
        handler="accounts.retention.forget_unverified_accounts",
        pending=_never_verified,
        person="pk",
        # Each account is a whole erasure (every app's section and the audit: about 60
        # statements, 30-70 ms on a busy 2-core machine). Five keep a batch, and the locks it
        # holds, well under a second (docs/PERFORMANCE.md, "Retention jobs").
        batch_size=5,
        fields=("email", "name", "profile", "consent history details", "every other section"),
    ),
    Rule(
        key="newsletter_requests",
        model="consent.NewsletterRequestLimit",
        what="The keyed hash counting newsletter requests from one address or client (an "
        "unconfirmed request stores nothing else)",
        why="It stops the newsletter form being used to mail someone again and again; it is "
        "needed only until its window ends.",
        action=Action.DELETE,
        anchor="window_ends_at",
        counted_from="its counting window ends",
        default_days=0,
        fields=("key", "count"),
    ),
    Rule(
        key="delivery_content",
        model="communications.Delivery",
        what="The address, personalised content and error text of each email we sent",
        why="The email provider reports bounces and complaints about an email for some weeks "
        "after it is sent; after that only the fact of the send (which email, when, its "
        "outcome) is kept, as proof of what we sent.",
        action=Action.TRIM,
        anchor="created_at",
        counted_from="when the email was queued",
        default_days=30,
        trim={"to_email": "", "context": {}, "last_error": ""},
        pending=lambda: FINISHED_DELIVERY & ~Q(to_email="", context={}, last_error=""),
        person="user_id",
        fields=("to_email", "context", "last_error"),
    ),
    Rule(
        key="provider_events",
        model="communications.ProviderEvent",
        what="What the email provider told us about an email (delivered, bounced, "
        "complained, unsubscribed)",
        why="Each event has done its work (a suppression, an unsubscribe) within seconds; "
        "90 days leaves time to investigate a delivery problem.",
        action=Action.DELETE,
        anchor="received_at",
        counted_from="when the provider sent it",
        default_days=90,
        person="delivery__user_id",
        fields=("the whole event",),
    ),
    Rule(
        key="cookie_choices",
        model="consent.CookieConsent",
        what="Your cookie choices in a browser",
        why="A choice is asked again after 12 months, so an older one is no longer in force "
        "and no longer needed as proof.",
        action=Action.DELETE,
        anchor="created_at",
        counted_from="when the choice was made",
        default_days=365,
        person="user_id",
        fields=("the whole choice",),
    ),
    Rule(
        key="ledger_network_details",
        model="consent.ConsentEvent",
        what="The network address prefix and browser name recorded with each consent decision",
        why="They help prove how a decision was made while it could still be disputed; the "
        "decision itself (what, when, under which policy, how) is kept as proof.",
        action=Action.TRIM,
        anchor="occurred_at",
        counted_from="the decision",
        default_days=730,
        trim={"ip_address": None, "user_agent": ""},
        pending=lambda: ~Q(ip_address__isnull=True, user_agent=""),
        person="subject_id",
        fields=("ip_address", "user_agent"),
    ),
    Rule(
        key="survey_answers",
        model="surveys.Entry",
        what="Your survey answers and contest entries, linked to you",
        why="They are needed for the survey's results and the contest's prize; after the "
        "period the survey states they are kept only unnamed, as on erasure.",
        action=Action.PSEUDONYMISE,
        due_at=_survey_answers_due_at,
        period_words="the period each survey states",
        counted_from="when it closed",
        default_days=0,
        handler="surveys.retention.forget_entries",
        pending=lambda: Q(anonymised_at__isnull=True),
        person="person_id",
        batch_size=200,
        fields=("person", "contact_name", "contact_address", "contact_postcode", "free text"),
    ),
    Rule(
        key="referral_tokens",
        model="communications.Referral",
        what="The link code of a wishlist you sent to a friend, and that you sent it",
        why="Clicks and sign-ups from the link are counted only for its counting period; "
        "after that the link stops counting and the send is kept unnamed, for the totals.",
        action=Action.TRIM,
        anchor="created_at",
        counted_from="when the wishlist was sent",
        default_days=90,
        trim={"token": None, "sender": None},
        pending=lambda: Q(token__isnull=False) & ~Q(status__in=["queued", "sending"]),
        person="sender_id",
        fields=("token", "sender"),
    ),
    Rule(
        key="sign_in_log",
        model="axes.AccessLog",
        what="The record of each sign-in: address, browser and time",
        why="It lets us investigate a misused account; 90 days covers a report of one.",
        action=Action.DELETE,
        anchor="attempt_time",
        counted_from="the sign-in",
        default_days=90,
        fields=("the whole record",),
    ),
    Rule(
        key="sign_in_failures",
        model="axes.AccessFailureLog",
        what="The record of each failed sign-in: address, browser and time",
        why="It shows an attack on an account while it can still be investigated.",
        action=Action.DELETE,
        anchor="attempt_time",
        counted_from="the attempt",
        default_days=90,
        fields=("the whole record",),
    ),
    Rule(
        key="sign_in_lockouts",
        model="axes.AccessAttempt",
        what="The count of failed sign-ins that pauses logging in",
        why="It is needed only while it can pause logging in; 90 days keeps a slow attack visible.",
        action=Action.DELETE,
        anchor="attempt_time",
        counted_from="the last failure",
        default_days=90,
        fields=("the whole record",),
    ),
    Rule(
        key="expired_sessions",
        model="sessions.Session",
        what="A signed-in browser's session",
        why="A session that has expired can never be used again.",
        action=Action.DELETE,
        anchor="expire_date",
        counted_from="it expires",
        default_days=0,
        fields=("the whole session",),
    ),
)

BY_KEY: dict[str, Rule] = {rule.key: rule for rule in RULES}


def rule(key: str) -> Rule:
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no retention rule {key!r}; the rules are {', '.join(BY_KEY)}") from None
