"""Telling the parties that received a person's data that the person corrected or erased it
(UK GDPR Article 19).

``notify_recipients_of_correction`` and ``notify_recipients_of_erasure`` run in the
transaction of the correction or erasure: they read the disclosure log and write one
``RecipientNotification`` per party that received the data concerned, so a correction that
rolls back tells nobody and one that commits is never forgotten. Each notice goes the way the
register says:

- an endpoint (``notification_url``): a worker POSTs a signed JSON notice
  (``sharing.notice_signing``); 2xx is notified, a timeout, a connection failure, 408, 429 or
  5xx is tried again with a backoff until ``SHARING_NOTIFICATION_MAX_ATTEMPTS``, anything
  else (a refusal, a redirect) fails at once;
- an address (``notification_email``): the email is written to the communications outbox in
  the same transaction, and the worker records what became of it (sent, retried by the
  outbox, or failed);
- neither: the notice waits as *to notify* for staff, who record how they told the party
  (``record_notified_by_hand``).

Workers claim a notice with ``SELECT ... FOR UPDATE SKIP LOCKED`` and move it to *sending*
before anything goes, so a task run twice sends once. The sweep (beat, every minute) starts
notices whose task was lost or whose retry is due, takes back claims whose worker is gone,
and forgets each notified notice's references after ``REFERENCES_KEPT_AFTER_NOTICE``.
"""

from __future__ import annotations

from .creating import (
    ANSWER_KEPT,
    EMAIL_WAIT,
    REFERENCES_KEPT_AFTER_NOTICE,
    RETRY_TASK_HORIZON,
    SWEEP_LIMIT,
    SWEEP_UNTRIED_AFTER,
    NotificationError,
    notify_recipients_of_correction,
    notify_recipients_of_erasure,
)
from .sending import (
    notice_payload,
    send_notification,
)
from .sweep import (
    record_notified_by_hand,
    sweep_notifications,
)

__all__ = [
    "ANSWER_KEPT",
    "EMAIL_WAIT",
    "REFERENCES_KEPT_AFTER_NOTICE",
    "RETRY_TASK_HORIZON",
    "SWEEP_LIMIT",
    "SWEEP_UNTRIED_AFTER",
    "NotificationError",
    "notice_payload",
    "notify_recipients_of_correction",
    "notify_recipients_of_erasure",
    "record_notified_by_hand",
    "send_notification",
    "sweep_notifications",
]
