"""Fixtures shared by the communications tests."""

from __future__ import annotations

from unittest import mock

import pytest

from tests.communications.people import people_in_every_state


@pytest.fixture
def people(db, smtp) -> dict[str, object]:
    """One person in every state the policy-change notices tell apart (see ``people.py``)."""
    return people_in_every_state()


@pytest.fixture
def locmem_email(settings) -> None:
    """Emails sent in this process go to ``django.core.mail.outbox``; links point at the shop."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://shop.example"


@pytest.fixture
def relay_off():
    """The outbox relay is a Celery task; with it held here, tests send the rows themselves
    (``send_delivery``). Yields the mock of ``send_delivery_task.delay``."""
    with (
        mock.patch("communications.tasks.send_delivery_task.delay") as delay,
        mock.patch("communications.tasks.send_delivery_task.apply_async"),
    ):
        yield delay
