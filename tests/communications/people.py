"""People in every state the policy-change notices must tell apart, set up through services."""

from __future__ import annotations

from accounts.services.privacy import deactivate_account, erase_account, request_erasure
from communications.models import Suppression
from communications.services import suppress_address
from consent.models import Purpose
from consent.services import ConsentSource, withdraw_all_marketing, withdraw_consent
from tests.factories import NewsletterSubscriberFactory, SuppressionFactory, UserFactory

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


def _granted(email: str, *purposes: str):
    return UserFactory(
        email=email,
        first_name=email.split("@")[0].title(),
        consents=purposes or (Purpose.NEWSLETTER,),
    )


def people_in_every_state() -> dict[str, object]:
    """One person per state, by state name; each has their own address at example.com."""
    people = {
        "opted_in_one": _granted("one@example.com"),
        "opted_in_several": _granted("several@example.com", Purpose.NEWSLETTER, Purpose.SURVEYS),
        "never_asked": UserFactory(email="never@example.com", first_name="Never"),
    }
    withdrew = _granted("withdrew@example.com", Purpose.NEWSLETTER, Purpose.SURVEYS)
    withdraw_all_marketing(subject=withdrew, source=ConsentSource.PREFERENCE_CENTRE)
    people["withdrew_everything"] = withdrew
    one_click = _granted("oneclick@example.com")
    withdraw_consent(subject=one_click, purpose=Purpose.NEWSLETTER, source=ConsentSource.ONE_CLICK)
    people["one_click"] = one_click
    # What the provider webhook does with a complaint.
    complained = _granted("complained@example.com")
    suppress_address(complained.email, reason=Suppression.Reason.COMPLAINT)
    withdraw_all_marketing(subject=complained, source=ConsentSource.PROVIDER_COMPLAINT)
    people["complained"] = complained
    quiet = UserFactory(email="complainednever@example.com", first_name="Quiet")
    SuppressionFactory(address=quiet.email, reason=Suppression.Reason.COMPLAINT)
    people["complained_never_asked"] = quiet
    people["newsletter_only"] = NewsletterSubscriberFactory(email="subscriber@example.com")
    people["unverified"] = UserFactory(
        email="unverified@example.com",
        first_name="Unverified",
        consents=[Purpose.NEWSLETTER],
        verified=False,
    )
    suppressed = _granted("suppressed@example.com")
    SuppressionFactory(address=suppressed.email, reason=Suppression.Reason.HARD_BOUNCE)
    people["suppressed"] = suppressed
    deactivated = _granted("deactivated@example.com")
    deactivate_account(user=deactivated, actor=deactivated)
    people["deactivated"] = deactivated
    erased = _granted("erased@example.com")
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
