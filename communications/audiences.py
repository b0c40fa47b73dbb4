"""Who a notice of a policy change or a business transition may reach.

The definitions (docs/CONSENT.md) live in ``consent.selectors``, which knows the ledger; this
module adds what only the communications app knows: a spam complaint about an address is a
"no" even when there was no consent to withdraw, and it suppresses the address.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from consent.selectors import (
    opted_in_to_communications,
    opted_out_of_all_communication,
    present_subjects,
)
from privacy_site.auth_user import AuthUser

from .addresses import address_hash
from .kinds import NoticeAudience
from .models import Suppression

__all__ = ["NoticeAudience", "in_audience", "notice_subjects", "opted_out_of_all_ids"]


def complained_ids(users: Sequence[AuthUser]) -> set[int]:
    """Users whose current address is suppressed by a spam complaint."""
    hashes = {address_hash(user.email): user.pk for user in users}
    found = Suppression.objects.filter(
        address_hash__in=list(hashes), reason=Suppression.Reason.COMPLAINT
    ).values_list("address_hash", flat=True)
    return {hashes[hashed] for hashed in found}


def opted_out_of_all_ids(users: Sequence[AuthUser]) -> set[int]:
    """Of ``users``, those opted out of all communication (complaints included)."""
    ids = [user.pk for user in users]
    if not ids:
        return set()
    said_no = opted_out_of_all_communication(get_user_model().objects.filter(pk__in=ids))
    said_no_ids = set(said_no.values_list("pk", flat=True))
    # A complaint counts as a no only while nothing is granted (a later yes overrides it).
    opted_in = opted_in_ids(users)
    return said_no_ids | (complained_ids(users) - opted_in)


def opted_in_ids(users: Sequence[AuthUser]) -> set[int]:
    ids = [user.pk for user in users]
    if not ids:
        return set()
    subjects = get_user_model().objects.filter(pk__in=ids)
    return set(opted_in_to_communications(subjects).values_list("pk", flat=True))


def in_audience(audience: str, users: Sequence[AuthUser]) -> set[int]:
    """Of ``users`` (present ones: the gate refuses the gone first), those ``audience`` reaches."""
    if audience == NoticeAudience.OPTED_IN:
        return opted_in_ids(users)
    if audience == NoticeAudience.NOT_OPTED_OUT:
        return {user.pk for user in users} - opted_out_of_all_ids(users)
    raise ValueError(f"Unknown notice audience {audience!r}.")


def notice_subjects(
    audience: str, subjects: QuerySet[AuthUser] | None = None
) -> QuerySet[AuthUser]:
    """The audience as a query, for walking it in keyset batches: present subjects the
    audience reaches by the ledger. Complaints and every other address rule are applied by
    the gate, row by row, when the rows are written and again when they are sent."""
    present = present_subjects(subjects)
    if audience == NoticeAudience.OPTED_IN:
        return opted_in_to_communications(present)
    if audience == NoticeAudience.NOT_OPTED_OUT:
        return present.exclude(pk__in=opted_out_of_all_communication(present).values("pk"))
    raise ValueError(f"Unknown notice audience {audience!r}.")
