"""Unsubscribes by email: the ``mailto:`` half of ``List-Unsubscribe``.

A mail client that can't POST the one-click URL sends an email to ``EMAIL_UNSUBSCRIBE_MAILTO``
with the subject ``unsubscribe <delivery id>``; the provider hands it to us through
django-anymail's inbound webhook. The sender must be the address the email went to, so nobody
can unsubscribe someone else by guessing numbers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from django.db import transaction

from communications.addresses import normalise_address
from communications.models import Delivery
from communications.rendering import unsubscribe_mailto
from consent.services import ConsentSource
from privacy_site.masking import mask_address

from .unsubscribe import unsubscribe_from_delivery

logger = logging.getLogger(__name__)

_SUBJECT = re.compile(r"\bunsubscribe\s+(\d+)\b", re.IGNORECASE)


@transaction.atomic
def unsubscribe_by_email(*, sender: str, recipients: Iterable[str], subject: str) -> str:
    """Withdraw what the quoted email was sent under; returns what was done."""
    mailbox = normalise_address(unsubscribe_mailto())
    if mailbox not in {normalise_address(address) for address in recipients}:
        return "not addressed to the unsubscribe mailbox"
    match = _SUBJECT.search(subject or "")
    if match is None:
        return "no delivery named in the subject"
    delivery = Delivery.objects.select_related("user").filter(pk=int(match.group(1))).first()
    if delivery is None or delivery.user is None:
        return "unknown delivery"
    user = delivery.user
    if normalise_address(sender) != normalise_address(user.email):
        logger.warning(
            "unsubscribe email for delivery %s came from %s, not its recipient",
            delivery.pk,
            mask_address(sender),
        )
        return "sender is not the recipient"
    unsubscribed = unsubscribe_from_delivery(
        subject=user, source=ConsentSource.MAILTO_UNSUBSCRIBE, delivery_id=delivery.pk
    )
    return str(unsubscribed)
