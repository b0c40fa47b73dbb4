"""People in every state the policy-change notices must tell apart, set up through services."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from accounts.services.privacy import deactivate_account, erase_account, request_erasure
from communications.models import Suppression
from communications.services import suppress_address
from consent.models import Purpose
from consent.services import ConsentSource as Source
from consent.services import (
    grant_consent,
    withdraw_all_marketing,
    withdraw_consent,
)

STATES = (
    "opted_in_one",
    "opted_in_several",
    "never_asked",
    "withdrew_everything",
    "one_click",
    "complained",
    "complained_never_asked",
    "newsletter_only",
    "unverified",
    "suppressed",
    "deactivated",
    "erased",
)

# Who each rule reaches by the definitions alone (docs/CONSENT.md) ...
OPTED_IN = {"opted_in_one", "opted_in_several", "newsletter_only", "unverified", "suppressed"}
OPTED_OUT_OF_ALL = {"withdrew_everything", "one_click", "complained", "complained_never_asked"}
GONE = {"deactivated", "erased"}
# ... and who is emailed, once the gate's address rules (unverified, suppressed) apply too.
EMAILED = {
    "practice_change": {"opted_in_one", "opted_in_several", "newsletter_only"},
    "use_change": {"opted_in_one", "opted_in_several", "newsletter_only", "never_asked"},
    "editorial": set(),
}


def _granted(make_user, email: str, *purposes: str):
    user = make_user(email, first_name=email.split("@")[0].title())
    for purpose in purposes or (Purpose.NEWSLETTER,):
        grant_consent(subject=user, purpose=purpose, source=Source.SIGNUP_FORM)
    return user


def people_in_every_state(make_user) -> dict[str, object]:
    """One person per state, by state name; each has their own address at example.com."""
    people = {
        "opted_in_one": _granted(make_user, "one@example.com"),
        "opted_in_several": _granted(
            make_user, "several@example.com", Purpose.NEWSLETTER, Purpose.SURVEYS
        ),
        "never_asked": make_user("never@example.com", first_name="Never"),
    }
    withdrew = _granted(make_user, "withdrew@example.com", Purpose.NEWSLETTER, Purpose.SURVEYS)
    withdraw_all_marketing(subject=withdrew, source=Source.PREFERENCE_CENTRE)
    people["withdrew_everything"] = withdrew
    one_click = _granted(make_user, "oneclick@example.com")
    withdraw_consent(subject=one_click, purpose=Purpose.NEWSLETTER, source=Source.ONE_CLICK)
    people["one_click"] = one_click
    # What the provider webhook does with a complaint.
    complained = _granted(make_user, "complained@example.com")
    suppress_address(complained.email, reason=Suppression.Reason.COMPLAINT)
    withdraw_all_marketing(subject=complained, source=Source.PROVIDER_COMPLAINT)
    people["complained"] = complained
    quiet = make_user("complainednever@example.com", first_name="Quiet")
    suppress_address(quiet.email, reason=Suppression.Reason.COMPLAINT)
    people["complained_never_asked"] = quiet
    # What confirming the newsletter's double opt-in leaves: an account without a usable
    # password, holding the newsletter from the newsletter form.
    subscriber = get_user_model().objects.create_user("subscriber@example.com", None)
    grant_consent(subject=subscriber, purpose=Purpose.NEWSLETTER, source=Source.NEWSLETTER_FORM)
    people["newsletter_only"] = subscriber
    unverified = _granted(make_user, "unverified@example.com")
    EmailAddress.objects.create(user=unverified, email=unverified.email, verified=False)
    people["unverified"] = unverified
    suppressed = _granted(make_user, "suppressed@example.com")
    suppress_address(suppressed.email, reason=Suppression.Reason.HARD_BOUNCE)
    people["suppressed"] = suppressed
    deactivated = _granted(make_user, "deactivated@example.com")
    deactivate_account(user=deactivated, actor=deactivated)
    people["deactivated"] = deactivated
    erased = _granted(make_user, "erased@example.com")
    request_erasure(user=erased, actor=erased)
    erase_account(user_id=erased.pk)
    erased.refresh_from_db()
    people["erased"] = erased
    for user in people.values():
        user.refresh_from_db()
    assert set(people) == set(STATES)
    return people


def names(people: dict[str, object], ids) -> set[str]:
    ids = set(ids)
    return {name for name, user in people.items() if user.pk in ids}
