"""Celery tasks of the accounts app: thin, named, idempotent; each calls one service."""

from __future__ import annotations

from celery import Task, shared_task

from accounts.services.privacy import (
    ConfirmationPending,
    complete_pending_erasures,
    erase_account,
)

# While the confirmation email waits (provider down), ask again this often.
RETRY_EVERY = 60


@shared_task(name="accounts.erase_account", bind=True, max_retries=None)
def erase_account_task(self: Task[[int], bool], user_id: int) -> bool:
    try:
        return erase_account(user_id=user_id)
    except ConfirmationPending as pending:
        raise self.retry(countdown=RETRY_EVERY, exc=pending) from pending


@shared_task(name="accounts.complete_pending_erasures")
def complete_pending_erasures_task() -> list[int]:
    return complete_pending_erasures()
