"""Campaigns: written and checked by staff, then sent in batches by Celery workers.

Life of a send: ``send_campaign_now`` (or the schedule) moves the campaign to *sending* and
starts ``populate_campaign``, which walks the audience in keyset chunks, writes one queued
delivery row per recipient and enqueues a batch task per ``EMAIL_BATCH_SIZE`` rows. Each
``send_campaign_batch`` claims queued rows that are due with ``SELECT ... FOR UPDATE SKIP
LOCKED``, commits the claim (status *sending*, under a ``SendingClaim``), asks the gate again,
sends, and records each row's result as it goes (see ``claims``). A temporary failure goes
back to the queue with a backoff, and the campaign completes only once no row can still be
tried. A worker killed mid-batch leaves at most the row it was handing over uncertain: the
sweep resolves its claim once its database session has ended, puts its other rows back in
the queue and restarts the campaign.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Exists, F, Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from communications.audiences import notice_subjects
from communications.gate import gate_batch
from communications.kinds import CAMPAIGN_KINDS, MessageKind, rule_for
from communications.models import Campaign, Delivery
from communications.ratelimit import provider_name
from communications.rendering import (
    CampaignTemplate,
    Rendered,
    campaign_template,
    link_prefixes,
    list_unsubscribe_headers,
    recipient_values,
    sanitise_body,
)
from communications.sending import (
    BatchRecipient,
    Result,
    batch_sending_enabled,
    individual_hand_over,
    send_as_batch,
)
from communications.services.claims import (
    UNCERTAIN_PREFIX,
    ClaimProgress,
    RowOutcome,
    open_claim,
)
from consent.models import ConsentEvent, Purpose
from consent.selectors import audience_for
from privacy_site.masking import mask_address

from .outbox import enqueue_email

logger = logging.getLogger(__name__)

CampaignStatus = Campaign.Status
Status = Delivery.Status
SEGMENT_KEYS = {"joined_after", "joined_before", "legal_basis"}
EDITABLE = {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED}


class CampaignError(ValueError):
    """A campaign that can't be saved, or a step its current status doesn't allow."""


# --- Writing -----------------------------------------------------------------------------------


def validate_segment(segment: dict | None, *, kind: str) -> dict:
    """The segment as stored: only known filters, dates as ISO strings. ``CampaignError``
    names the first thing wrong."""
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


def _purpose_for(kind: str, purpose: str | None) -> Purpose:
    if kind not in CAMPAIGN_KINDS:
        raise CampaignError(
            f"A campaign can't send {kind!r}; choose one of {', '.join(CAMPAIGN_KINDS)}."
        )
    expected = rule_for(kind).purpose
    if purpose not in (None, "", expected):
        raise CampaignError(f"A {kind} campaign goes to the {expected!r} purpose, not {purpose!r}.")
    return Purpose.objects.get(code=expected)


@transaction.atomic
def save_campaign(
    *,
    actor: AbstractBaseUser | None,
    name: str,
    kind: str,
    subject: str,
    body: str,
    body_format: str = Campaign.BodyFormat.MARKDOWN,
    segment: dict | None = None,
    purpose: str | None = None,
    campaign: Campaign | None = None,
    send_at: datetime | None = None,
) -> Campaign:
    """Create a campaign (``campaign`` None) or change one that has not started sending.

    With ``send_at``, also schedule it, in the same transaction: a refused time leaves no
    draft behind and no change made."""
    if campaign is not None:
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in EDITABLE:
            raise CampaignError(f"A {campaign.get_status_display().lower()} campaign can't change.")
        started = campaign.started_at is not None
        if started and (
            kind != campaign.kind or validate_segment(segment, kind=kind) != campaign.segment
        ):
            # Rows already written went to the audience of the old kind and segment.
            raise CampaignError(
                "A campaign that has started sending keeps its kind and segment; "
                "only its name, subject and body can change."
            )
    if body_format not in Campaign.BodyFormat.values:
        raise CampaignError(f"body_format must be one of {', '.join(Campaign.BodyFormat.values)}.")
    if not subject.strip() or not body.strip():
        raise CampaignError("A campaign needs a subject and a body.")
    if any(ord(character) < 32 for character in subject):
        raise CampaignError("The subject must be one line, without control characters.")
    resolved = _purpose_for(kind, purpose)
    body_html, body_text = sanitise_body(body, body_format)
    fields = {
        "name": name.strip() or subject.strip(),
        "kind": kind,
        "purpose": resolved,
        "subject": subject.strip(),
        "body": body,
        "body_format": body_format,
        "body_html": body_html,
        "body_text": body_text,
        "segment": validate_segment(segment, kind=kind),
    }
    if campaign is None:
        campaign = Campaign.objects.create(created_by=actor, **fields)
    else:
        for key, value in fields.items():
            setattr(campaign, key, value)
        campaign.save()
    if send_at is not None:
        campaign = schedule_campaign(campaign=campaign, send_at=send_at)
    return campaign


def _transition(campaign_id: int, *, allowed: set[str], action: str) -> Campaign:
    campaign = Campaign.objects.select_for_update().select_related("purpose").get(pk=campaign_id)
    if campaign.status not in allowed:
        raise CampaignError(f"Can't {action} a {campaign.get_status_display().lower()} campaign.")
    return campaign


@transaction.atomic
def schedule_campaign(*, campaign: Campaign, send_at: datetime) -> Campaign:
    campaign = _transition(
        campaign.pk, allowed={CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}, action="schedule"
    )
    if timezone.is_naive(send_at):
        raise CampaignError("send_at needs a time zone.")
    if send_at <= timezone.now():
        raise CampaignError("send_at must be in the future; use send now instead.")
    campaign.status = CampaignStatus.SCHEDULED
    campaign.send_at = send_at
    campaign.save(update_fields=["status", "send_at", "updated_at"])
    return campaign


@transaction.atomic
def send_campaign_now(*, campaign: Campaign) -> Campaign:
    campaign = _transition(
        campaign.pk, allowed={CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}, action="send"
    )
    return _start(campaign)


def _start(campaign: Campaign) -> Campaign:
    from communications.tasks import populate_campaign_task

    now = timezone.now()
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = now
    campaign.last_batch_at = now
    campaign.save(update_fields=["status", "started_at", "last_batch_at", "updated_at"])
    # Robust: if the broker is down the campaign is still sending (committed), and
    # ``sweep_campaigns`` starts it once it has stalled; the caller need not see an error.
    transaction.on_commit(lambda: populate_campaign_task.delay(campaign.pk), robust=True)
    return campaign


@transaction.atomic
def pause_campaign(*, campaign: Campaign) -> Campaign:
    campaign = _transition(campaign.pk, allowed={CampaignStatus.SENDING}, action="pause")
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def resume_campaign(*, campaign: Campaign) -> Campaign:
    campaign = _transition(campaign.pk, allowed={CampaignStatus.PAUSED}, action="resume")
    campaign.status = CampaignStatus.SENDING
    campaign.last_batch_at = timezone.now()
    campaign.save(update_fields=["status", "last_batch_at", "updated_at"])
    transaction.on_commit(lambda: _restart(campaign.pk), robust=True)
    return campaign


@transaction.atomic
def cancel_campaign(*, campaign: Campaign) -> Campaign:
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
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign.completed_at = timezone.now()
    campaign.save(update_fields=["status", "completed_at", "updated_at"])
    Delivery.objects.filter(campaign=campaign, status=Status.QUEUED).update(
        status=Status.CANCELLED, updated_at=timezone.now()
    )
    return campaign


def _restart(campaign_id: int) -> None:
    """Enqueue what a sending campaign needs to move again: the audience walk if unfinished,
    and ``EMAIL_RESTART_TASKS`` chained batch tasks, each enqueuing its successor while rows
    remain. A bounded number, so a campaign that is only slow (waiting behind another, or
    rate-limited) is not flooded with tasks each time the sweep looks at it."""
    from communications.tasks import populate_campaign_task, send_campaign_batch_task

    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.status != CampaignStatus.SENDING:
        return
    if not campaign.audience_complete:
        populate_campaign_task.delay(campaign_id)
    queued = _due(Delivery.objects.filter(campaign_id=campaign_id, status=Status.QUEUED)).count()
    chains = min(settings.EMAIL_RESTART_TASKS, math.ceil(queued / _batch_size()))
    for _ in range(chains):
        send_campaign_batch_task.delay(campaign_id, chain=True)
    if campaign.audience_complete and not queued:
        complete_if_done(campaign_id=campaign_id)


def _due(rows):
    """Queued rows that may be tried now: never tried, or their backoff has passed."""
    return rows.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))


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
def send_campaign_test(*, campaign: Campaign, actor: AbstractBaseUser) -> Delivery:
    """The campaign as a recipient would get it, to its author only, through the outbox."""
    return enqueue_email(
        kind=MessageKind.CAMPAIGN_TEST, user=actor, context={"campaign_id": campaign.pk}
    )


# --- Sending -----------------------------------------------------------------------------------


def _segment_subjects(campaign: Campaign):
    users = get_user_model().objects.all()
    segment = campaign.segment or {}
    if segment.get("joined_after"):
        users = users.filter(date_joined__date__gte=segment["joined_after"])
    if segment.get("joined_before"):
        users = users.filter(date_joined__date__lte=segment["joined_before"])
    audience = rule_for(campaign.kind).audience
    if audience is not None:
        # A notice walks its own audience; the gate asks again when each row is sent.
        users = notice_subjects(audience, users)
    return users


def populate_campaign(*, campaign_id: int) -> int:
    """Write the queued rows for the rest of the audience; returns how many were written.

    Each chunk commits on its own with the cursor, so a worker stopped half-way resumes where
    it left off, and a second walker running at once writes nothing twice (the unique
    (campaign, user) constraint, and the campaign row lock each chunk takes).
    """
    from communications.tasks import send_campaign_batch_task

    written = 0
    chunk = settings.EMAIL_AUDIENCE_CHUNK
    batch = settings.EMAIL_BATCH_SIZE
    while True:
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update().select_related("purpose").get(pk=campaign_id)
            )
            if campaign.status != CampaignStatus.SENDING or campaign.audience_complete:
                return written
            subjects = list(
                audience_for(
                    purpose=campaign.purpose,
                    after=campaign.audience_cursor,
                    limit=chunk,
                    subjects=_segment_subjects(campaign),
                    legal_basis=(campaign.segment or {}).get("legal_basis") or None,
                )
            )
            if not subjects:
                campaign.audience_complete = True
                campaign.save(update_fields=["audience_complete", "updated_at"])
                transaction.on_commit(lambda: complete_if_done(campaign_id=campaign_id))
                return written
            Delivery.objects.bulk_create(
                [
                    Delivery(kind=campaign.kind, campaign_id=campaign_id, user_id=subject)
                    for subject in subjects
                ],
                batch_size=chunk,
                ignore_conflicts=True,
            )
            campaign.audience_cursor = subjects[-1]
            campaign.last_batch_at = timezone.now()
            campaign.save(update_fields=["audience_cursor", "last_batch_at", "updated_at"])
            tasks = math.ceil(len(subjects) / batch)
            # Robust: with the broker down the rows are still written; the sweep restarts
            # the campaign once it stalls.
            transaction.on_commit(
                lambda n=tasks: [send_campaign_batch_task.delay(campaign_id) for _ in range(n)],
                robust=True,
            )
            written += len(subjects)


def _claim(campaign_id: int, limit: int) -> tuple[int | None, list[tuple[int, int | None, int]]]:
    """Claim up to ``limit`` due queued rows, committed as *sending* under a new claim;
    returns the claim's id and the rows (id, user id, attempts with this one). The campaign
    row is locked first, as pause and cancel lock it, so a claim never overlaps a pause or
    cancel and the two can't deadlock; a paused or cancelled campaign claims nothing."""
    now = timezone.now()
    with transaction.atomic():
        sending = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status=CampaignStatus.SENDING)
            .values_list("pk", flat=True)
        )
        if not list(sending):
            return None, []
        rows = list(
            _due(
                Delivery.objects.select_for_update(skip_locked=True).filter(
                    campaign_id=campaign_id, status=Status.QUEUED
                )
            )
            .order_by("id")
            .values_list("id", "user_id", "attempts")[:limit]
        )
        if not rows:
            return None, []
        claim = open_claim(now)
        Delivery.objects.filter(pk__in=[row[0] for row in rows]).update(
            status=Status.SENDING,
            claimed_at=now,
            claim=claim,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    # Outside the claim, and only if nobody holds the row (the audience walk holds it for
    # a whole chunk): it only tells the sweep that the campaign is moving.
    with transaction.atomic():
        free = Campaign.objects.select_for_update(skip_locked=True).filter(pk=campaign_id)
        Campaign.objects.filter(pk__in=free.values("pk")).update(last_batch_at=now)
    return claim.pk, [(row_id, user_id, attempts + 1) for row_id, user_id, attempts in rows]


def send_campaign_batch(*, campaign_id: int, chain: bool = False) -> int:
    """Claim, check, send and record one batch; returns how many rows it finished. With
    ``chain``, a batch that found work enqueues the next one (see ``_restart``). Rows that
    failed for now are tried again by a batch enqueued for when the first of them is due."""
    campaign = Campaign.objects.select_related("purpose").get(pk=campaign_id)
    if campaign.status != CampaignStatus.SENDING:
        return 0
    claim_id, rows = _claim(campaign_id, _batch_size())
    if claim_id is None:
        complete_if_done(campaign_id=campaign_id)
        return 0
    users = {
        user.pk: user
        for user in get_user_model()
        .objects.filter(pk__in=[user_id for _, user_id, _ in rows if user_id])
        .only("id", "email", "first_name", "is_active")
    }
    decisions = gate_batch(campaign.kind, list(users.values()))
    refused: list[RowOutcome] = []
    sendable: list[tuple[int, AbstractBaseUser]] = []
    for delivery_id, user_id, _ in rows:
        user = users.get(user_id)
        if user is None:
            refused.append((delivery_id, Status.SKIPPED_INACTIVE, "", "no account", None, 0))
        elif not decisions[user.pk]:
            decision = decisions[user.pk]
            refused.append((delivery_id, decision.status, "", decision.reason, None, 0))
        else:
            sendable.append((delivery_id, user))
    progress = ClaimProgress(
        claim_id,
        {row[0]: row[2] for row in rows},
        refused,
        order=[delivery_id for delivery_id, _ in sendable],
    )
    results: list[Result] = []
    try:
        # Rendering and the rate limit come first: a failure there hands nothing over, and
        # the rows go back to the queue (``finish``); the refusals already decided are kept.
        hand_over = _prepare(campaign, sendable)
        results = hand_over(progress=progress)
    finally:
        # Whatever is known is recorded, even if the send raised half-way; a row handed over
        # without an answer is uncertain, one never handed over goes back to the queue.
        progress.finish(results)
    if chain:
        from communications.tasks import send_campaign_batch_task

        send_campaign_batch_task.delay(campaign_id, chain=True)
    if progress.retry_at is not None:
        _retry_later(campaign_id, progress.retry_at)
    complete_if_done(campaign_id=campaign_id)
    return len(rows)


def _retry_later(campaign_id: int, due: datetime) -> None:
    """Enqueue a batch for when the rows this batch put back are due, if that is soon; a
    later one is left to the sweep, which restarts a campaign that stopped moving."""
    from communications.tasks import send_campaign_batch_task

    wait = max(0.0, (due - timezone.now()).total_seconds())
    if wait <= settings.EMAIL_CAMPAIGN_STALL_AFTER:
        send_campaign_batch_task.apply_async((campaign_id,), countdown=wait + 0.1)


def _batch_size() -> int:
    """``EMAIL_BATCH_SIZE``, but never more than a minute's worth of the provider's rate
    limit, so a batch's wait for tokens stays far inside the task's time limit."""
    from communications.ratelimit import rate_for

    rate = rate_for(provider_name())
    if rate <= 0:
        return settings.EMAIL_BATCH_SIZE
    return max(1, min(settings.EMAIL_BATCH_SIZE, int(rate * 60)))


def _prepare(
    campaign: Campaign, sendable: list[tuple[int, AbstractBaseUser]]
) -> Callable[[ClaimProgress], list[Result]]:
    """Render the batch and wait for the rate limit; returns the hand-over to the backend,
    the one step after which a message may have gone."""
    from communications.ratelimit import acquire

    if not sendable:
        return lambda progress: []
    template: CampaignTemplate = campaign_template(campaign)
    prefixes = link_prefixes()
    recipients = []
    for delivery_id, user in sendable:
        values, headers = recipient_values(
            template, user=user, ref=str(delivery_id), prefixes=prefixes
        )
        recipients.append(BatchRecipient(delivery_id, user.email, values, headers))
    if batch_sending_enabled():
        hand_over = partial(send_as_batch, template, recipients)
    else:
        hand_over = individual_hand_over(template, recipients)
    acquire(len(recipients))
    return hand_over


def complete_if_done(*, campaign_id: int) -> bool:
    """Mark a sending campaign completed once its audience is written and no row is open."""
    open_rows = Delivery.objects.filter(
        campaign_id=campaign_id, status__in=[Status.QUEUED, Status.SENDING]
    )
    done = Campaign.objects.filter(
        pk=campaign_id, status=CampaignStatus.SENDING, audience_complete=True
    ).exclude(Exists(open_rows))
    return bool(done.update(status=CampaignStatus.COMPLETED, completed_at=timezone.now()))


# --- Scheduled jobs ----------------------------------------------------------------------------


def run_due_campaigns() -> list[int]:
    """Start every scheduled campaign whose time has come; returns their ids."""
    started = []
    due = Campaign.objects.filter(
        status=CampaignStatus.SCHEDULED, send_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    for campaign_id in list(due):
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(pk=campaign_id, status=CampaignStatus.SCHEDULED)
                .first()
            )
            if campaign is None:
                continue
            _start(campaign)
            started.append(campaign_id)
    return started


def sweep_campaigns() -> list[int]:
    """Resolve claims whose worker is gone, then restart sending campaigns that stopped
    moving (their tasks lost with a broker or a killed worker, or rows just put back from an
    abandoned claim); complete the ones with nothing left. Returns the restarted ids."""
    from communications.services.claims import resolve_abandoned_claims

    released = set(resolve_abandoned_claims()["campaigns"])
    stalled_before = timezone.now() - timedelta(seconds=settings.EMAIL_CAMPAIGN_STALL_AFTER)
    restarted = []
    for campaign_id in Campaign.objects.filter(status=CampaignStatus.SENDING).values_list(
        "pk", flat=True
    ):
        if complete_if_done(campaign_id=campaign_id):
            continue
        moved = Campaign.objects.filter(pk=campaign_id, last_batch_at__gte=stalled_before)
        if campaign_id not in released and moved.exists():
            continue
        Campaign.objects.filter(pk=campaign_id).update(last_batch_at=timezone.now())
        _restart(campaign_id)
        restarted.append(campaign_id)
    if restarted:
        logger.warning("restarted stalled campaigns %s", restarted)
    return restarted


# --- Reading -----------------------------------------------------------------------------------


def campaign_progress(*, campaign: Campaign) -> dict[str, int]:
    """Rows by status, plus how many recipients unsubscribed through this campaign and how
    many rows are uncertain (their worker stopped mid-send): one pass over the rows."""
    counts = dict.fromkeys(Status.values, 0)
    counts.update(unsubscribed=0, uncertain=0)
    rows = (
        Delivery.objects.filter(campaign=campaign)
        .values("status")
        .annotate(
            n=Count("id"),
            unsubscribed=Count("id", filter=Q(unsubscribed_at__isnull=False)),
            uncertain=Count("id", filter=Q(last_error__startswith=UNCERTAIN_PREFIX)),
        )
        .order_by()
    )
    for row in rows:
        counts[row["status"]] = row["n"]
        counts["unsubscribed"] += row["unsubscribed"]
        counts["uncertain"] += row["uncertain"]
    counts["total"] = sum(counts[status] for status in Status.values)
    return counts


def describe_recipient(delivery: Delivery) -> str:
    """How admin names a recipient: masked, since marketing staff must not see addresses."""
    address = delivery.to_email or (delivery.user.email if delivery.user_id else "")
    return mask_address(address) if address else "—"
