"""Fixtures shared by the communications tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from unittest import mock

import pytest

from tests.communications.people import people_in_every_state
from tests.harness.worker import WorkerProcess


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


@pytest.fixture
def own_workers(celery_worker_session: WorkerProcess, worker_factory) -> Iterator[Callable]:
    """Start workers with settings of their own, ``own_workers(EMAIL_BATCH_SIZE=20)``
    (``name=``, ``concurrency=`` 2 unless told), while the session worker stands aside, so
    every task of the test runs with those settings."""
    with celery_worker_session.paused():
        yield lambda name="campaign", concurrency=2, **env: worker_factory(
            name=name, concurrency=concurrency, extra_env={k: str(v) for k, v in env.items()}
        )
