"""Settings the sending pipeline depends on, checked at start-up (``manage.py check``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def sending_timeout_outlasts_tasks(app_configs, **kwargs) -> list[Error]:
    """A row claimed by a batch still running must not be declared uncertain: the sending
    timeout has to be longer than any task may run."""
    timeout = settings.EMAIL_SENDING_TIMEOUT
    limit = settings.CELERY_TASK_TIME_LIMIT
    if timeout <= limit:
        return [
            Error(
                f"EMAIL_SENDING_TIMEOUT ({timeout}s) must be longer than "
                f"CELERY_TASK_TIME_LIMIT ({limit}s).",
                hint="Raise EMAIL_SENDING_TIMEOUT, or lower CELERY_TASK_TIME_LIMIT.",
                id="communications.E001",
            )
        ]
    return []
