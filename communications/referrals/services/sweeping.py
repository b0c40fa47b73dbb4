"""Giving up sends that can no longer be made: their sealed details are older than
``REFERRAL_SEND_WINDOW``, so no task can open them any more, and nothing else holds them."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from communications.referrals.models import Referral

logger = logging.getLogger(__name__)

Status = Referral.Status


def sweep_referrals() -> dict[str, int]:
    """Queued sends past the window never went (their task was lost with the broker's data,
    or never picked up): *expired*. Sends left *sending* past it went if their hand-over had
    begun (*uncertain*), else not (*expired*). Returns how many of each."""
    now = timezone.now()
    too_old = now - timedelta(seconds=settings.REFERRAL_SEND_WINDOW)
    old = Referral.objects.filter(created_at__lt=too_old)
    closed = {"finished_at": now, "handing_over": False, "holder_db_pid": None}
    expired = old.filter(status=Status.QUEUED).update(
        status=Status.EXPIRED, last_error="not sent within the send window", **closed
    )
    expired += old.filter(status=Status.SENDING, handing_over=False).update(
        status=Status.EXPIRED, last_error="its worker stopped before sending it", **closed
    )
    uncertain = old.filter(status=Status.SENDING, handing_over=True).update(
        status=Status.UNCERTAIN,
        last_error="its worker stopped while handing it over; it may have arrived",
        **closed,
    )
    if expired or uncertain:
        logger.warning("referral sweep: %d expired, %d uncertain", expired, uncertain)
    return {"expired": expired, "uncertain": uncertain}
