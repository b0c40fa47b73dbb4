"""The referral email: rendered from the sealed details, and handed over to the email backend
in one SMTP conversation (or one provider call) that says whether the message may have
arrived, as every other send does (``communications.sending.failure_of``).

Unlike the outbox's sending, nothing here logs or keeps an error's words: a server's refusal
often quotes the recipient's address. A failure is described by its kind and code only.
"""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from communications.kinds import MessageKind
from communications.models import message_id_domain
from communications.rendering import Rendered, render_transactional
from communications.sending import Failure, Result, failure_of
from communications.smtp_conversation import drop, open_connection, usable

from .sealing import Sealed

_LINK_SALT = "communications.referral-link"
_ACCEPTED = {"sent", "queued", "scheduled"}


def tracked_url(token: str, target: str = "") -> str:
    """The link in the email: counts a click on ``token``, then goes to ``target`` (signed,
    so the link can't be made to send anyone elsewhere), or the home page."""
    url = settings.SITE_URL + reverse("referral-link", args=[token])
    if target:
        url += "?" + urlencode({"to": signing.Signer(salt=_LINK_SALT).sign(target)})
    return url


def target_of(signed: str) -> str | None:
    try:
        return signing.Signer(salt=_LINK_SALT).unsign(signed)
    except signing.BadSignature:
        return None


@sensitive_variables("details")
def render_referral(*, token: str, details: Sealed) -> Rendered:
    context = {
        "friend_name": details.friend_name,
        "sender_name": details.sender_name,
        "message": details.message,
        "items": [
            {"name": item.name, "url": tracked_url(token, item.url) if item.url else ""}
            for item in details.items
        ],
        "visit_url": tracked_url(token),
    }
    return render_transactional(kind=MessageKind.REFERRAL, user=None, context=context)


def message_id(referral_id: int) -> str:
    return f"<referral-{referral_id}@{message_id_domain()}>"


@sensitive_variables("to", "rendered")
def hand_over(
    *, referral_id: int, to: str, rendered: Rendered, begin: Callable[[], bool]
) -> Result:
    """Send one message; ``begin`` is called once the connection is open, just before the
    message is handed over (it records that the hand-over began), and False from it stops."""
    connection = get_connection(fail_silently=False)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id(referral_id), **rendered.headers},
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    try:
        open_connection(connection)
    except Exception as error:  # nothing handed over: try again later
        return Result(referral_id, False, error=describe(error), failure=Failure.TEMPORARY)
    try:
        if not begin():
            return Result(
                referral_id, False, error="the send lost its claim", failure=Failure.NOT_TRIED
            )
        message.send()
        status = getattr(message, "anymail_status", None)
        if status is not None and not (status.status & _ACCEPTED):
            return Result(
                referral_id, False, error="refused by provider", failure=Failure.PERMANENT
            )
        return Result(referral_id, True, message_id(referral_id))
    except Exception as error:
        failure = failure_of(error)
        if failure is Failure.UNCERTAIN or not usable(connection):
            drop(connection)
        return Result(referral_id, False, error=describe(error), failure=failure)
    finally:
        # Closing a broken connection is not a send failure.
        with contextlib.suppress(Exception):
            connection.close()


def describe(error: BaseException) -> str:
    """The kind of error and the server's code(s), never its words."""
    codes: list[int] = []
    if isinstance(error, smtplib.SMTPResponseException):
        codes = [error.smtp_code]
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        codes = [status]
    suffix = f" {','.join(map(str, codes))}" if codes else ""
    return f"{type(error).__name__}{suffix}"[:200]
