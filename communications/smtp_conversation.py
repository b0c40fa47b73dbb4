"""Talking SMTP so that a failure says whether the server may have the message.

``smtplib.SMTP.sendmail`` raises the same errors whether the connection broke before the
message was handed over (safe to send again) or after its final "." (the server may have
kept it). ``phased_sendmail`` drives the conversation step by step to tell the two apart, and
the connection helpers make every message through a connection, Django's own sends included,
go that way; a connection that broke, or may still hold a late answer, is dropped without
QUIT and opened again for the next message.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import smtplib
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)


class NotHandedOver(smtplib.SMTPException):
    """The connection failed before the end of the message was sent: the server drops a
    message it did not get whole, so it can be sent again."""


class NoAnswerAfterData(smtplib.SMTPException):
    """The whole message was sent, and no answer came: the server may have kept it."""


_LEADING_DOT = re.compile(rb"(?m)^\.")
# An address both parsers read back unchanged (dot-atom local part, a domain of letters,
# digits and hyphens whose labels IDNA accepts as they are): ``smtplib.quoteaddr`` only puts
# it in angle brackets, and Django's ``sanitize_address`` returns it as it is.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]{{1,63}}(?:\.[A-Za-z0-9-]{{1,63}})*"
)


class Withheld(smtplib.SMTPException):
    """The caller withheld the message before it was handed over (its claim on the row is
    gone); the connection is dropped, as it may be waiting for the message."""


def phased_sendmail(
    smtp: smtplib.SMTP,
    from_addr: str,
    to_addrs: str | Sequence[str],
    msg: bytes | str,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
    *,
    before_hand_over: Callable[[], bool] | None = None,
) -> dict:
    """``smtplib.SMTP.sendmail``, step by step, telling apart where a failure happened: a
    refusal raises smtplib's own exception (the server's code says temporary or not); the
    connection failing before the message's final "." raises ``NotHandedOver``; no answer
    after it, ``NoAnswerAfterData``. Like sendmail, a 421 closes the connection and another
    refusal resets it.

    A server that offers PIPELINING (RFC 2920) gets MAIL, RCPT and DATA in one write, and
    their answers are read together: one round trip instead of two or more.
    ``before_hand_over`` is called while the server answers the first command(s), before
    the message is sent; if it returns False, ``Withheld`` is raised and nothing is sent."""
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
        plain = not any(option.lower() == "smtputf8" for option in options)
        envelope = (smtp, from_addr, options, recipients, rcpt_options, before_hand_over)
        if plain and smtp.does_esmtp and smtp.has_extn("pipelining"):
            refused = _pipelined_envelope(*envelope)
        else:
            refused = _envelope(*envelope, plain=plain)
        # Dot-stuffing, skipped by a search that costs less than the substitution.
        data = _LEADING_DOT.sub(b"..", msg) if msg[:1] == b"." or b"\n." in msg else msg
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        smtp.send(data + b".\r\n")
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, Withheld):
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


def quoted_address(address: str) -> str:
    """``smtplib.quoteaddr(address)``, without parsing a plain address (its parser is most of
    the CPU of an envelope); any other address parsed once per process."""
    if PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return _quoteaddr(address)


@functools.lru_cache(maxsize=256)
def _quoteaddr(address: str) -> str:
    return smtplib.quoteaddr(address)


def _withhold_unless(smtp: smtplib.SMTP, before_hand_over: Callable[[], bool] | None) -> None:
    if before_hand_over is None:
        return
    try:
        held = before_hand_over()
    except BaseException:
        smtp.close()  # commands are out and their answers unread
        raise
    if not held:
        smtp.close()
        raise Withheld("the message was withheld before it was handed over")


def _envelope(smtp, from_addr, options, recipients, rcpt_options, before_hand_over, *, plain):
    """MAIL, each RCPT and DATA, one answer at a time; ``before_hand_over`` runs while the
    server answers MAIL (or before it, for an SMTPUTF8 message, which smtplib words)."""
    if plain:
        suffix = " " + " ".join(options) if options else ""
        smtp.putcmd("mail", f"from:{quoted_address(from_addr)}{suffix}")
        _withhold_unless(smtp, before_hand_over)
        code, reply = smtp.getreply()
    else:
        _withhold_unless(smtp, before_hand_over)
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
    return refused


def _pipelined_envelope(smtp, from_addr, options, recipients, rcpt_options, before_hand_over):
    """MAIL, each RCPT and DATA in one write, then their answers. A refusal among them is
    raised as ``_envelope`` raises it; if the server said 354 to DATA all the same, the
    connection is dropped rather than sending a message that must not go."""
    suffix = " " + " ".join(options) if options else ""
    rcpt_suffix = " " + " ".join(rcpt_options) if rcpt_options else ""
    lines = [f"mail from:{quoted_address(from_addr)}{suffix}"]
    lines += [f"rcpt to:{quoted_address(address)}{rcpt_suffix}" for address in recipients]
    lines.append("data")
    if any("\r" in line or "\n" in line for line in lines):
        raise ValueError("a line break in an envelope address or option")
    smtp.send("".join(f"{line}\r\n" for line in lines))
    _withhold_unless(smtp, before_hand_over)
    mail_code, mail_reply = smtp.getreply()
    refused, closing = {}, False
    for address in recipients:
        code, reply = smtp.getreply()
        if code not in (250, 251):
            refused[address] = (code, reply)
        closing = closing or code == 421
    data_code, data_reply = smtp.getreply()
    failed = mail_code != 250 or len(refused) == len(recipients) or data_code != 354
    if failed and (data_code == 354 or closing or 421 in (mail_code, data_code)):
        smtp.close()  # waiting for a message, or closing: start afresh
    elif failed:
        _after_refusal(smtp, 0)
    if mail_code != 250:
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, from_addr)
    if closing or len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    if data_code != 354:
        raise smtplib.SMTPDataError(data_code, data_reply)
    return refused


def _after_refusal(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


# --- The connection a batch sends over ---------------------------------------------------------


def open_connection(connection) -> None:
    """Open an email backend's connection; over SMTP, every message through it then goes
    step by step (``phased_sendmail``)."""
    connection.open()
    smtp = _smtp_of(connection)
    if smtp is not None:
        # Replaced on this connection's own object, which the type checker doesn't expect.
        smtp.sendmail = lambda *args, **kwargs: phased_sendmail(  # type: ignore[method-assign]
            smtp, *args, **kwargs
        )


def _smtp_of(connection) -> smtplib.SMTP | None:
    from django.core.mail.backends.smtp import EmailBackend

    if isinstance(connection, EmailBackend) and isinstance(connection.connection, smtplib.SMTP):
        return connection.connection
    return None


def usable(connection) -> bool:
    from django.core.mail.backends.smtp import EmailBackend

    if isinstance(connection, EmailBackend):
        smtp = connection.connection
        return smtp is not None and getattr(smtp, "sock", None) is not None
    return True


def drop(connection) -> None:
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
