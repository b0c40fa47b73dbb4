"""The cache backend when ``REDIS_URL`` is set: django-redis, failing open when Redis is down.

With ``IGNORE_EXCEPTIONS`` django-redis turns every failed call into a miss and logs it
(``DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS``). That makes ``add`` answer ``None``, "not added",
which allauth's rate limiter reads as "its lock is held by someone else": it waits, gives up
and refuses the request (429), so a Redis outage would refuse every sign-up and login. Here a
failed ``add`` answers "added" instead: with the cache gone, rate limits let requests through.
"""

from __future__ import annotations

from typing import Any

from django_redis.cache import RedisCache


class FailOpenRedisCache(RedisCache):
    def add(self, *args: Any, **kwargs: Any) -> bool:
        added = super().add(*args, **kwargs)
        return True if added is None else added
