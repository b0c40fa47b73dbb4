"""A campaign over Django's SMTP backend: one MIME message per recipient, serialised once per
batch.

Django builds and flattens a whole MIME tree for every message, which is most of the CPU an
SMTP campaign costs. The campaign's body is the same bytes for every recipient but for the
merge values, so it is serialised once, exactly as Django's SMTP backend would, and each
recipient's message is those bytes with the values written in and its own few headers.
Anything the bytes can't stand for (a quoted-printable part, a value that would change how
Django encodes the message) goes the whole way through Django instead, per recipient or for
the whole batch: the messages are the same either way, and tests compare them.

``individual_hand_over`` is the way in. The bytes lean on how Django's SMTP backend and
``EmailMessage`` serialise a message: ``smtp_merge_available`` and ``MergedMessage.compile``
check that they still do, and leave the batch to ``sending.send_individually`` when not.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate

from django.conf import settings
from django.core.mail.message import (
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    SafeMIMEMultipart,
    sanitize_address,
)

from .models import message_id_for
from .rendering import MERGE_FIELDS, CampaignTemplate, Rendered, merge_field
from .sending import (
    BatchRecipient,
    HandOver,
    Outgoing,
    Progress,
    Result,
    build_message,
    each_over_one_connection,
    send_individually,
)
from .smtp_conversation import PLAIN_ADDRESS, Withheld, phased_sendmail
from .smtp_headers import HeaderFolder

_CRLF = b"\r\n"
_FIELD_IN_TEXT = re.compile("|".join(re.escape(merge_field(name)) for name in MERGE_FIELDS))
_NAMES = frozenset(MERGE_FIELDS)
_FIELD_BY_TEXT = {merge_field(name): name for name in MERGE_FIELDS}
_FIELD_BY_PLACEHOLDER = {placeholder.encode(): name for placeholder, name in _FIELD_BY_TEXT.items()}
_FIELD_IN_BYTES = re.compile(b"(" + b"|".join(map(re.escape, _FIELD_BY_PLACEHOLDER)) + b")")
# Whatever str.splitlines() splits at: a value holding one would change Django's line count.
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
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
        # A private method, which Django's stubs leave out.
        and backend._send is EmailBackend._send  # type: ignore[attr-defined]
    )


def rendered_for(template: CampaignTemplate, recipient: BatchRecipient) -> Rendered:
    """A recipient's message rendered in full (what ``rendering.personalise`` returns)."""
    return template.for_recipient(recipient.merge_data, recipient.headers)


def individual_hand_over(
    template: CampaignTemplate, recipients: Sequence[BatchRecipient]
) -> HandOver:
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
    fold: HeaderFolder
    subject: tuple[str, ...]  # literal, field name, literal, ..., literal (_split_fields)
    boundary: str
    parts: tuple[_MergedPart, ...]
    closing: bytes

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
        if not isinstance(sample, SafeMIMEMultipart):  # a message with no alternative part
            return None
        raw = sample.as_bytes(linesep="\r\n")  # as django.core.mail.backends.smtp sends it
        policy = sample.policy.clone(linesep="\r\n")
        parts = sample.get_payload()
        if (
            sample.get_content_type() != "multipart/alternative"
            or sample.preamble is not None
            or sample.epilogue is not None
            or not isinstance(parts, list)
            or [part.get_content_type() if isinstance(part, Message) else "" for part in parts]
            != ["text/plain", "text/html"]
        ):
            return None
        # The header block, folded header by header as the generator does it, must be what
        # the generator wrote: then a recipient's headers, folded the same way, are too.
        separator = raw.find(_CRLF + _CRLF)
        folded = [(name, policy.fold_binary(name, value)) for name, value in sample.raw_items()]
        if separator < 0 or b"".join(block for _, block in folded) != raw[: separator + 2]:
            return None
        end_of_headers = separator + 2
        boundary = sample.get_boundary()
        if boundary is None:
            return None
        delimiter = b"--" + boundary.encode()
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
            fold=HeaderFolder(policy.fold_binary),
            subject=_split_fields(template.subject),
            boundary=boundary,
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
                out.append(self.fold.cached(item, value))
            elif name == "to":
                out.append(self.fold(item, recipient.to))
            elif name == "date":
                out.append(self.fold(item, formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
            elif name == "message-id":
                out.append(self.fold(item, message_id_for(recipient.delivery_id)))
            else:
                out.append(self.fold(item, recipient.headers[item]))
        out.append(_CRLF)
        return out


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
    if PLAIN_ADDRESS.fullmatch(address):
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

    def send(recipient: BatchRecipient, connection, begin: Callable[[], bool] | None) -> Result:
        data = merged.message_for(recipient)
        if data is None:
            if begin is not None and not begin():
                raise Withheld("the batch lost its claim")
            outgoing = Outgoing(
                recipient.delivery_id, recipient.to, rendered_for(merged.template, recipient)
            )
            build_message(outgoing, connection=connection).send()
        else:
            # The claim's progress is written while the server answers the envelope.
            phased_sendmail(
                connection.connection,
                merged.envelope_from,
                [_envelope_address(recipient.to)],
                data,
                before_hand_over=begin,
            )
        # Plain SMTP: the Message-ID we set is the only id there is.
        return Result(recipient.delivery_id, True, message_id_for(recipient.delivery_id))

    return each_over_one_connection(recipients, send, progress, overlapped=True)
