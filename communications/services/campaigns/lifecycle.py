"""A campaign's life before and around sending: written and checked by staff, previewed,
test-sent, scheduled, started, paused, resumed or cancelled.

Every step locks the campaign row and checks that its status allows the step, so two staff
(or staff and the scheduler) never both move one campaign.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from communications.kinds import (
    CAMPAIGN_KINDS,
    STAFF_CAMPAIGN_KINDS,
    MessageKind,
    rule_for,
)
from communications.models import Campaign, Delivery
from communications.rendering import (
    Rendered,
    campaign_template,
    list_unsubscribe_headers,
    sanitise_body,
)
from communications.services import events
from communications.services.outbox import enqueue_email
from consent.models import ConsentEvent, Purpose
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff

from .batches import restart_sending

CampaignStatus = Campaign.Status
Status = Delivery.Status
SEGMENT_KEYS = {"joined_after", "joined_before", "legal_basis"}
EDITABLE = {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED}


class CampaignError(ValueError):
    """A campaign that can't be saved, or a step its current status doesn't allow."""


# --- Writing -----------------------------------------------------------------------------------


def validate_segment(segment: dict[str, Any] | None, *, kind: str) -> dict[str, Any]:
    """The segment as stored: only known filters, dates as ISO strings. ``CampaignError``
    names the first thing wrong."""
    if segment is not None and not isinstance(segment, dict):
        raise CampaignError(
            'The segment must be an object of filters, like {"joined_after": "2026-01-01"}, '
            "or {} for everyone."
        )
    segment = dict(segment or {})
    unknown = set(segment) - SEGMENT_KEYS
    if unknown:
        raise CampaignError(
            f"Unknown segment filter: {', '.join(sorted(unknown))}. "
            f"Allowed: {', '.join(sorted(SEGMENT_KEYS))}."
        )
    clean: dict[str, str] = {}
    for key in ("joined_after", "joined_before"):
        if segment.get(key) in (None, ""):
            continue
        value = segment[key]
        try:
            parsed = parse_date(value) if isinstance(value, str) else None
        except ValueError:  # well formed but not in the calendar: 2024-02-30, 2024-13-45
            parsed = None
        if parsed is None or parsed.year < 1900:
            raise CampaignError(
                f"{key} must be a real date from 1900 on, written YYYY-MM-DD, not {value!r}."
            )
        clean[key] = parsed.isoformat()
    after, before = clean.get("joined_after"), clean.get("joined_before")
    if after and before and after > before:
        raise CampaignError("joined_after must not be later than joined_before.")
    basis = segment.get("legal_basis")
    if basis not in (None, ""):
        if not rule_for(kind).is_marketing:
            raise CampaignError("legal_basis applies only to marketing kinds.")
        if basis not in ConsentEvent.LegalBasis.values:
            raise CampaignError(
                f"legal_basis must be one of {', '.join(ConsentEvent.LegalBasis.values)}."
            )
        clean["legal_basis"] = basis
    return clean


def _purpose_for(kind: str, purpose: str | None, *, notice: bool = False) -> Purpose:
    allowed = CAMPAIGN_KINDS if notice else STAFF_CAMPAIGN_KINDS
    if kind not in allowed:
        raise CampaignError(
            f"A campaign can't send {kind!r}; choose one of {', '.join(STAFF_CAMPAIGN_KINDS)}. "
            "Policy notices are sent from the policy's publication or a business transition."
        )
    expected = rule_for(kind).purpose
    if purpose not in (None, "", expected):
        raise CampaignError(f"A {kind} campaign goes to the {expected!r} purpose, not {purpose!r}.")
    return Purpose.objects.get(code=expected)


def _content(
    *,
    name: str,
    kind: str,
    subject_line: str,
    body: str,
    body_format: str,
    segment: dict[str, Any] | None,
    purpose: str | None,
    notice: bool = False,
) -> dict[str, Any]:
    """The campaign's fields as stored, checked and sanitised; ``CampaignError`` otherwise."""
    if body_format not in Campaign.BodyFormat.values:
        raise CampaignError(f"body_format must be one of {', '.join(Campaign.BodyFormat.values)}.")
    if not subject_line.strip() or not body.strip():
        raise CampaignError("A campaign needs a subject and a body.")
    if any(ord(character) < 32 for character in subject_line):
        raise CampaignError("The subject must be one line, without control characters.")
    resolved = _purpose_for(kind, purpose, notice=notice)
    body_html, body_text = sanitise_body(body, body_format)
    return {
        "name": name.strip() or subject_line.strip(),
        "kind": kind,
        "purpose": resolved,
        "subject_line": subject_line.strip(),
        "body": body,
        "body_format": body_format,
        "body_html": body_html,
        "body_text": body_text,
        "segment": validate_segment(segment, kind=kind),
    }


