"""Publishing a policy version and recording a business transition, with the notices each
one calls for (the policy's "Notification of Changes" and "Business Transitions" clauses).

- *Editorial*: published on /privacy/, nothing else.
- *Practice change*: a notice on the site (home page for everyone, every page for logged-in
  people until they close it); staff may also email it, and then it goes to people opted in
  to communications who are not gone (kind ``policy_change``).
- *Use change*: the new purposes are off for everyone until each person says yes; everyone
  not gone and not opted out of all communication is emailed a link to choose (kind
  ``policy_use_change``), and asked once after their next login.

Emails go out on the campaign machinery, whose gate re-checks each kind's audience at send
time. Consent keeps the versions; this module is the only one that starts their emails.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import BusinessTransition, Campaign, PolicyPublication
from consent.models import PolicyDraft, PolicyVersion
from consent.services import ConsentError, publish_policy_draft
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff

from .campaigns.lifecycle import create_campaign, send_campaign_now

ChangeType = PolicyVersion.ChangeType
# The policy's words: "a prominent notice on our Web site for 30 days prior".
TRANSITION_NOTICE_DAYS = 30


class PolicyChangeError(ValueError):
    """A publication or transition that can't be made; the message says why, for staff."""


def _check_staff(actor: AuthUser) -> None:
    if not is_active_staff(actor):
        raise PolicyChangeError("Only a member of staff may do this.")


def _notice_body(version: PolicyVersion) -> str:
    """What every notice email says: what changed and where to read the differences. No
    marketing content: the body is made here, never written by staff."""
    changes = settings.SITE_URL + reverse("privacy-version", args=[version.number])
    return (
        f"We have published version {version.number} of our privacy policy, in force from "
        f"{version.effective_date:%-d %B %Y}.\n\n"
        f"What changed: {version.summary}\n\n"
        f"Read the differences from the version before: <{changes}>"
    )


def _notice_campaign(
    *, kind: str, name: str, subject_line: str, body: str, actor: AuthUser | None
) -> Campaign:
    campaign = create_campaign(
        actor=actor, name=name, kind=kind, subject_line=subject_line, body=body, notice=True
    )
    return send_campaign_now(campaign=campaign, actor=actor)


@transaction.atomic
def publish_policy_change(
    *,
    draft: PolicyDraft,
    actor: AuthUser,
    effective_date: datetime.date | None = None,
    email_practice_change: bool = False,
) -> PolicyPublication:
    """Publish ``draft`` and start what its change type calls for, recorded as one
    ``PolicyPublication``. Raises ``PolicyChangeError`` and changes nothing when refused."""
    _check_staff(actor)
    if email_practice_change and draft.change_type != ChangeType.PRACTICE_CHANGE:
        raise PolicyChangeError(
            "Only a practice change may be emailed by choice: a use change is always "
            "emailed, an editorial one never."
        )
    try:
        version = publish_policy_draft(draft=draft, actor=actor, effective_date=effective_date)
    except ConsentError as exc:
        raise PolicyChangeError(str(exc)) from exc
    started = [f"Version {version.number} published on /privacy/."]
    campaign = None
    site_notice = version.change_type != ChangeType.EDITORIAL
    if site_notice:
        started.append(
            "A notice on the home page, and on every page for logged-in people until they close it."
        )
    subject_line = f"Our privacy policy has changed (version {version.number})"
    if version.change_type == ChangeType.PRACTICE_CHANGE and email_practice_change:
        campaign = _notice_campaign(
            kind=MessageKind.POLICY_CHANGE,
            name=f"Policy version {version.number}: practice change notice",
            subject_line=subject_line,
            body=_notice_body(version),
            actor=actor,
        )
        started.append(
            f"Email campaign {campaign.pk} to people opted in to communications who are not gone."
        )
    elif version.change_type == ChangeType.USE_CHANGE:
        new = ", ".join(p.name for p in version.purposes_introduced.filter(is_optional=True))
        campaign = _notice_campaign(
            kind=MessageKind.POLICY_USE_CHANGE,
            name=f"Policy version {version.number}: your choice on a new use",
            subject_line=f"Your choice: a new use of your data (privacy policy version "
            f"{version.number})",
            body=_notice_body(version)
            + f"\n\nNew: {new}. It stays off for you unless you say yes.",
            actor=actor,
        )
        started.append(
            f"New purposes off for everyone until they say yes: {new}. Email campaign "
            f"{campaign.pk} with a choice link to everyone not gone and not opted out of "
            "all communication; the choice is offered once after each login until answered."
        )
    return PolicyPublication.objects.create(
        version=version,
        published_by=actor,
        published_at=timezone.now(),
        site_notice=site_notice,
        campaign=campaign,
        started="\n".join(started),
    )


