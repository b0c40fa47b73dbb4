"""Liveness of the parts a request or a send depends on: the database and the Celery broker."""

import logging

from django.conf import settings
from django.db import connections

from .celery import app as celery_app

logger = logging.getLogger(__name__)

OK = "ok"


def check_database() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is "down", never a 500
        logger.warning("health: database check failed: %s", exc)
        return f"error: {type(exc).__name__}"
    return OK


def check_broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.HEALTHZ_BROKER_TIMEOUT)
            # Open a channel too: a TCP accept alone does not prove the broker answers.
            conn.default_channel  # noqa: B018
    except Exception as exc:
        logger.warning("health: broker check failed: %s", exc)
        return f"error: {type(exc).__name__}"
    return OK


def check_all() -> dict[str, str]:
    return {"database": check_database(), "broker": check_broker()}