@transaction.atomic
def create_campaign(
    *,
    actor: AuthUser | None,
    name: str,
    kind: str,
    subject_line: str,
    body: str,
    body_format: str = Campaign.BodyFormat.MARKDOWN,
    segment: dict[str, Any] | None = None,
    purpose: str | None = None,
    send_at: datetime | None = None,
    notice: bool = False,
) -> Campaign:
    """A new draft by ``actor``. The purpose follows from the kind (``purpose``, if given,
    must be that one). A notice kind only with ``notice`` (``services.policy_changes``,
    which writes the notice's words itself): staff write marketing and service campaigns.

    With ``send_at``, also schedule it, in the same transaction: a refused time leaves no
    draft behind."""
    fields = _content(
        name=name,
        kind=kind,
        subject_line=subject_line,
        body=body,
        body_format=body_format,
        segment=segment,
        purpose=purpose,
        notice=notice,
    )
    campaign = Campaign.objects.create(created_by=actor, **fields)
    events.campaign_created(campaign=campaign, actor=actor)
    if send_at is not None:
        campaign = schedule_campaign(campaign=campaign, send_at=send_at, actor=actor)
    return campaign


@transaction.atomic
def update_campaign(
    *,
    campaign: Campaign,
    name: str,
    kind: str,
    subject_line: str,
    body: str,
    body_format: str = Campaign.BodyFormat.MARKDOWN,
    segment: dict[str, Any] | None = None,
    purpose: str | None = None,
    send_at: datetime | None = None,
    actor: AuthUser | None = None,
) -> Campaign:
    """Replace the content of a campaign that is a draft, scheduled or paused. One that has
    started sending keeps its kind and segment: rows already written went to their audience.

    With ``send_at``, also schedule it, in the same transaction: a refused time leaves the
    campaign as it was."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in EDITABLE:
        raise CampaignError(f"A {campaign.get_status_display().lower()} campaign can't change.")
    if rule_for(campaign.kind).is_notice:
        raise CampaignError(
            "A policy notice says what its policy version or business transition says; "
            "it can't be edited."
        )
    if campaign.started_at is not None and (
        kind != campaign.kind or validate_segment(segment, kind=kind) != campaign.segment
    ):
        raise CampaignError(
            "A campaign that has started sending keeps its kind and segment; "
            "only its name, subject and body can change."
        )
    fields = _content(
        name=name,
        kind=kind,
        subject_line=subject_line,
        body=body,
        body_format=body_format,
        segment=segment,
        purpose=purpose,
    )
    changed = [key for key, value in fields.items() if getattr(campaign, key) != value]
    for key, value in fields.items():
        setattr(campaign, key, value)
    campaign.save()
    if changed:
        events.campaign_edited(campaign=campaign, actor=actor, changed=changed)
    if send_at is not None:
        campaign = schedule_campaign(campaign=campaign, send_at=send_at, actor=actor)
    return campaign


# --- Status changes ----------------------------------------------------------------------------
# Each takes the member of staff acting (``actor``); None is the system (a policy-change notice).


# Who may pause, resume or cancel a notice: whoever may publish a policy version or
# record a business transition (the Privacy Officer), or the system.
NOTICE_PERMISSIONS = ("consent.add_policyversion", "communications.add_businesstransition")
NOTICE_STEERING = {"pause", "resume", "cancel"}


def _transition(
    campaign_id: int, *, allowed: set[str], action: str, actor: AuthUser | None
) -> Campaign:
    campaign = Campaign.objects.select_for_update().select_related("purpose").get(pk=campaign_id)
    # A notice is created and started by ``policy_changes`` in one go: steering it after is
    # the Privacy Officer's.
    if (
        action in NOTICE_STEERING
        and rule_for(campaign.kind).is_notice
        and actor is not None
        and not any(is_active_staff(actor, permission) for permission in NOTICE_PERMISSIONS)
    ):
        raise CampaignError(f"Only the Privacy Officer may {action} a policy notice.")
    if campaign.status not in allowed:
        raise CampaignError(f"Can't {action} a {campaign.get_status_display().lower()} campaign.")
    return campaign


@transaction.atomic
def schedule_campaign(
    *, campaign: Campaign, send_at: datetime, actor: AuthUser | None = None
) -> Campaign:
    campaign = _transition(
        campaign.pk,
        allowed={CampaignStatus.DRAFT, CampaignStatus.SCHEDULED},
        action="schedule",
        actor=actor,
    )
    if timezone.is_naive(send_at):
        raise CampaignError("send_at needs a time zone.")
    if send_at <= timezone.now():
        raise CampaignError("send_at must be in the future; use send now instead.")
    campaign.status = CampaignStatus.SCHEDULED
    campaign.send_at = send_at
    campaign.save(update_fields=["status", "send_at", "updated_at"])
    events.campaign_scheduled(campaign=campaign, actor=actor, send_at=send_at)
    return campaign


@transaction.atomic
def send_campaign_now(*, campaign: Campaign, actor: AuthUser | None = None) -> Campaign:
    campaign = _transition(
        campaign.pk,
        allowed={CampaignStatus.DRAFT, CampaignStatus.SCHEDULED},
        action="send",
        actor=actor,
    )
    return start_sending(campaign, actor=actor)


def start_sending(campaign: Campaign, *, actor: AuthUser | None = None) -> Campaign:
    """Move a campaign locked by the caller to *sending* (by ``actor``, or by its schedule)
    and start its audience walk once the caller's transaction commits."""
    from communications.tasks import populate_campaign_task

    now = timezone.now()
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = now
    campaign.last_batch_at = now
    campaign.save(update_fields=["status", "started_at", "last_batch_at", "updated_at"])
    events.campaign_sending(campaign=campaign, actor=actor)
    # Robust: if the broker is down the campaign is still sending (committed), and
    # ``sweep_campaigns`` starts it once it has stalled; the caller need not see an error.
    transaction.on_commit(lambda: populate_campaign_task.delay(campaign.pk), robust=True)
    return campaign


