"""The transactional outbox: a delivery row written with the change that causes it, relayed
by Celery after commit, and swept up again if the relay never happened."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from communications.gate import may_send
from communications.kinds import rule_for
from communications.models import UNCERTAIN_PREFIX, Delivery, SendingClaim
from communications.rendering import render_delivery
from communications.sending import Failure, Outgoing, Result, send_single
from communications.services.abandoned_claims import resolve_abandoned_claims
from communications.services.claims import (
    UNCERTAIN,
    mark_uncertain,
    open_claim,
    outcome_for,
    record,
    release,
)
from privacy_site.auth_user import AuthUser
from privacy_site.masking import mask_address

logger = logging.getLogger(__name__)

Status = Delivery.Status
__all__ = ["UNCERTAIN", "UNCERTAIN_PREFIX", "enqueue_email", "send_delivery", "sweep_outbox"]


def enqueue_email(
    *,
    kind: str,
    user: AuthUser | None = None,
    to_email: str = "",
    context: dict[str, Any] | None = None,
) -> Delivery:
    """Write the delivery row for one message, in the caller's transaction, and relay it
    once that transaction commits.

    The gate is asked now, so a message that may not go is recorded with the reason (and
    never relayed), and asked again when the row is sent. ``to_email`` defaults to the
    account's address; address-only kinds (double opt-in, erasure confirmation) pass it with
    no user.
    """
    rule = rule_for(kind)
    if not rule.via_outbox:
        raise ValueError(f"A {kind} message is never written to the outbox.")
    if user is None and not rule.to_address:
        raise ValueError(f"A {kind} message needs an account to go to.")
    address = to_email or (user.email if user is not None else "")
    decision = may_send(kind, user, email=address)
    # A message to a bare address that won't go keeps nothing of it (see ``_finish``).
    keep = bool(decision) or user is not None
    delivery = Delivery.objects.create(
        kind=kind,
        user=user,
        to_email=address if keep else "",
        context=(context or {}) if keep else {},
        status=decision.status,
        last_error="" if decision else decision.reason,
    )
    if decision:
        from communications.tasks import send_delivery_task

        # Robust: with the broker down the caller's transaction has still committed, so the
        # row stays queued for ``sweep_outbox`` instead of the caller seeing an error.
        transaction.on_commit(lambda: send_delivery_task.delay(delivery.pk), robust=True)
    else:
        logger.info("%s not sent to %s: %s", kind, mask_address(address), decision.reason)
    return delivery


def send_delivery(*, delivery_id: int) -> str:
    """Send one queued transactional row that is due; returns its status. Safe to call
    twice: only the call that moves the row from queued to sending sends it.

    A temporary failure (see ``sending.Failure``) puts the row back in the queue, due after
    a backoff, until ``EMAIL_MAX_ATTEMPTS``; a refusal fails it; no answer once the message
    was handed over makes it uncertain, never sent again."""
    now = timezone.now()
    with transaction.atomic():
        claim = open_claim(now)
        claimed = (
            Delivery.objects.filter(pk=delivery_id, status=Status.QUEUED, campaign__isnull=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .update(status=Status.SENDING, claimed_at=now, claim=claim, attempts=F("attempts") + 1)
        )
        if not claimed:
            claim.delete()
    if not claimed:
        row = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return row or "missing"
    try:
        return _send_claimed(delivery_id, claim.pk)
    finally:
        # Still *sending* here only if something raised: uncertain if it was being handed
        # over, else back to the queue. (If the database is gone too, the sweep does this.)
        with transaction.atomic():
            held = SendingClaim.objects.select_for_update().filter(pk=claim.pk).first()
            mine = Delivery.objects.filter(pk=delivery_id, claim_id=claim.pk)
            if held is not None and held.in_flight == delivery_id:
                mark_uncertain(mine, timezone.now())
            release(mine, timezone.now())
            SendingClaim.objects.filter(pk=claim.pk).delete()


def _send_claimed(delivery_id: int, claim_id: int) -> str:
    delivery = Delivery.objects.select_related("user").get(pk=delivery_id)
    decision = may_send(delivery.kind, delivery.user, email=delivery.to_email)
    if not decision:
        _finish(delivery, status=decision.status, error=decision.reason)
        return decision.status
    try:
        rendered = render_delivery(delivery)
    except Exception as exc:
        logger.exception("delivery %s could not be rendered", delivery.pk)
        _finish(delivery, status=Status.FAILED, error=f"rendering failed: {exc}"[:1000])
        return Status.FAILED
    from communications.ratelimit import acquire

    acquire(1)  # if it raises, nothing was handed over: the row goes back to the queue
    handed_over = _MarkInFlight(claim_id)
    result = send_single(Outgoing(delivery.pk, delivery.to_email, rendered), progress=handed_over)
    if handed_over.lost:
        return Status.QUEUED  # the sweep took the row back before it was handed over
    if result.ok:
        _finish(delivery, status=Status.SENT, provider_message_id=result.provider_message_id)
        return Status.SENT
    if result.failure is Failure.UNCERTAIN:
        logger.warning("delivery %s uncertain: %s", delivery.pk, result.error)
    _, status, _, error, next_attempt_at, _ = outcome_for(result, delivery.attempts, timezone.now())
    _finish(delivery, status=status, error=error, next_attempt_at=next_attempt_at)
    if status == Status.QUEUED and next_attempt_at is not None:
        from communications.tasks import send_delivery_task

        wait = max(0.0, (next_attempt_at - timezone.now()).total_seconds())
        if wait <= settings.EMAIL_OUTBOX_RETRY_AFTER:
            # Soon: its own retry; later ones are relayed by the sweep once due.
            send_delivery_task.apply_async((delivery.pk,), countdown=wait + 0.1)
    return status


class _MarkInFlight:
    """``sending.Progress`` for one row: marks it in flight on its claim just before it is
    handed over, so that a worker dying then leaves it uncertain and dying before leaves it
    queued."""

    def __init__(self, claim_id: int) -> None:
        self.claim_id = claim_id
        self.lost = False

    def begin(self, delivery_ids: Sequence[int], done: Sequence[Result]) -> bool:
        held = record([], claim_id=self.claim_id, in_flight=delivery_ids[0])
        self.lost = not held
        return held


def _finish(
    delivery: Delivery,
    *,
    status: str,
    error: str = "",
    provider_message_id: str = "",
    next_attempt_at: datetime | None = None,
) -> None:
    fields = {
        "status": status,
        "last_error": error,
        "updated_at": timezone.now(),
        "claim_id": None,
        "next_attempt_at": next_attempt_at,
    }
    if status == Status.SENT:
        fields.update(sent_at=timezone.now(), provider_message_id=provider_message_id)
    if status != Status.QUEUED:
        if not delivery.user_id:
            # A message to a bare address (an erasure confirmation, a newsletter request nobody
            # has confirmed yet) forgets the address and the links once it has gone or given up.
            fields.update(to_email="", context={})
        elif rule_for(delivery.kind).forget_context:
            # A verification or reset link is a credential: not kept once sent.
            fields["context"] = {}
    Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(**fields)


def sweep_outbox() -> dict[str, int]:
    """Resolve claims whose worker is gone (the row it was handing over is uncertain, the
    others go back to the queue; see ``claims``); relay transactional rows left queued
    (broker down, crash before relay, a retry whose time has come). Campaign rows put back
    are sent again by ``sweep_campaigns``."""
    from communications.tasks import send_delivery_task

    now = timezone.now()
    retry_before = now - timedelta(seconds=settings.EMAIL_OUTBOX_RETRY_AFTER)
    stuck_before = now - timedelta(seconds=settings.EMAIL_SENDING_TIMEOUT)
    abandoned = resolve_abandoned_claims()
    # Rows sending with no claim (claimed before claims were recorded) and long stuck.
    unclaimed = Delivery.objects.filter(
        status=Status.SENDING, claim__isnull=True, claimed_at__lt=stuck_before
    )
    stuck = abandoned["uncertain"] + mark_uncertain(unclaimed, now)
    requeued = 0
    left = (
        Delivery.objects.filter(
            status=Status.QUEUED, campaign__isnull=True, updated_at__lt=retry_before
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("updated_at")
        .values_list("pk", flat=True)[: settings.EMAIL_SWEEP_LIMIT]
    )
    for delivery_id in left:
        send_delivery_task.delay(delivery_id)
        requeued += 1
    if stuck or requeued:
        logger.warning("outbox sweep: %d relayed again, %d uncertain", requeued, stuck)
    return {"requeued": requeued, "uncertain": stuck, "released": abandoned["released"]}
