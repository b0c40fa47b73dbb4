"""The accounts app's handler for the retention schedule (``retention.schedule``)."""

from __future__ import annotations

from accounts.services.privacy import forget_unverified_account


def forget_unverified_accounts(pks: list[int]) -> int:
    """Pseudonymise each never-verified account (selected and locked by the job)."""
    for user_id in pks:
        forget_unverified_account(user_id=user_id)
    return len(pks)
