"""Small helpers shared by HTTP tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from django.core import signing
from django.test import Client

DAY = 24 * 3600


def made_days_ago(monkeypatch: pytest.MonkeyPatch, days: int, make: Callable[[], str]) -> str:
    """A signed value made ``days`` ago, by moving only the signing module's clock back."""
    past = time.time() - days * DAY
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", SimpleNamespace(time=lambda: past))
        return make()


def text(response) -> str:
    """A response's body with its whitespace collapsed, for phrase assertions."""
    return " ".join(response.content.decode().split())


def logged_in(user, client_class: type[Client] = Client, **defaults) -> Client:
    """A test client (``APIClient`` too, as ``client_class``) with ``user`` logged in."""
    client = client_class(**defaults)
    client.force_login(user)
    return client
