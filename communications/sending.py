"""Handing rendered messages to the email backend and reading back what it said.

Three ways out, chosen by settings, all recording one result per delivery row:

- one message (transactional mail): ``send_single``;
- one MIME message per recipient over one reused connection (SMTP, or a provider without
  batch sending): ``send_individually``; for a campaign through Django's own SMTP backend,
  ``smtp_fast_path`` serialises the campaign once per batch and writes each recipient's
  values into the bytes, over the same connection loop (``each_over_one_connection``);
- one provider call per batch, the provider filling in each recipient's merge data and
  headers (anymail batch sending): ``send_as_batch``.

Each result says whether a message may have arrived. A refusal (SMTP 5xx, a provider's
rejection) is ``PERMANENT``; a failure before the message was handed over (SMTP 4xx, a
connection refused, reset or timed out before the end of DATA, HTTP 429 or 5xx) is
``TEMPORARY`` and is tried again later; no answer once the whole message was sent is
``UNCERTAIN``: it may have arrived, so it is never sent again. Over SMTP the conversation is
driven step by step (``smtp_conversation``) to tell the last two apart, a broken connection
is opened again for the next message, and a batch stops trying after a few faults in a row.
A ``Progress`` is told before each hand-over, so that the caller can record how far it got.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from .addresses import mask_addresses_in
from .models import message_id_for
from .rendering import CampaignTemplate, Rendered
from .smtp_conversation import (
    NoAnswerAfterData,
    NotHandedOver,
    Withheld,
    drop,
    open_connection,
    usable,
)

logger = logging.getLogger(__name__)

# Anymail's per-recipient statuses that mean the provider took the message.
_ACCEPTED = {"sent", "queued", "scheduled"}


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    to: str
    rendered: Rendered


@dataclass(frozen=True)
class BatchRecipient:
    delivery_id: int
    to: str
    merge_data: dict[str, str]
    headers: dict[str, str]


class Failure(StrEnum):
    """Why a message did not go, which decides what becomes of its row."""

    PERMANENT = "permanent"  # refused for this recipient: the row fails
    TEMPORARY = "temporary"  # not handed over, for now: the row is tried again later
    UNCERTAIN = "uncertain"  # handed over, no answer: it may have arrived; never resent
    NOT_TRIED = "not_tried"  # the batch stopped before it: back to the queue, no try counted


@dataclass(frozen=True)
class Result:
    delivery_id: int
    ok: bool
    provider_message_id: str = ""
    error: str = ""
    failure: Failure | None = None  # set when not ok


class Progress(Protocol):
    def begin(self, delivery_ids: Sequence[int], done: Sequence[Result]) -> bool:
        """Called before ``delivery_ids`` are handed over (one message, or a whole provider
        call), with the results known since the last call. False: stop, hand nothing more
        over (the rows are no longer this batch's)."""


class HandOver(Protocol):
    """A prepared batch's hand-over to the backend, reporting to ``progress`` as it goes."""

    def __call__(self, *, progress: Progress) -> list[Result]: ...


# Temporary or uncertain failures in a row after which a batch stops trying: the server or
# provider is in trouble, and the rest of the batch waits for a later try.
FAULTS_IN_A_ROW = 3


def batch_sending_enabled() -> bool:
    """On by default for anymail backends (and subclasses of them), off otherwise."""
    configured = getattr(settings, "EMAIL_BATCH_SEND", None)
    if configured is not None:
        return bool(configured)
    from anymail.backends.base import AnymailBaseBackend
    from django.utils.module_loading import import_string

    try:
        return issubclass(import_string(settings.EMAIL_BACKEND), AnymailBaseBackend)
    except ImportError:
        return False


def build_message(outgoing: Outgoing, *, connection=None) -> EmailMultiAlternatives:
    rendered = outgoing.rendered
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[outgoing.to],
        headers={"Message-ID": message_id_for(outgoing.delivery_id), **rendered.headers},
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _provider_id(message: EmailMultiAlternatives, to: str, delivery_id: int) -> tuple[bool, str]:
    status = getattr(message, "anymail_status", None)
    if status is None:
        # Plain SMTP: the Message-ID we set is the only id there is.
        return True, message_id_for(delivery_id)
    recipient = status.recipients.get(to.lower()) or status.recipients.get(to)
    if recipient is None:
        return bool(status.status & _ACCEPTED), str(status.message_id or "")
    return recipient.status in _ACCEPTED, str(recipient.message_id or "")


def send_single(outgoing: Outgoing, *, progress: Progress | None = None) -> Result:
    return send_individually([outgoing], progress=progress)[0]


def send_individually(
    messages: Sequence[Outgoing], *, progress: Progress | None = None
) -> list[Result]:
    """One message per recipient, over one connection opened for the whole batch."""

    def send(outgoing: Outgoing, connection) -> Result:
        message = build_message(outgoing, connection=connection)
        message.send()
        ok, provider_id = _provider_id(message, outgoing.to, outgoing.delivery_id)
        if ok:
            return Result(outgoing.delivery_id, True, provider_id)
        return Result(
            outgoing.delivery_id, False, error="refused by provider", failure=Failure.PERMANENT
        )

    return each_over_one_connection(messages, send, progress)


def each_over_one_connection(
    items: Sequence[Outgoing | BatchRecipient],
    send: Callable[..., Result],
    progress: Progress | None = None,
    *,
    overlapped: bool = False,
) -> list[Result]:
    """``send(item, connection)`` for each item over one connection, opened again after it
    broke; a send that raises fails only its own row, as ``failure_of`` the error says. After
    ``FAULTS_IN_A_ROW`` temporary or uncertain failures, or a connection that can't be
    opened, the rest are not tried. ``progress`` is told before each hand-over; with
    ``overlapped``, ``send(item, connection, begin)`` calls ``begin()`` itself once the
    conversation has started, so that the two wait at once, and raises
    ``smtp_conversation.Withheld`` if it returned False."""
    connection = get_connection(fail_silently=False)
    results: list[Result] = []
    told = None if progress is None else _Told(progress, results)
    is_open = False
    stopped = ""  # why the rest of the batch is not tried
    faults = 0
    try:
        for item in items:
            if stopped:
                results.append(Result(item.delivery_id, False, error=stopped, failure=NOT_TRIED))
                continue
            if not is_open:
                try:
                    open_connection(connection)
                    is_open = True
                except Exception as error:
                    # Nothing was handed over: this one is tried again later, the rest wait.
                    described = _describe(error)
                    logger.warning(
                        "email connection failed, %d not sent: %s",
                        len(items) - len(results),
                        described,
                    )
                    results.append(
                        Result(item.delivery_id, False, error=described, failure=Failure.TEMPORARY)
                    )
                    stopped = f"not tried: {described}"[:1000]
                    continue
            begin = None if told is None else partial(told.begin, item.delivery_id)
            if begin is not None and not overlapped and not begin():
                stopped = LOST_CLAIM
                results.append(Result(item.delivery_id, False, error=stopped, failure=NOT_TRIED))
                continue
            try:
                result = send(item, connection, begin) if overlapped else send(item, connection)
            except Withheld:
                stopped = LOST_CLAIM
                result = Result(item.delivery_id, False, error=stopped, failure=NOT_TRIED)
                is_open = usable(connection)
            except Exception as error:  # one refused recipient must not lose the batch
                if told is not None and told.raised:
                    raise  # recording the progress failed: the batch stops here, as it is
                failure = failure_of(error)
                described = _describe(error)
                logger.warning("delivery %s failed (%s): %s", item.delivery_id, failure, described)
                result = Result(item.delivery_id, False, error=described, failure=failure)
                if failure is Failure.UNCERTAIN or not usable(connection):
                    # A late answer would be read as the next message's: start afresh.
                    drop(connection)
                    is_open = False
                if _out_of_time(error):
                    stopped = "not tried: the task ran out of time"
            results.append(result)
            faults = faults + 1 if result.failure in _FAULTS else 0
            if faults >= FAULTS_IN_A_ROW and not stopped:
                stopped = f"not tried: {faults} failures in a row, the last: {result.error}"[:1000]
    finally:
        if is_open:
            try:
                connection.close()
            except Exception:  # closing a broken connection is not a delivery failure
                logger.debug("closing the email connection failed", exc_info=True)
    return results


class _Told:
    """How much of a batch's results its progress has been told, and whether telling it
    failed (then the batch stops as it is)."""

    def __init__(self, progress: Progress, results: list[Result]) -> None:
        self.progress, self.results = progress, results
        self.count = 0
        self.raised = False

    def begin(self, delivery_id: int) -> bool:
        try:
            held = self.progress.begin([delivery_id], self.results[self.count :])
        except BaseException:
            self.raised = True
            raise
        self.count = len(self.results)
        return held


NOT_TRIED = Failure.NOT_TRIED
LOST_CLAIM = "not tried: the batch lost its claim"
_FAULTS = {Failure.TEMPORARY, Failure.UNCERTAIN}


def _out_of_time(error: BaseException) -> bool:
    from celery.exceptions import SoftTimeLimitExceeded

    return any(isinstance(e, SoftTimeLimitExceeded) for e in _chain(error))


def _chain(error: BaseException | None):
    seen = 0
    while error is not None and seen < 10:
        yield error
        error = error.__cause__ or error.__context__
        seen += 1


# --- What a failure means ----------------------------------------------------------------------


def failure_of(error: BaseException) -> Failure:
    """What an exception from a send means for its row."""
    if isinstance(error, NoAnswerAfterData):
        return Failure.UNCERTAIN
    if isinstance(error, NotHandedOver):
        return Failure.TEMPORARY
    if _out_of_time(error):
        return Failure.TEMPORARY  # raised before the hand-over, or wrapped above
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return (
            Failure.TEMPORARY if codes and all(400 <= c < 500 for c in codes) else Failure.PERMANENT
        )
    if isinstance(error, smtplib.SMTPConnectError):
        return Failure.TEMPORARY
    if isinstance(error, smtplib.SMTPResponseException):
        return Failure.TEMPORARY if 400 <= error.smtp_code < 500 else Failure.PERMANENT
    provider = _provider_failure(error)
    if provider is not None:
        return provider
    if isinstance(error, (ConnectionRefusedError, socket.gaierror)):
        return Failure.TEMPORARY  # no connection, so nothing handed over
    if isinstance(error, smtplib.SMTPException) and not isinstance(
        error, smtplib.SMTPServerDisconnected
    ):
        return Failure.PERMANENT  # e.g. SMTPUTF8 needed and not offered
    if isinstance(error, OSError):
        # A connection lost at a moment nobody recorded: the message may have gone.
        return Failure.UNCERTAIN
    return Failure.PERMANENT


def _provider_failure(error: BaseException) -> Failure | None:
    """An anymail provider's answer: HTTP 429 or 5xx, or a connection that never reached it,
    is temporary; no response to a request that was sent is uncertain; other errors refuse."""
    from anymail.exceptions import AnymailAPIError, AnymailError

    if not isinstance(error, AnymailError):
        return None
    status = getattr(error, "status_code", None)
    if isinstance(error, AnymailAPIError) and status is not None:
        return Failure.TEMPORARY if status in (408, 429) or status >= 500 else Failure.PERMANENT
    try:
        import requests
    except ImportError:  # pragma: no cover - anymail's requests backends need it
        return Failure.PERMANENT
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return Failure.TEMPORARY
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = str(error)
        if "NewConnectionError" in reason or "NameResolutionError" in reason:
            return Failure.TEMPORARY
        return Failure.UNCERTAIN  # dropped while the request was out
    if isinstance(error, requests.exceptions.Timeout):
        return Failure.UNCERTAIN  # sent, no answer in time
    return Failure.PERMANENT


def send_as_batch(
    template: CampaignTemplate,
    recipients: Sequence[BatchRecipient],
    *,
    progress: Progress | None = None,
) -> list[Result]:
    """One provider call for the batch, with merge data and headers per recipient."""
    if not recipients:
        return []
    merge_format = getattr(settings, "EMAIL_MERGE_FIELD_FORMAT", "{{FIELD}}")
    provider_template = template.with_merge_format(merge_format)
    message = EmailMultiAlternatives(
        subject=provider_template.subject,
        body=provider_template.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.to for recipient in recipients],
    )
    message.attach_alternative(provider_template.html, "text/html")
    # Anymail reads its batch attributes off any EmailMessage; Django's stubs don't know them.
    message.merge_data = {  # type: ignore[attr-defined]
        recipient.to: recipient.merge_data for recipient in recipients
    }
    message.merge_headers = {  # type: ignore[attr-defined]
        recipient.to: {"Message-ID": message_id_for(recipient.delivery_id), **recipient.headers}
        for recipient in recipients
    }
    message.merge_metadata = {  # type: ignore[attr-defined]
        recipient.to: {"delivery_id": str(recipient.delivery_id)} for recipient in recipients
    }
    if progress is not None and not progress.begin([r.delivery_id for r in recipients], []):
        error = "not tried: the batch lost its claim"
        return [Result(r.delivery_id, False, error=error, failure=NOT_TRIED) for r in recipients]
    try:
        message.send()
    except Exception as error:
        failure = failure_of(error)
        logger.warning("batch of %d failed (%s): %s", len(recipients), failure, _describe(error))
        return [
            Result(r.delivery_id, False, error=_describe(error), failure=failure)
            for r in recipients
        ]
    return [_accepted(message, r) for r in recipients]


def _accepted(message: EmailMultiAlternatives, recipient: BatchRecipient) -> Result:
    ok, provider_id = _provider_id(message, recipient.to, recipient.delivery_id)
    if ok:
        return Result(recipient.delivery_id, True, provider_id)
    return Result(
        recipient.delivery_id, False, error="refused by provider", failure=Failure.PERMANENT
    )


def _describe(error: Exception) -> str:
    return mask_addresses_in(f"{type(error).__name__}: {error}")[:1000]
