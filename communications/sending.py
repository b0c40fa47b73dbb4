"""Handing rendered messages to the email backend and reading back what it said.

Three ways out, chosen by settings, all recording one result per delivery row:

- one message (transactional mail): ``send_single``;
- one MIME message per recipient over one reused connection (SMTP, or a provider without
  batch sending): ``send_individually``;
- one provider call per batch, the provider filling in each recipient's merge data and
  headers (anymail batch sending): ``send_as_batch``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from .addresses import mask_addresses_in
from .models import message_id_for
from .rendering import CampaignTemplate, Rendered

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


@dataclass(frozen=True)
class Result:
    delivery_id: int
    ok: bool
    provider_message_id: str = ""
    error: str = ""


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


def send_single(outgoing: Outgoing) -> Result:
    return send_individually([outgoing])[0]


def send_individually(messages: Sequence[Outgoing]) -> list[Result]:
    """One message per recipient, over one connection opened for the whole batch."""
    results = []
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as error:
        # Nothing was handed over, so every message failed for certain: report it as such,
        # not as an exception that leaves the rows *sending* (and later "uncertain").
        logger.warning("email connection failed, %d not sent: %s", len(messages), error)
        return [
            Result(outgoing.delivery_id, False, error=_describe(error)) for outgoing in messages
        ]
    try:
        for outgoing in messages:
            message = build_message(outgoing, connection=connection)
            try:
                message.send()
            except Exception as error:  # one refused recipient must not lose the batch
                logger.warning("delivery %s failed: %s", outgoing.delivery_id, error)
                results.append(Result(outgoing.delivery_id, False, error=_describe(error)))
                continue
            ok, provider_id = _provider_id(message, outgoing.to, outgoing.delivery_id)
            results.append(
                Result(outgoing.delivery_id, ok, provider_id, "" if ok else "refused by provider")
            )
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection is not a delivery failure
            logger.debug("closing the email connection failed", exc_info=True)
    return results


def send_as_batch(template: CampaignTemplate, recipients: Sequence[BatchRecipient]) -> list[Result]:
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
    try:
        message.send()
    except Exception as error:
        logger.warning("batch of %d failed: %s", len(recipients), error)
        return [Result(r.delivery_id, False, error=_describe(error)) for r in recipients]
    return [Result(r.delivery_id, *_accepted(message, r)) for r in recipients]


def _accepted(message: EmailMultiAlternatives, recipient: BatchRecipient) -> tuple[bool, str, str]:
    ok, provider_id = _provider_id(message, recipient.to, recipient.delivery_id)
    return ok, provider_id, "" if ok else "refused by provider"


def _describe(error: Exception) -> str:
    return mask_addresses_in(f"{type(error).__name__}: {error}")[:1000]
