"""Fixtures shared by the communications tests."""

from __future__ import annotations

import pytest

from tests.communications.people import people_in_every_state


@pytest.fixture
def people(db, smtp) -> dict[str, object]:
    """One person in every state the policy-change notices tell apart (see ``people.py``)."""
    return people_in_every_state()
