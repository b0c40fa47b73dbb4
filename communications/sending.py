"""Handing rendered messages to the email backend and reading back what it said.

Three ways out, chosen by settings, all recording one result per delivery row:

- one message (transactional mail): ``send_single``;
- one MIME message per recipient over one reused connection (SMTP, or a provider without
  batch sending): ``send_individually``; for a campaign, ``individual_hand_over`` picks it, or
  with Django's own SMTP backend ``send_merged``, which serialises the campaign once per batch
  and writes each recipient's values into the bytes;
- one provider call per batch, the provider filling in each recipient's merge data and
  headers (anymail batch sending): ``send_as_batch``.

Each result says whether a message may have arrived. A refusal (SMTP 5xx, a provider's
rejection) is ``PERMANENT``; a failure before the message was handed over (SMTP 4xx, a
connection refused, reset or timed out before the end of DATA, HTTP 429 or 5xx) is
``TEMPORARY`` and is tried again later; no answer once the whole message was sent is
``UNCERTAIN``: it may have arrived, so it is never sent again. Over SMTP the conversation is
driven step by step (``phased_sendmail``) to tell the last two apart, a broken connection is
opened again for the next message, and a batch stops trying after a few faults in a row.
A ``Progress`` is told before each hand-over, so that the caller can record how far it got.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import smtplib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from enum import StrEnum
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import (
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    forbid_multi_line_headers,
    sanitize_address,
)

from .addresses import mask_addresses_in
from .models import message_id_for
from .rendering import MERGE_FIELDS, CampaignTemplate, Rendered, merge_field

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

    return _each_over_one_connection(messages, send, progress)


def _each_over_one_connection(
    items: Sequence[Outgoing | BatchRecipient],
    send: Callable[..., Result],
    progress: Progress | None = None,
) -> list[Result]:
    """``send(item, connection)`` for each item over one connection, opened again after it
    broke; a send that raises fails only its own row, as ``failure_of`` the error says. After
    ``FAULTS_IN_A_ROW`` temporary or uncertain failures, or a connection that can't be
    opened, the rest are not tried."""
    connection = get_connection(fail_silently=False)
    results: list[Result] = []
    reported = 0
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
                    _open(connection)
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
            if progress is not None:
                if not progress.begin([item.delivery_id], results[reported:]):
                    stopped = "not tried: the batch lost its claim"
                    results.append(
                        Result(item.delivery_id, False, error=stopped, failure=NOT_TRIED)
                    )
                    continue
                reported = len(results)
            try:
                result = send(item, connection)
            except Exception as error:  # one refused recipient must not lose the batch
                failure = failure_of(error)
                described = _describe(error)
                logger.warning("delivery %s failed (%s): %s", item.delivery_id, failure, described)
                result = Result(item.delivery_id, False, error=described, failure=failure)
                if failure is Failure.UNCERTAIN or not _usable(connection):
                    # A late answer would be read as the next message's: start afresh.
                    _drop(connection)
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


NOT_TRIED = Failure.NOT_TRIED
_FAULTS = {Failure.TEMPORARY, Failure.UNCERTAIN}


def _open(connection) -> None:
    connection.open()
    smtp = _smtp_of(connection)
    if smtp is not None:
        # Every message through this connection, Django's own sends included, goes step by
        # step, so that a failure says whether the server may have the message.
        smtp.sendmail = lambda *args, **kwargs: phased_sendmail(smtp, *args, **kwargs)


def _smtp_of(connection) -> smtplib.SMTP | None:
    from django.core.mail.backends.smtp import EmailBackend

    if isinstance(connection, EmailBackend) and isinstance(connection.connection, smtplib.SMTP):
        return connection.connection
    return None


def _usable(connection) -> bool:
    from django.core.mail.backends.smtp import EmailBackend

    if isinstance(connection, EmailBackend):
        smtp = connection.connection
        return smtp is not None and getattr(smtp, "sock", None) is not None
    return True


def _drop(connection) -> None:
    """Forget a connection that broke or may hold a late answer, without saying QUIT (which
    would wait for that answer)."""
    from django.core.mail.backends.smtp import EmailBackend

    try:
        if isinstance(connection, EmailBackend):
            smtp, connection.connection = connection.connection, None
            if smtp is not None:
                smtp.close()
        else:
            connection.close()
    except Exception:
        logger.debug("dropping the email connection failed", exc_info=True)


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


class NotHandedOver(smtplib.SMTPException):
    """The connection failed before the end of the message was sent: the server drops a
    message it did not get whole, so it can be sent again."""


class NoAnswerAfterData(smtplib.SMTPException):
    """The whole message was sent, and no answer came: the server may have kept it."""


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


_LEADING_DOT = re.compile(rb"(?m)^\.")


def phased_sendmail(
    smtp: smtplib.SMTP,
    from_addr: str,
    to_addrs: str | Sequence[str],
    msg: bytes | str,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
) -> dict:
    """``smtplib.SMTP.sendmail``, step by step, telling apart where a failure happened: a
    refusal raises smtplib's own exception (the server's code says temporary or not); the
    connection failing before the message's final "." raises ``NotHandedOver``; no answer
    after it, ``NoAnswerAfterData``. Like sendmail, a 421 closes the connection and another
    refusal resets it."""
    if isinstance(msg, str):
        msg = re.sub(r"(?:\r\n|\n|\r(?!\n))", "\r\n", msg).encode("ascii")
    recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
    try:
        smtp.ehlo_or_helo_if_needed()
        options = []
        if smtp.does_esmtp:
            if smtp.has_extn("size"):
                options.append(f"size={len(msg)}")
            options.extend(mail_options)
        code, reply = smtp.mail(from_addr, options)
        if code != 250:
            _after_refusal(smtp, code)
            raise smtplib.SMTPSenderRefused(code, reply, from_addr)
        refused = {}
        for address in recipients:
            code, reply = smtp.rcpt(address, rcpt_options)
            if code not in (250, 251):
                refused[address] = (code, reply)
            if code == 421:
                smtp.close()
                raise smtplib.SMTPRecipientsRefused(refused)
        if len(refused) == len(recipients):
            _after_refusal(smtp, 0)
            raise smtplib.SMTPRecipientsRefused(refused)
        code, reply = smtp.docmd("data")
        if code != 354:
            _after_refusal(smtp, code)
            raise smtplib.SMTPDataError(code, reply)
        data = _LEADING_DOT.sub(b"..", msg)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        smtp.send(data + b".\r\n")
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
        raise  # the server's answer: its code says what it means
    except OSError as error:  # smtplib's own errors are OSErrors too, disconnection included
        smtp.close()
        raise NotHandedOver(f"{type(error).__name__}: {error}") from error
    try:
        code, reply = smtp.getreply()
    except Exception as error:  # a timeout, a reset, the task's time limit
        smtp.close()
        raise NoAnswerAfterData(
            f"no answer after the message was sent ({type(error).__name__}: {error})"
        ) from error
    if code != 250:
        _after_refusal(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _after_refusal(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


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
    message.merge_data = {recipient.to: recipient.merge_data for recipient in recipients}
    message.merge_headers = {
        recipient.to: {"Message-ID": message_id_for(recipient.delivery_id), **recipient.headers}
        for recipient in recipients
    }
    message.merge_metadata = {
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


# --- A campaign over SMTP: one MIME message per recipient, serialised once per batch -----------
#
# Django builds and flattens a whole MIME tree for every message, which is most of the CPU an
# SMTP campaign costs. The campaign's body is the same bytes for every recipient but for the
# merge values, so it is serialised once, exactly as Django's SMTP backend would, and each
# recipient's message is those bytes with the values written in and its own few headers.
# Anything the bytes can't stand for (a quoted-printable part, a value that would change how
# Django encodes the message) goes the whole way through Django instead, per recipient or for
# the whole batch: the messages are the same either way, and tests compare them.

_CRLF = b"\r\n"
_FIELD_IN_TEXT = re.compile("|".join(re.escape(merge_field(name)) for name in MERGE_FIELDS))
_NAMES = frozenset(MERGE_FIELDS)
_FIELD_BY_TEXT = {merge_field(name): name for name in MERGE_FIELDS}
_FIELD_BY_PLACEHOLDER = {placeholder.encode(): name for placeholder, name in _FIELD_BY_TEXT.items()}
_FIELD_IN_BYTES = re.compile(b"(" + b"|".join(map(re.escape, _FIELD_BY_PLACEHOLDER)) + b")")
# Whatever str.splitlines() splits at: a value holding one would change Django's line count.
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# An address sanitize_address() hands back unchanged (dot-atom local part, ASCII domain with
# labels IDNA accepts as they are); anything else goes through sanitize_address() itself.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]{{1,63}}(?:\.[A-Za-z0-9-]{{1,63}})*"
)
# Headers written per recipient; the rest of the top-level block is the same for the batch.
_PER_RECIPIENT = {"subject", "to", "date", "message-id"}
# Headers EmailMessage.message() sets itself or treats specially: a recipient's own headers
# named so go through Django.
_OWN_HEADERS = _PER_RECIPIENT | {
    "from", "cc", "bcc", "reply-to", "content-type", "mime-version", "content-transfer-encoding"
}  # fmt: skip


def smtp_merge_available() -> bool:
    """True when mail goes through Django's SMTP backend (or a subclass that only changes how
    it connects): then ``send_merged`` hands smtplib the very bytes the backend would."""
    from django.core.mail.backends.smtp import EmailBackend
    from django.utils.module_loading import import_string

    if settings.DEFAULT_CHARSET != "utf-8":  # Django encodes other charsets differently
        return False
    try:
        backend = import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return False
    return (
        isinstance(backend, type)
        and issubclass(backend, EmailBackend)
        and backend.send_messages is EmailBackend.send_messages
        and backend._send is EmailBackend._send
    )


def rendered_for(template: CampaignTemplate, recipient: BatchRecipient) -> Rendered:
    """A recipient's message rendered in full (what ``rendering.personalise`` returns)."""
    return template.for_recipient(recipient.merge_data, recipient.headers)


