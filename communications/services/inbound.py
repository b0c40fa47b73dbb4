"""Unsubscribes by email: the ``mailto:`` half of ``List-Unsubscribe``.

A mail client that can't POST the one-click URL sends an email to ``EMAIL_UNSUBSCRIBE_MAILTO``
with the subject ``unsubscribe <delivery id> <code>``, as the ``List-Unsubscribe`` header gave
it; the provider hands it to us through django-anymail's inbound webhook. The code is a keyed
hash of the delivery id (``rendering.unsubscribe_mailto_code``) that only the email we sent
carries, and the sender must be the address the email went to. A ``From:`` header is written
by whoever sends the email, so the sender alone proves nothing: without the code nobody can
unsubscribe someone else by writing their address and counting through delivery ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from django.db import transaction

from communications.addresses import normalise_address
from communications.models import Delivery
from communications.rendering import (
    MAILTO_CODE_LENGTH,
    unsubscribe_mailto,
    unsubscribe_mailto_code_matches,
)
from consent.services import ConsentSource
from privacy_site.masking import mask_address

from .unsubscribe import unsubscribe_from_delivery

logger = logging.getLogger(__name__)

_SUBJECT = re.compile(
    rf"\bunsubscribe\s+([0-9]{{1,19}})(?:\s+([0-9a-f]{{{MAILTO_CODE_LENGTH}}}))?\b",
    re.IGNORECASE | re.ASCII,
)


@transaction.atomic
def unsubscribe_by_email(*, sender: str, recipients: Iterable[str], subject: str) -> str:
    """Withdraw what the quoted email was sent under; returns what was done."""
    mailbox = normalise_address(unsubscribe_mailto())
    if mailbox not in {normalise_address(address) for address in recipients}:
        return "not addressed to the unsubscribe mailbox"
    match = _SUBJECT.search(subject or "")
    if match is None:
        return "no delivery named in the subject"
    reference, code = match.group(1), match.group(2)
    if code is None or not unsubscribe_mailto_code_matches(reference, code):
        logger.warning(
            "unsubscribe email naming delivery %s from %s without its code",
            reference,
            mask_address(sender),
        )
        return "no valid code in the subject"
    delivery = Delivery.objects.select_related("user").filter(pk=int(reference)).first()
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
