"""A customer sends their wishlist to a friend: checked, counted against the daily limit,
recorded as a ``Referral`` with nothing of the friend, and queued with the friend's details
sealed in the task's argument (see ``communications.referrals``)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from communications.gate import may_send
from communications.kinds import MessageKind
from communications.referrals.models import Referral
from communications.referrals.rules import message_problem, name_problem, wishlist_problem
from communications.referrals.sealing import Sealed, WishlistItem, seal
from privacy_site.auth_user import AuthUser

logger = logging.getLogger(__name__)

Status = Referral.Status
DAY = timedelta(hours=24)


class ReferralRefused(ValueError):
    """A wishlist that can't go; the message says why, for the sender. Nothing was written."""


class TooManyReferrals(ReferralRefused):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def sender_name_of(sender: AuthUser) -> str:
    return " ".join(sender.get_full_name().split())


@sensitive_variables("friend_name", "friend_email", "message", "items", "details", "sealed")
def send_wishlist(
    *,
    sender: AuthUser,
    friend_name: str,
    friend_email: str,
    items: Sequence[WishlistItem],
    message: str = "",
) -> Referral:
    """Send ``items`` to the friend, once; returns the referral.

    Raises ``ReferralRefused`` (with what to change) for a wishlist the rules refuse, and
    ``TooManyReferrals`` past ``REFERRAL_DAILY_LIMIT`` in 24 hours; nothing is written then.
    An address on the do-not-email list gets nothing (status *suppressed*), and the sender is
    not told so. If the broker can't take the task the referral is *not queued* and the
    sender must be told to try again: the details are gone, and nothing could send it later.
    """
    friend_name = " ".join(friend_name.split())
    friend_email = friend_email.strip()
    message = "\n".join(line.rstrip() for line in message.strip().splitlines())
    items = [
        WishlistItem(name=" ".join(item.name.split()), url=item.url.strip())
        for item in items
        if item.name.strip() or item.url.strip()
    ]
    _check(sender, friend_name, friend_email, message, items)
    allowed = may_send(MessageKind.REFERRAL, None, email=friend_email)
    now = timezone.now()
    with transaction.atomic():
        _check_daily_limit(sender, now)
        referral = Referral.objects.create(
            token=secrets.token_urlsafe(16),
            sender=sender,
            created_at=now,
            status=Status.QUEUED if allowed else Status.SUPPRESSED,
            finished_at=None if allowed else now,
            last_error="" if allowed else allowed.reason,
        )
        if allowed:
            details = Sealed(
                friend_name=friend_name,
                friend_email=friend_email,
                sender_name=sender_name_of(sender),
                message=message,
                items=tuple(items),
            )
            sealed = seal(details)
            transaction.on_commit(lambda: queue_delivery(referral, sealed))
    return referral


@sensitive_variables("friend_name", "friend_email", "message", "items")
def _check(
    sender: AuthUser,
    friend_name: str,
    friend_email: str,
    message: str,
    items: list[WishlistItem],
) -> None:
    sender_name = sender_name_of(sender)
    if not sender_name:
        raise ReferralRefused("Add your name in Your details first: the email says who sent it.")
    if name_problem(sender_name, what="your name"):
        # The sender's name is in the subject and the body: it must not carry a link either.
        raise ReferralRefused("Your name in Your details can't contain a link or a web address.")
    if not friend_name:
        raise ReferralRefused("Enter your friend's name.")
    try:
        validate_email(friend_email)
    except ValidationError:
        raise ReferralRefused("Enter a valid email address for your friend.") from None
    problem = (
        name_problem(friend_name, what="your friend's name")
        or message_problem(message)
        or wishlist_problem(items)
    )
    if problem:
        raise ReferralRefused(problem)


def _check_daily_limit(sender: AuthUser, now: datetime) -> None:
    """Under the sender's row lock, so two sends at once can't both take the last place."""
    user_model = get_user_model()
    list(user_model.objects.select_for_update().filter(pk=sender.pk).values_list("pk", flat=True))
    counted = Referral.objects.filter(sender=sender, created_at__gt=now - DAY).exclude(
        status=Status.NOT_QUEUED
    )
    limit = settings.REFERRAL_DAILY_LIMIT
    times = list(counted.order_by("created_at").values_list("created_at", flat=True)[:limit])
    if len(times) >= limit:
        retry_after = max(1, int((times[0] + DAY - now).total_seconds()) + 1)
        raise TooManyReferrals(
            f"You have sent {limit} wishlists in the last 24 hours, the most we allow. "
            f"You can send another in {_in_words(retry_after)}.",
            retry_after=retry_after,
        )


def _in_words(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = max(1, rest // 60) if not hours else rest // 60
    if hours:
        return f"{hours} hour{'s' * (hours != 1)} {minutes} minute{'s' * (minutes != 1)}"
    return f"{minutes} minute{'s' * (minutes != 1)}"


@sensitive_variables("sealed")
def queue_delivery(referral: Referral, sealed: str) -> bool:
    """Hand the sealed send to the broker, once the referral is committed. False, and the
    referral is *not queued*, when the broker could not take it."""
    try:
        publish(referral.pk, sealed)
    except Exception as error:
        logger.warning(
            "referral %s not queued (%s); the sender is asked to try again",
            referral.pk,
            type(error).__name__,
        )
        Referral.objects.filter(pk=referral.pk, status=Status.QUEUED).update(
            status=Status.NOT_QUEUED,
            finished_at=timezone.now(),
            last_error=f"not queued: {type(error).__name__}",
        )
        referral.status = Status.NOT_QUEUED
        return False
    return True


@sensitive_variables("sealed")
def publish(referral_id: int, sealed: str, *, countdown: float | None = None) -> None:
    """Queue the delivery task. Its printed arguments (``argsrepr``: the worker's log,
    monitoring events) show the referral's id only; the sealed details are in the message's
    body alone, which the broker drops once the task is acknowledged."""
    from communications.referrals.tasks import deliver_referral_task

    # Celery's own options, which its type stubs don't list.
    options: dict[str, Any] = {"argsrepr": f"({referral_id}, '<sealed>')", "kwargsrepr": "{}"}
    if countdown is not None:
        options["countdown"] = countdown
    deliver_referral_task.apply_async((referral_id, sealed), **options)