def individual_hand_over(
    template: CampaignTemplate, recipients: Sequence[BatchRecipient]
) -> Callable[..., list[Result]]:
    """Everything a batch of one message per recipient needs before it is handed over,
    done now; returns the hand-over. Through Django's SMTP backend the campaign is serialised
    once (``MergedMessage``); otherwise, or if its serialisation can't be reused, each
    recipient's message is rendered here and built by Django when sent."""
    merged = MergedMessage.compile(template, recipients) if smtp_merge_available() else None
    if merged is not None:
        return lambda progress=None: send_merged(merged, recipients, progress=progress)
    outgoing = [Outgoing(r.delivery_id, r.to, rendered_for(template, r)) for r in recipients]
    return lambda progress=None: send_individually(outgoing, progress=progress)


@dataclass(frozen=True)
class _MergedPart:
    """One text part of the serialised campaign: its delimiter and headers, then its body cut
    at the merge fields."""

    head: bytes
    # The head when a merge value isn't ASCII: Django labels such a part 8bit, not 7bit.
    head_8bit: bytes
    literals: tuple[bytes, ...]  # one more than ``fields``: text, field, text, ... text
    fields: tuple[str, ...]
    is_html: bool
    # The lines of the payload holding merge fields, for Django's long-line rule (a line over
    # 998 bytes makes the part quoted-printable): (bytes without the fields, their names).
    lines: tuple[tuple[int, tuple[str, ...]], ...]

    def write(self, texts: dict[str, str], out: list[bytes]) -> bool:
        """Append this part for one recipient's values; False if Django would encode it
        otherwise than the template's part (a long line)."""
        if self.is_html:
            texts = {name: html.escape(value) for name, value in texts.items()}
        encoded = {name: value.encode() for name, value in texts.items()}
        for length, names in self.lines:
            if length + sum(len(encoded[name]) for name in names) > RFC5322_EMAIL_LINE_LENGTH_LIMIT:
                return False
        ascii_only = all(texts[name].isascii() for name in self.fields)
        out.append(self.head if ascii_only else self.head_8bit)
        literals = self.literals
        out.append(literals[0])
        for index, name in enumerate(self.fields, start=1):
            out.append(encoded[name])
            out.append(literals[index])
        return True