@transaction.atomic
def pause_campaign(*, campaign: Campaign, actor: AuthUser | None = None) -> Campaign:
    campaign = _transition(
        campaign.pk, allowed={CampaignStatus.SENDING}, action="pause", actor=actor
    )
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    events.campaign_paused(campaign=campaign, actor=actor)
    return campaign


@transaction.atomic
def resume_campaign(*, campaign: Campaign, actor: AuthUser | None = None) -> Campaign:
    campaign = _transition(
        campaign.pk, allowed={CampaignStatus.PAUSED}, action="resume", actor=actor
    )
    campaign.status = CampaignStatus.SENDING
    campaign.last_batch_at = timezone.now()
    campaign.save(update_fields=["status", "last_batch_at", "updated_at"])
    events.campaign_resumed(campaign=campaign, actor=actor)
    transaction.on_commit(lambda: restart_sending(campaign.pk), robust=True)
    return campaign


@transaction.atomic
def cancel_campaign(*, campaign: Campaign, actor: AuthUser | None = None) -> Campaign:
    """Stop for good: rows not yet claimed are cancelled; a batch already sending finishes."""
    campaign = _transition(
        campaign.pk,
        allowed={
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.SENDING,
            CampaignStatus.PAUSED,
        },
        action="cancel",
        actor=actor,
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign.completed_at = timezone.now()
    campaign.save(update_fields=["status", "completed_at", "updated_at"])
    events.campaign_cancelled(campaign=campaign, actor=actor)
    Delivery.objects.filter(campaign=campaign, status=Status.QUEUED).update(
        status=Status.CANCELLED, updated_at=timezone.now()
    )
    return campaign


# --- Preview and test --------------------------------------------------------------------------


# Who a preview is rendered for: made up, so a preview shows nobody's data.
SAMPLE_FIRST_NAME = "Sam"


def preview_campaign(*, campaign: Campaign) -> Rendered:
    template = campaign_template(campaign)
    rendered = template.for_recipient(
        {
            "first_name": SAMPLE_FIRST_NAME,
            "unsubscribe_url": settings.SITE_URL + "/unsubscribe/sample/",
            "preferences_url": settings.SITE_URL + "/preferences/sample/",
        }
    )
    if rule_for(campaign.kind).is_marketing:
        rendered.headers.update(
            list_unsubscribe_headers(
                unsubscribe_url=settings.SITE_URL + "/unsubscribe/sample/", reference="preview"
            )
        )
    return rendered


@transaction.atomic
def send_campaign_test(*, campaign: Campaign, actor: AuthUser) -> Delivery:
    """The campaign as a recipient would get it, to its author only, through the outbox."""
    return enqueue_email(
        kind=MessageKind.CAMPAIGN_TEST, user=actor, context={"campaign_id": campaign.pk}
    )