# --- Business transitions ------------------------------------------------------------------------


def transition_problems(
    *,
    kind: str,
    counterparty: str,
    description: str,
    announced_on: datetime.date,
    effective_on: datetime.date,
    use_change_version: PolicyVersion | None = None,
) -> dict[str, str]:
    """Why this transition can't be recorded, by the field at fault, in words staff act on;
    empty when it can. ``record_business_transition`` refuses exactly these."""
    problems = {}
    if kind not in BusinessTransition.Kind.values:
        problems["kind"] = f"Unknown kind of transition {kind!r}."
    if not counterparty.strip():
        problems["counterparty"] = "Name the counterparty."
    if not description.strip():
        problems["description"] = "Say what happens: the notice shows it."
    if announced_on < timezone.localdate():
        problems["announced_on"] = "The announcement can't be in the past: the notice starts then."
    notice = (effective_on - announced_on).days
    if notice < TRANSITION_NOTICE_DAYS:
        try:
            earliest = announced_on + datetime.timedelta(days=TRANSITION_NOTICE_DAYS)
        except OverflowError:  # announced in the last days of year 9999
            earliest_date = "beyond the calendar"
        else:
            earliest_date = f"{earliest:%-d %B %Y}"
        problems["effective_on"] = (
            f"The effective date is {notice} days after the announcement; the privacy policy "
            f"promises a notice on the site for {TRANSITION_NOTICE_DAYS} days before a change "
            f"of ownership or control. Announced on {announced_on:%-d %B %Y}, the earliest "
            f"effective date is {earliest_date}."
        )
    elif (
        kind
        and BusinessTransition.objects.filter(
            kind=kind, counterparty__iexact=counterparty.strip(), effective_on=effective_on
        ).exists()
    ):
        problems["counterparty"] = (
            "This transition is recorded already (same kind, counterparty and effective "
            "date); its notice went with it."
        )
    if use_change_version is not None and use_change_version.change_type != ChangeType.USE_CHANGE:
        problems["use_change_version"] = (
            "Link a use-change version: only a use change asks people before a new use."
        )
    return problems


def _within(text: str, limit: int = 200) -> str:
    """``text`` cut to a campaign name's or subject's column, with an ellipsis if cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@transaction.atomic
def record_business_transition(
    *,
    actor: AuthUser,
    kind: str,
    counterparty: str,
    description: str,
    announced_on: datetime.date,
    effective_on: datetime.date,
    use_change_version: PolicyVersion | None = None,
    email_opted_in: bool = False,
) -> BusinessTransition:
    """Record a transition; its notice shows from ``announced_on`` to ``effective_on``.
    ``email_opted_in`` also emails people opted in to communications (kind
    ``business_transition``). Raises ``PolicyChangeError`` saying why, and records nothing."""
    _check_staff(actor)
    problems = transition_problems(
        kind=kind,
        counterparty=counterparty,
        description=description,
        announced_on=announced_on,
        effective_on=effective_on,
        use_change_version=use_change_version,
    )
    if problems:
        raise PolicyChangeError(" ".join(problems.values()))
    try:
        with transaction.atomic():  # a form sent twice at once: the second one is refused
            transition = BusinessTransition.objects.create(
                kind=kind,
                counterparty=counterparty.strip(),
                description=description.strip(),
                announced_on=announced_on,
                effective_on=effective_on,
                use_change_version=use_change_version,
                recorded_by=actor,
                recorded_at=timezone.now(),
            )
    except IntegrityError as error:
        raise PolicyChangeError(
            "This transition is recorded already (same kind, counterparty and effective date)."
        ) from error
    if email_opted_in:
        history = settings.SITE_URL + reverse("privacy-history")
        body = (
            f"{transition.get_kind_display()} with {transition.counterparty}, effective "
            f"{effective_on:%-d %B %Y}.\n\n{transition.description}\n\n"
            f"Our privacy notices and their history: <{history}>"
        )
        if use_change_version is not None:
            body += (
                f"\n\nYour data will be used differently only if you say yes: version "
                f"{use_change_version.number} of our policy asks you."
            )
        subject = f"Notice: {transition.get_kind_display().lower()} with "
        transition.campaign = _notice_campaign(
            kind=MessageKind.BUSINESS_TRANSITION,
            name=_within(f"Business transition: {transition.counterparty}"),
            subject_line=_within(subject + transition.counterparty),
            body=body,
            actor=actor,
        )
        transition.save(update_fields=["campaign"])
    return transition