@dataclass
class MergedMessage:
    """A campaign serialised once by Django as its SMTP backend sends it, with the places of
    the per-recipient headers and merge values known; ``message_for`` writes one recipient's
    message. Built by ``compile``, which returns None for a message it can't stand for."""

    template: CampaignTemplate
    envelope_from: str
    header_names: tuple[str, ...]
    # The top-level header block in order: folded bytes, or the name of a per-recipient header.
    headers: tuple[bytes | str, ...]
    fold: Callable[[str, str], bytes]
    subject: tuple[str, ...]  # literal, field name, literal, ..., literal (_split_fields)
    boundary: str
    parts: tuple[_MergedPart, ...]
    closing: bytes
    _folded: dict[tuple[str, str], bytes] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def compile(
        cls, template: CampaignTemplate, recipients: Sequence[BatchRecipient]
    ) -> MergedMessage | None:
        header_names = tuple(recipients[0].headers) if recipients else ()
        if any(name.lower() in _OWN_HEADERS for name in header_names):
            return None
        email_message = build_message(
            Outgoing(
                0,
                "merge@example.invalid",
                Rendered(
                    subject=template.subject,
                    text=template.text,
                    html=template.html,
                    headers=dict.fromkeys(header_names, "merge"),
                ),
            )
        )
        sample = email_message.message()
        raw = sample.as_bytes(linesep="\r\n")  # as django.core.mail.backends.smtp sends it
        policy = sample.policy.clone(linesep="\r\n")
        parts = sample.get_payload()
        if (
            sample.get_content_type() != "multipart/alternative"
            or sample.preamble is not None
            or sample.epilogue is not None
            or not isinstance(parts, list)
            or [part.get_content_type() for part in parts] != ["text/plain", "text/html"]
        ):
            return None
        # The header block, folded header by header as the generator does it, must be what
        # the generator wrote: then a recipient's headers, folded the same way, are too.
        separator = raw.find(_CRLF + _CRLF)
        folded = [(name, policy.fold_binary(name, value)) for name, value in sample.raw_items()]
        if separator < 0 or b"".join(block for _, block in folded) != raw[: separator + 2]:
            return None
        end_of_headers = separator + 2
        delimiter = b"--" + sample.get_boundary().encode()
        body = raw[end_of_headers + 2 :]
        opening, closing = delimiter + _CRLF, _CRLF + delimiter + b"--" + _CRLF
        if not (body.startswith(opening) and body.endswith(closing)):
            return None
        texts = body[len(opening) : -len(closing)].split(_CRLF + delimiter + _CRLF)
        if len(texts) != 2:
            return None
        merged_parts = []
        for part, text, payload, lead in zip(
            parts, texts, (template.text, template.html), (opening, _CRLF + opening), strict=True
        ):
            merged_part = _merged_part(part, text, payload, lead)
            if merged_part is None:
                return None
            merged_parts.append(merged_part)
        return cls(
            template=template,
            envelope_from=sanitize_address(email_message.from_email, settings.DEFAULT_CHARSET),
            header_names=header_names,
            headers=tuple(
                name if name.lower() in _PER_RECIPIENT or name in header_names else block
                for name, block in folded
            ),
            fold=policy.fold_binary,
            subject=_split_fields(template.subject),
            boundary=sample.get_boundary(),
            parts=tuple(merged_parts),
            closing=closing,
        )

    def message_for(self, recipient: BatchRecipient) -> bytes | None:
        """The recipient's message as Django's SMTP backend would send it (but for its Date
        and the boundary), or None if only Django can write it: a value with a line break,
        a field of its own or the boundary in it, a line made too long, other headers."""
        values = recipient.merge_data
        if tuple(recipient.headers) != self.header_names or not values.keys() <= _NAMES:
            return None
        for value in values.values():
            # "[[": the slow path replaces fields one after another, so a value holding one
            # would be filled in again.
            if "[[" in value or self.boundary in value or _LINE_BREAK.search(value):
                return None
        texts = {name: values.get(name, merge_field(name)) for name in MERGE_FIELDS}
        out = self._headers(recipient, texts)
        for part in self.parts:
            if not part.write(texts, out):
                return None
        out.append(self.closing)
        return b"".join(out)

    def _headers(self, recipient: BatchRecipient, texts: dict[str, str]) -> list[bytes]:
        out = []
        for item in self.headers:
            if isinstance(item, bytes):
                out.append(item)
                continue
            name = item.lower()
            if name == "subject":
                subject = self.subject
                value = "".join(
                    texts[piece] if index % 2 else piece for index, piece in enumerate(subject)
                )
                out.append(self._fold_cached(item, value))
            elif name == "to":
                out.append(self._fold(item, recipient.to))
            elif name == "date":
                out.append(self._fold(item, formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
            elif name == "message-id":
                out.append(self._fold(item, message_id_for(recipient.delivery_id)))
            else:
                out.append(self._fold_cached(item, recipient.headers[item]))
        out.append(_CRLF)
        return out

    def _fold(self, name: str, value: str) -> bytes:
        # What EmailMessage.message() stores, then what the generator writes.
        return self.fold(*forbid_multi_line_headers(name, value, settings.DEFAULT_CHARSET))

    def _fold_cached(self, name: str, value: str) -> bytes:
        """The same subject (most first names repeat) or header folded once per batch."""
        key = (name, value)
        folded = self._folded.get(key)
        if folded is None:
            folded = self._folded[key] = self._fold(name, value)
        return folded


def _merged_part(part, text: bytes, payload: str, lead: bytes) -> _MergedPart | None:
    """``text`` (a part as serialised: headers, blank line, body) cut at the merge fields, if
    the body went out as it is (7bit or 8bit) with every field of ``payload`` intact."""
    encoding = part.get("Content-Transfer-Encoding")
    separator = text.find(_CRLF + _CRLF)
    if encoding not in ("7bit", "8bit") or separator < 0:
        return None
    head, body = text[: separator + 4], text[separator + 4 :]
    pieces = _FIELD_IN_BYTES.split(body)
    fields = tuple(_FIELD_BY_PLACEHOLDER[piece] for piece in pieces[1::2])
    if _FIELD_IN_BYTES.search(head) or fields != _fields_in(payload):
        return None
    head_8bit = head
    if encoding == "7bit":
        label = b"Content-Transfer-Encoding: 7bit\r\n"
        if head.count(label) != 1:
            return None
        head_8bit = head.replace(label, b"Content-Transfer-Encoding: 8bit\r\n")
    lines = []
    for line in payload.splitlines():  # as SafeMIMEText.set_payload measures them
        names = _fields_in(line)
        if names:
            placeholders = sum(len(merge_field(name)) for name in names)
            lines.append((len(line.encode(errors="surrogateescape")) - placeholders, names))
    return _MergedPart(
        head=lead + head,
        head_8bit=lead + head_8bit,
        literals=tuple(pieces[0::2]),
        fields=fields,
        is_html=part.get_content_type() == "text/html",
        lines=tuple(lines),
    )


def _fields_in(text: str) -> tuple[str, ...]:
    return tuple(_FIELD_BY_TEXT[found] for found in _FIELD_IN_TEXT.findall(text))


def _split_fields(text: str) -> tuple[str, ...]:
    """``text`` as literal, field name, literal, ..., literal."""
    pieces = _FIELD_IN_TEXT.split(text)
    names = _fields_in(text)
    out = [pieces[0]]
    for name, piece in zip(names, pieces[1:], strict=True):
        out += [name, piece]
    return tuple(out)


def _envelope_address(address: str) -> str:
    """What Django's SMTP backend gives smtplib for an address: ``sanitize_address``, whose
    parser costs more than the rest of a message, skipped when it would change nothing."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    return sanitize_address(address, settings.DEFAULT_CHARSET)


def send_merged(
    merged: MergedMessage,
    recipients: Sequence[BatchRecipient],
    *,
    progress: Progress | None = None,
) -> list[Result]:
    """``send_individually`` for a campaign through Django's SMTP backend: the same messages
    over one connection opened for the batch, each one written from ``merged``'s bytes (or by
    Django, for a recipient they can't stand for) and handed to smtplib."""

    def send(recipient: BatchRecipient, connection) -> Result:
        data = merged.message_for(recipient)
        if data is None:
            outgoing = Outgoing(
                recipient.delivery_id, recipient.to, rendered_for(merged.template, recipient)
            )
            build_message(outgoing, connection=connection).send()
        else:
            phased_sendmail(
                connection.connection, merged.envelope_from, [_envelope_address(recipient.to)], data
            )
        # Plain SMTP: the Message-ID we set is the only id there is.
        return Result(recipient.delivery_id, True, message_id_for(recipient.delivery_id))

    return _each_over_one_connection(recipients, send, progress)


def _describe(error: Exception) -> str:
    return mask_addresses_in(f"{type(error).__name__}: {error}")[:1000]
