"""The accounts app's handler for the retention schedule (``retention.schedule``)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.services.privacy import forget_unverified_account
from retention.engine import not_held
from retention.schedule import BY_KEY


def forget_unverified_accounts(pks: list[int]) -> int:
    """Pseudonymise each never-verified account (selected and locked by the job).

    The job chose them a moment ago, and a verification link followed since changes an
    address row, not the account's (which the job locks). So each account's address rows
    are locked too, and the rule is asked again: an account verified, confirmed by a
    newsletter link or put under a legal hold since it was chosen is kept. An account whose
    address row a verification holds right now is left for the next run (waiting for it
    could deadlock with the verification, which locks the account after the address)."""
    addresses = EmailAddress.objects.filter(user_id__in=pks)
    locked = set(addresses.select_for_update(skip_locked=True).values_list("pk", flat=True))
    busy = {user_id for pk, user_id in addresses.values_list("pk", "user_id") if pk not in locked}
    now = timezone.now()
    rule = BY_KEY["unverified_accounts"]
    still_due = set(
        not_held(rule, rule.due(now), now)
        .filter(pk__in=[pk for pk in pks if pk not in busy])
        .values_list("pk", flat=True)
    )
    for user_id in pks:
        if user_id in still_due:
            forget_unverified_account(user_id=user_id)
    return len(still_due)
