"""Celery tasks of the wishlist referrals: thin, named, idempotent. Registered through
``communications.tasks``, which imports them.

``deliver_referral`` keeps no result (``ignore_result``): nothing of the send reaches the
result backend. Its argument is the referral's id and the sealed details, which the broker
can't read; its printed arguments (``argsrepr``, set by ``publish``) show the id only.
"""

from __future__ import annotations

from celery import shared_task

from .services import deliver_referral, sweep_referrals


@shared_task(name="communications.deliver_referral", ignore_result=True)
def deliver_referral_task(referral_id: int, sealed: str) -> str:
    return deliver_referral(referral_id=referral_id, sealed=sealed)


@shared_task(name="communications.sweep_referrals")
def sweep_referrals_task() -> dict[str, int]:
    return sweep_referrals()
