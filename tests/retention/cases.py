"""One case per retention rule: how to make a row of its data anchored at a given time (and
belonging to a given person), rows of the same table the rule does not cover, and what the
row looks like once the rule has forgotten it. ``CASES`` must name every rule of
``retention.schedule``; a test checks it does."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import Delivery, ProviderEvent
from communications.referrals.models import Referral
from consent.models import ConsentEvent, CookieConsent, NewsletterRequestLimit, PolicyVersion
from consent.models import Purpose as PurposeModel
from consent.services import ConsentSource, grant_consent
from retention.schedule import BY_KEY
from surveys.models import Answer, Entry, Question, Survey
from tests.factories import StaffFactory, UserFactory

User = get_user_model()
_numbers = itertools.count(1)

# What the rows carry, so that a test can look for it where it must not be.
EMAIL_DOMAIN = "retained.example"
NAME = "Perpetua"
IP = "198.51.100.0"
USER_AGENT = "Mozilla/5.0 (RetentionTestBrowser)"
TOKEN_PREFIX = "reftok"
FREE_TEXT = "The shop in Leeds was lovely"
CONTACT_NAME = "Perpetua Jones"
CONTACT_ADDRESS = "7 Quarry Lane, Leeds"


def person() -> Any:
    n = next(_numbers)
    return UserFactory(email=f"person{n}@{EMAIL_DOMAIN}", first_name=f"{NAME}{n}", verified=True)


def row_values(model: type, pk: Any) -> dict[str, Any]:
    return model._default_manager.filter(pk=pk).values().get()


@dataclass
class Case:
    """``make(at, who)`` makes a covered row counted from ``at`` and returns its key;
    ``forgotten(pk, before)`` asserts the row was forgotten exactly as the rule says
    (``before``: the row's values beforehand); ``uncovered(at)`` makes rows the rule does not
    cover, due or not, and returns their keys."""

    model: type
    make: Callable[[datetime, Any], Any]
    forgotten: Callable[[Any, dict[str, Any]], None]
    uncovered: Callable[[datetime], list[Any]] = field(default=lambda at: [])
    # The person a row belongs to, for a legal hold: made by ``make`` itself when the row
    # is the person (the account).
    makes_its_person: bool = False


def deleted(model: type) -> Callable[[Any, dict[str, Any]], None]:
    def check(pk: Any, before: dict[str, Any]) -> None:
        assert not model._default_manager.filter(pk=pk).exists(), f"{model.__name__} {pk} kept"

    return check


def trimmed(model: type, **emptied: Any) -> Callable[[Any, dict[str, Any]], None]:
    """Exactly these fields were given these values; every other field is as it was."""

    def check(pk: Any, before: dict[str, Any]) -> None:
        after = row_values(model, pk)
        for name, value in emptied.items():
            assert after[name] == value, f"{name} is {after[name]!r}, not {value!r}"
        changed = {k for k in after if after[k] != before[k]}
        assert changed <= set(emptied), f"other fields changed: {changed - set(emptied)}"
        assert changed, "nothing was trimmed"

    return check


# --- unverified_accounts ------------------------------------------------------------------------


def _account(at: datetime, _who: Any = None, *, verified: Any = False, factory=UserFactory) -> int:
    n = next(_numbers)
    user = factory(
        email=f"unverified{n}@{EMAIL_DOMAIN}", first_name=f"{NAME}{n}", verified=verified
    )
    User.objects.filter(pk=user.pk).update(date_joined=at)
    return user.pk


def _erased(pk: int, before: dict[str, Any]) -> None:
    user = User.objects.get(pk=pk)
    assert user.email == f"erased-{pk}@erased.invalid"
    assert user.erased_at is not None
    assert user.first_name == "" and not user.is_active and not user.has_usable_password()
    assert not EmailAddress.objects.filter(user_id=pk).exists()
    assert not EmailAddress.objects.filter(email=before["email"]).exists()


def _accounts_not_covered(at: datetime) -> list[int]:
    verified = _account(at, verified=True)
    staff = _account(at, factory=StaffFactory)
    customer_without_address = _account(at, verified=None)  # an order customer
    both = _account(at, verified=True)
    user = User.objects.get(pk=both)
    EmailAddress.objects.create(user=user, email=f"second{both}@{EMAIL_DOMAIN}", verified=False)
    # signed up, never verified, but the address's owner followed a newsletter confirmation link
    newsletter_confirmed = _account(at)
    grant_consent(
        subject=User.objects.get(pk=newsletter_confirmed),
        purpose="newsletter",
        source=ConsentSource.NEWSLETTER_FORM,
    )
    return [verified, staff, customer_without_address, both, newsletter_confirmed]


# --- newsletter_requests ------------------------------------------------------------------------


def _newsletter_limit(at: datetime, _who: Any) -> int:
    return NewsletterRequestLimit.objects.create(
        key=uuid.uuid4().hex, count=3, window_ends_at=at
    ).pk


# --- delivery_content ---------------------------------------------------------------------------


def _delivery(at: datetime, who: Any, status: str = Delivery.Status.SENT) -> int:
    row = Delivery.objects.create(
        kind=MessageKind.WELCOME,
        user=who,
        to_email=who.email,
        context={"verify_url": f"https://shop.example/verify/{who.pk}/", "name": who.first_name},
        status=status,
        last_error=f"550 mailbox {who.email} full",
        provider_message_id=f"<m{who.pk}@shop.example>",
        attempts=1,
    )
    Delivery.objects.filter(pk=row.pk).update(created_at=at)
    return row.pk


def _deliveries_not_covered(at: datetime) -> list[int]:
    return [
        _delivery(at, person(), Delivery.Status.QUEUED),
        _delivery(at, person(), Delivery.Status.SENDING),
    ]


# --- provider_events ----------------------------------------------------------------------------


def _provider_event(at: datetime, who: Any) -> int:
    delivery = _delivery(timezone.now(), who)
    row = ProviderEvent.objects.create(
        esp_name="test",
        event_id=uuid.uuid4().hex,
        event_type="bounced",
        recipient=who.email,
        delivery_id=delivery,
        description=f"550 {who.email} unknown",
    )
    ProviderEvent.objects.filter(pk=row.pk).update(received_at=at)
    return row.pk


# --- cookie_choices and ledger_network_details (append-only: made with their times) ----------


def _cookie_choice(at: datetime, who: Any) -> int:
    return CookieConsent.objects.create(
        anonymous_id=uuid.uuid4(),
        user=who,
        analytics=True,
        policy_version=PolicyVersion.objects.order_by("-number").first(),
        created_at=at,
        ip_address=IP,
        user_agent=USER_AGENT,
    ).pk


def _ledger_row(at: datetime, who: Any) -> int:
    return ConsentEvent.objects.create(
        subject=who,
        purpose=PurposeModel.objects.get(code="newsletter"),
        granted=True,
        legal_basis=ConsentEvent.LegalBasis.CONSENT,
        source="signup_form",
        policy_version=PolicyVersion.objects.order_by("-number").first(),
        wording="Send me the newsletter",
        occurred_at=at,
        ip_address=IP,
        user_agent=USER_AGENT,
    ).pk


# --- survey_answers: the period is the survey's own --------------------------------------------

SURVEY_DAYS = 30


def _entry(closed: datetime | None, who: Any) -> int:
    survey = Survey.objects.create(
        title="Checkout survey",
        status=Survey.Status.CLOSED if closed else Survey.Status.OPEN,
        answers_kept_days=SURVEY_DAYS,
    )
    Survey.objects.filter(pk=survey.pk).update(closed_at=closed)
    question = Question.objects.create(
        survey=survey, position=1, text="Anything else?", kind="free_text"
    )
    entry = Entry.objects.create(
        survey=survey,
        person=who,
        submitted_at=(closed or timezone.now()) - timedelta(days=1),
        postcode_district="LS1",
        contact_name=CONTACT_NAME,
        contact_address=CONTACT_ADDRESS,
        contact_postcode="LS1 4AP",
    )
    Answer.objects.create(entry=entry, question=question, text=FREE_TEXT)
    return entry.pk


def _survey_entry(at: datetime, who: Any) -> int:
    # ``at`` is when the period ends; the survey closed SURVEY_DAYS before it.
    return _entry(at - timedelta(days=SURVEY_DAYS), who)


def _anonymised(pk: int, before: dict[str, Any]) -> None:
    entry = Entry.objects.get(pk=pk)
    assert entry.person_id is None and entry.anonymised_at is not None
    assert (entry.contact_name, entry.contact_address, entry.contact_postcode) == ("", "", "")
    assert list(Answer.objects.filter(entry=entry).values_list("text", flat=True)) == [""]
    assert entry.postcode_district == before["postcode_district"], "unnamed answers stay"
    assert entry.survey_id == before["survey_id"] and entry.submitted_at == before["submitted_at"]


def _entries_not_covered(at: datetime) -> list[int]:
    long_ago = at - timedelta(days=400)
    still_open = _entry(None, person())  # no closing date: never due
    Entry.objects.filter(pk=still_open).update(submitted_at=long_ago)
    # closes_at in the future, closed_at not set: not due however old the entry
    later = _entry(None, person())
    Survey.objects.filter(entries=later).update(closes_at=timezone.now() + timedelta(days=5))
    return [still_open, later]


def _survey_entry_by_closes_at(at: datetime, who: Any) -> int:
    pk = _entry(None, who)
    Survey.objects.filter(entries=pk).update(closes_at=at - timedelta(days=SURVEY_DAYS))
    return pk


# --- referral_tokens ----------------------------------------------------------------------------


def _referral(at: datetime, who: Any, status: str = Referral.Status.SENT) -> int:
    return Referral.objects.create(
        token=f"{TOKEN_PREFIX}{uuid.uuid4().hex[:20]}", sender=who, status=status, created_at=at
    ).pk


def _referrals_not_covered(at: datetime) -> list[int]:
    return [
        _referral(at, person(), Referral.Status.QUEUED),
        _referral(at, person(), Referral.Status.SENDING),
    ]


# --- sign-in records and sessions ---------------------------------------------------------------


def _axes(model: type) -> Callable[[datetime, Any], int]:
    def make(at: datetime, _who: Any) -> int:
        extra = {"get_data": "", "post_data": "", "failures_since_start": 2}
        fields = {
            "username": f"signin{next(_numbers)}@{EMAIL_DOMAIN}",
            "ip_address": IP,
            "user_agent": USER_AGENT,
            "http_accept": "*/*",
            "path_info": "/accounts/login/",
        }
        if model is AccessAttempt:
            fields |= extra
        row = model.objects.create(**fields)
        model.objects.filter(pk=row.pk).update(attempt_time=at)
        return row.pk

    return make


def _session(at: datetime, _who: Any) -> str:
    key = uuid.uuid4().hex
    Session.objects.create(session_key=key, session_data="e30:secret", expire_date=at)
    return key


CASES: dict[str, Case] = {
    "unverified_accounts": Case(
        User,
        lambda at, _who: _account(at),
        _erased,
        _accounts_not_covered,
        makes_its_person=True,
    ),
    "newsletter_requests": Case(
        NewsletterRequestLimit, _newsletter_limit, deleted(NewsletterRequestLimit)
    ),
    "delivery_content": Case(
        Delivery,
        _delivery,
        trimmed(Delivery, to_email="", context={}, last_error=""),
        _deliveries_not_covered,
    ),
    "provider_events": Case(ProviderEvent, _provider_event, deleted(ProviderEvent)),
    "cookie_choices": Case(CookieConsent, _cookie_choice, deleted(CookieConsent)),
    "ledger_network_details": Case(
        ConsentEvent, _ledger_row, trimmed(ConsentEvent, ip_address=None, user_agent="")
    ),
    "survey_answers": Case(Entry, _survey_entry, _anonymised, _entries_not_covered),
    "referral_tokens": Case(
        Referral,
        _referral,
        trimmed(Referral, token=None, sender_id=None),
        _referrals_not_covered,
    ),
    "sign_in_log": Case(AccessLog, _axes(AccessLog), deleted(AccessLog)),
    "sign_in_failures": Case(AccessFailureLog, _axes(AccessFailureLog), deleted(AccessFailureLog)),
    "sign_in_lockouts": Case(AccessAttempt, _axes(AccessAttempt), deleted(AccessAttempt)),
    "expired_sessions": Case(Session, _session, deleted(Session)),
}


def period_end(key: str, now: datetime) -> datetime:
    """The moment a row's period ends if it is counted from it: rows counted from before it
    are due (for survey answers, ``make`` turns it into the survey's closing time)."""
    rule = BY_KEY[key]
    return now if rule.due_at is not None else rule.cutoff(now)
