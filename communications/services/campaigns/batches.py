"""Sending a campaign's queued rows, a batch at a time.

Each ``send_campaign_batch`` claims queued rows that are due with ``SELECT ... FOR UPDATE
SKIP LOCKED``, commits the claim (status *sending*, under a ``SendingClaim``), asks the gate
again, sends, and records each row's result as it goes (see ``claims``). A temporary failure
goes back to the queue with a backoff, and the campaign completes only once no row can still
be tried.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, F, Q, QuerySet
from django.utils import timezone

from communications.gate import gate_batch
from communications.models import Campaign, Delivery
from communications.ratelimit import provider_name
from communications.rendering import (
    CampaignTemplate,
    campaign_template,
    link_prefixes,
    recipient_values,
)
from communications.sending import (
    BatchRecipient,
    HandOver,
    Result,
    batch_sending_enabled,
    send_as_batch,
)
from communications.services.claims import ClaimProgress, RowOutcome, open_claim, worker_name
from communications.smtp_fast_path import individual_hand_over
from privacy_site.auth_user import AuthUser

CampaignStatus = Campaign.Status
Status = Delivery.Status


def _due(rows: QuerySet[Delivery]) -> QuerySet[Delivery]:
    """Queued rows that may be tried now: never tried, or their backoff has passed."""
    return rows.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))


# One statement, one round trip: lock the campaign row (as pause and cancel do, so a claim
# never overlaps either and the two can't deadlock: the campaign is locked before any
# delivery row, and a paused or cancelled campaign claims nothing), pick the due queued rows
# that no other batch holds, open the claim with this session's pid and start, mark the rows
# *sending* under it, and tell the sweep the campaign is moving.
_CLAIM = """
    WITH campaign AS MATERIALIZED (
        SELECT id FROM communications_campaign
         WHERE id = %(campaign)s AND status = 'sending'
           FOR UPDATE
    ), picked AS MATERIALIZED (
        SELECT d.id FROM communications_delivery d
         WHERE d.campaign_id = %(campaign)s AND d.status = 'queued'
           AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= %(now)s)
           AND EXISTS (SELECT 1 FROM campaign)
         ORDER BY d.id
         LIMIT %(limit)s
           FOR UPDATE OF d SKIP LOCKED
    ), claim AS (
        INSERT INTO communications_sendingclaim (worker, db_pid, db_session_started,
               claimed_at, all_in_flight, hand_over_order, outcomes)
        SELECT %(worker)s, pg_backend_pid(),
               (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),
               %(now)s, false, '', ''
         WHERE EXISTS (SELECT 1 FROM picked)
        RETURNING id
    ), beat AS (
        UPDATE communications_campaign SET last_batch_at = %(now)s
         WHERE id = %(campaign)s AND EXISTS (SELECT 1 FROM picked)
    )
    UPDATE communications_delivery d
       SET status = 'sending', claimed_at = %(now)s, claim_id = claim.id,
           attempts = d.attempts + 1, updated_at = %(now)s
      FROM picked, claim
     WHERE d.id = picked.id
    RETURNING claim.id, d.id, d.user_id, d.attempts
"""


def _claim(campaign_id: int, limit: int) -> tuple[int | None, list[tuple[int, int | None, int]]]:
    """Claim up to ``limit`` due queued rows, committed as *sending* under a new claim;
    returns the claim's id and the rows (id, user id, attempts with this one), in id order."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        return _claim_portably(campaign_id, limit, now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM, {"campaign": campaign_id, "now": now, "limit": limit, "worker": worker_name()}
        )
        claimed = cursor.fetchall()
    if not claimed:
        return None, []
    rows = sorted((row_id, user_id, attempts) for _, row_id, user_id, attempts in claimed)
    return claimed[0][0], rows


def _claim_portably(
    campaign_id: int, limit: int, now: datetime
) -> tuple[int | None, list[tuple[int, int | None, int]]]:
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
        Campaign.objects.filter(pk=campaign_id).update(last_batch_at=now)
    return claim.pk, [(row_id, user_id, attempts + 1) for row_id, user_id, attempts in rows]


def send_campaign_batch(*, campaign_id: int, chain: bool = False) -> int:
    """Claim, check, send and record one batch; returns how many rows it finished. With
    ``chain``, a batch that found work enqueues the next one (see ``restart_sending``). Rows
    that failed for now are tried again by a batch enqueued for when the first of them is
    due."""
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
    sendable: list[tuple[int, AuthUser]] = []
    for delivery_id, user_id, _ in rows:
        user = users.get(user_id) if user_id is not None else None
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
    size: int = settings.EMAIL_BATCH_SIZE
    if rate <= 0:
        return size
    return max(1, min(size, int(rate * 60)))


def _prepare(campaign: Campaign, sendable: list[tuple[int, AuthUser]]) -> HandOver:
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
    hand_over: HandOver
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


def restart_sending(campaign_id: int) -> None:
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
