"""Sessions in the database with a copy in the cache (Django's ``cached_db``), the engine
when ``REDIS_URL`` is set: a request reads its session from Redis instead of PostgreSQL.

The database stays the record. With Redis down each cache call fails open (a miss, see
``privacy_site.cache``) and the session is read from and written to the database alone, so
logging in, signing up and every page go on working. A copy in the cache is kept at most
``SESSION_CACHE_TIMEOUT`` seconds (and never past the session's own expiry): a logout made
while Redis could not be reached removes the session from the database only, and its copy,
should Redis come back with it, is gone within that time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db


class _CappedTimeouts:
    """The session cache, with every timeout cut to ``SESSION_CACHE_TIMEOUT``."""

    def __init__(self, cache: Any) -> None:
        self._cache = cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cache, name)

    def __contains__(self, key: str) -> bool:
        return key in self._cache

    def _cap(self, timeout: int | None) -> int:
        cap = settings.SESSION_CACHE_TIMEOUT
        return cap if timeout is None else min(timeout, cap)

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._cache.set(key, value, self._cap(timeout))

    async def aset(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return await self._cache.aset(key, value, self._cap(timeout))


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        # (django-stubs leave the parent's attribute untyped)
        self._cache = _CappedTimeouts(self._cache)  # type: ignore[has-type]
