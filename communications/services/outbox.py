"""The transactional outbox: a delivery row written with the change that causes it, relayed
by Celery after commit, and swept up again if the relay never happened."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from communications.addresses import mask_address
from communications.gate import may_send
from communications.kinds import rule_for
from communications.models import Delivery
from communications.rendering import render_delivery
from communications.sending import Outgoing, send_single

logger = logging.getLogger(__name__)

Status = Delivery.Status
UNCERTAIN_PREFIX = "uncertain:"
UNCERTAIN = f"{UNCERTAIN_PREFIX} the worker stopped while sending; it may or may not have gone"


def enqueue_email(
    *,
    kind: str,
    user: AbstractBaseUser | None = None,
    to_email: str = "",
    context: dict | None = None,
) -> Delivery:
    """Write the delivery row for one message, in the caller's transaction, and relay it
    once that transaction commits.

    The gate is asked now, so a message that may not go is recorded with the reason (and
    never relayed), and asked again when the row is sent. ``to_email`` defaults to the
    account's address; address-only kinds (double opt-in, referral) pass it with no user.
    """
    rule = rule_for(kind)
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
    """Send one queued transactional row; returns its status. Safe to call twice: only the
    call that moves the row from queued to sending sends it."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=Status.QUEUED, campaign__isnull=True
    ).update(status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        row = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return row or "missing"
    delivery = Delivery.objects.select_related("user").get(pk=delivery_id)
    decision = may_send(delivery.kind, delivery.user, email=delivery.to_email)
    if not decision:
        _finish(delivery, status=decision.status, error=decision.reason)
        return decision.status
    try:
        rendered = render_delivery(delivery)
    except Exception as error:
        logger.exception("delivery %s could not be rendered", delivery.pk)
        _finish(delivery, status=Status.FAILED, error=f"rendering failed: {error}"[:1000])
        return Status.FAILED
    from communications.ratelimit import acquire

    try:
        acquire(1)
    except Exception:
        # Nothing was handed over: back to the queue, not to "uncertain".
        Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
            status=Status.QUEUED, attempts=F("attempts") - 1, updated_at=timezone.now()
        )
        raise
    result = send_single(Outgoing(delivery.pk, delivery.to_email, rendered))
    if result.ok:
        _finish(delivery, status=Status.SENT, provider_message_id=result.provider_message_id)
        return Status.SENT
    # A refused send goes back to the queue for the sweep to try again, up to a limit.
    if delivery.attempts < settings.EMAIL_MAX_ATTEMPTS:
        _finish(delivery, status=Status.QUEUED, error=result.error)
        return Status.QUEUED
    _finish(delivery, status=Status.FAILED, error=result.error)
    return Status.FAILED


def _finish(
    delivery: Delivery, *, status: str, error: str = "", provider_message_id: str = ""
) -> None:
    fields = {"status": status, "last_error": error, "updated_at": timezone.now()}
    if status == Status.SENT:
        fields.update(sent_at=timezone.now(), provider_message_id=provider_message_id)
    if status != Status.QUEUED:
        if not delivery.user_id:
            # A message to a bare address (a friend's referral, a newsletter request nobody
            # has confirmed yet) forgets the address and the links once it has gone or given up.
            fields.update(to_email="", context={})
        elif rule_for(delivery.kind).forget_context:
            # A verification or reset link is a credential: not kept once sent.
            fields["context"] = {}
    Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(**fields)


def sweep_outbox() -> dict[str, int]:
    """Relay transactional rows left queued (broker down, crash before relay); give up on
    rows stuck in sending (the worker died mid-send: they are reported, never resent, since
    they may have gone). Campaign rows are swept by ``sweep_campaigns``."""
    from communications.tasks import send_delivery_task

    now = timezone.now()
    retry_before = now - timedelta(seconds=settings.EMAIL_OUTBOX_RETRY_AFTER)
    stuck_before = now - timedelta(seconds=settings.EMAIL_SENDING_TIMEOUT)
    stuck_rows = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=stuck_before)
    # Rows to a bare address forget it here too, as when they finish (see ``_finish``).
    stuck = stuck_rows.filter(user__isnull=True).update(
        status=Status.FAILED, last_error=UNCERTAIN, updated_at=now, to_email="", context={}
    ) + stuck_rows.update(status=Status.FAILED, last_error=UNCERTAIN, updated_at=now)
    requeued = 0
    left = (
        Delivery.objects.filter(
            status=Status.QUEUED, campaign__isnull=True, updated_at__lt=retry_before
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[: settings.EMAIL_SWEEP_LIMIT]
    )
    for delivery_id in left:
        send_delivery_task.delay(delivery_id)
        requeued += 1
    if stuck or requeued:
        logger.warning("outbox sweep: %d relayed again, %d uncertain", requeued, stuck)
    return {"requeued": requeued, "uncertain": stuck}
