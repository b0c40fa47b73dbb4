"""An anymail backend for benchmarks: anymail's own test backend, minus the outbox.

``anymail.backends.test.EmailBackend`` keeps every message in ``django.core.mail.outbox`` and
uses ``outbox.index(message)`` as the message id: memory grows without bound and each send
costs a scan of the outbox. This subclass still runs anymail's whole send path (address
parsing, payload building with merge data, merge headers and metadata, recipient statuses),
then keeps nothing: it adds the recipients handed over to a Redis counter and answers each
recipient with its own message id, taken from that counter.
"""

from __future__ import annotations

from functools import cached_property

from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.message import AnymailRecipientStatus
from django.conf import settings

# Redis keys (on settings.REDIS_URL) a benchmark reads and resets.
RECIPIENTS_KEY = "bench:anymail-sink:recipients"
CALLS_KEY = "bench:anymail-sink:calls"


class EmailBackend(AnymailTestBackend):
    esp_name = "Test"

    @cached_property
    def _redis(self):
        import redis

        return redis.Redis.from_url(settings.REDIS_URL)

    def post_to_esp(self, payload, message):
        payload.get_params()  # what a real backend would serialise for its API call
        recipients = payload.recipient_emails
        pipe = self._redis.pipeline(transaction=False)
        pipe.incrby(RECIPIENTS_KEY, len(recipients))
        pipe.incr(CALLS_KEY)
        last, _ = pipe.execute()
        first = last - len(recipients) + 1
        return {
            "recipient_status": {
                email: AnymailRecipientStatus(message_id=f"sink-{first + i}", status="sent")
                for i, email in enumerate(recipients)
            }
        }


def counts(client) -> dict[str, int]:
    """Recipients and provider calls the sink received, read with a Redis client."""
    recipients, calls = client.mget(RECIPIENTS_KEY, CALLS_KEY)
    return {"recipients": int(recipients or 0), "calls": int(calls or 0)}


def reset(client) -> None:
    client.delete(RECIPIENTS_KEY, CALLS_KEY)


class FlakyBackend(AnymailTestBackend):
    """Anymail's test backend (messages kept in ``django.core.mail.outbox``) whose provider
    answers the next ``FlakyBackend.fail_next`` calls with an HTTP error, as a provider that
    is rate-limiting (429) or down (503) does. In-process only: set it, send, read."""

    esp_name = "Test"
    fail_next: list[int] = []  # shared by every instance, on purpose
    calls = 0

    def post_to_esp(self, payload, message):
        import requests
        from anymail.exceptions import AnymailRequestsAPIError

        type(self).calls += 1
        if FlakyBackend.fail_next:
            # What anymail's HTTP backends raise for an error response.
            response = requests.Response()
            response.status_code = FlakyBackend.fail_next.pop(0)
            response.reason = requests.status_codes._codes[response.status_code][0]
            response._content = b'{"message": "try later"}'
            raise AnymailRequestsAPIError(
                "Test API error",
                status_code=response.status_code,
                response=response,
                email_message=message,
                backend=self,
            )
        return super().post_to_esp(payload, message)
