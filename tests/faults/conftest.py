"""Fixtures of the fault suite: its marker on every test here, the moment a scenario began,
and workers with settings of their own (``own_workers``, the communications tests')."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from tests.accounts.test_signup_outage import (  # noqa: F401 - fixtures for these tests
    own_redis,
    redis_everywhere,
)
from tests.communications.conftest import own_workers  # noqa: F401 - a fixture for these tests

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test of the fault suite is marked ``faults``: ``make faults`` runs them, and
    ``make test`` leaves them out."""
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def began() -> datetime:
    """When the scenario began: what ``assert_invariants(since=...)`` checks from."""
    return timezone.now()
