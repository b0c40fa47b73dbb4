"""A provider event names its delivery by our id in its metadata or by our Message-ID; a
value that is not a plain number names none, and the event is still processed."""

from __future__ import annotations

from anymail.signals import AnymailTrackingEvent

from communications.models import message_id_for
from communications.services import process_provider_event, record_provider_event


def test_a_provider_event_naming_a_delivery_by_a_digit_that_is_not_0_to_9_is_processed(db):
    # "²" passes str.isdigit but not int(): the event is processed as naming no delivery
    # (and the one named by our Message-ID "delivery-²@..." likewise), never an error
    for n, (metadata, message_id) in enumerate(
        [({"delivery_id": "²"}, ""), ({}, message_id_for(1).replace("1@", "²@"))]
    ):
        event = record_provider_event(
            event=AnymailTrackingEvent(
                event_type="bounced",
                message_id=message_id,
                recipient="ann@example.com",
                event_id=f"odd-digit-{n}",
                metadata=metadata,
            ),
            esp_name="postmark",
        )
        outcome = process_provider_event(event_id=event.pk)
        assert "no delivery" in outcome or "suppressed" in outcome, outcome
