"""Whether the real services the suite needs are up.

In CI (``CI=true``) a missing service fails the run; elsewhere the tests that need it are
skipped with a reason, so a laptop without Redis can still run the rest.
"""

from __future__ import annotations

import functools
import os
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@functools.cache
def postgres_problem(url: str) -> str | None:
    import psycopg2

    parts = urlsplit(url)
    try:
        psycopg2.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or "",
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:
        return f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is unreachable: {exc}".strip()
    return None


@functools.cache
def redis_problem(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        return f"Redis at {url} is unreachable: {exc}"
    return None


@functools.cache
def chromium_problem(path: str) -> str | None:
    if not os.access(path, os.X_OK):
        return f"Chromium is not installed at {path} (apt-get install chromium)"
    return None


def require(problem: str | None) -> None:
    """Fail (in CI) or skip (elsewhere) the calling test when a service is missing."""
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"required service missing in CI: {problem}", pytrace=False)
    pytest.skip(problem)
