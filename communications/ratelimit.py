"""A send-rate limit shared by every worker: a token bucket in Redis, one per provider.

``EMAIL_RATE_LIMITS`` maps a provider name (``smtp``, ``postmark``, ``test``; see
``provider_name``) or ``default`` to messages per second; 0 or absent means unlimited. The
bucket holds up to one second's worth of tokens, so a burst never exceeds the rate by more
than that. Without Redis (``REDIS_URL`` unset, the embedded development setup) each process
keeps its own bucket.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

# KEYS[1] bucket; ARGV: rate/s, capacity, tokens wanted, now (s). Returns seconds to wait:
# 0 when the tokens were taken, else how long until they will be there (nothing is taken).
_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
else
  wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""


def provider_name(backend: str | None = None) -> str:
    """``anymail.backends.postmark.EmailBackend`` → ``postmark``; Django's → ``smtp`` etc."""
    path = backend or settings.EMAIL_BACKEND
    parts = path.split(".")
    return parts[-2] if len(parts) >= 2 else path


def rate_for(provider: str) -> float:
    limits = getattr(settings, "EMAIL_RATE_LIMITS", {}) or {}
    return float(limits.get(provider, limits.get("default", 0)) or 0)


@dataclass
class _LocalBucket:
    tokens: float
    at: float


_local_buckets: dict[str, _LocalBucket] = {}
_local_lock = threading.Lock()
_script = None


def _redis_script():
    global _script
    if _script is None:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        _script = client.register_script(_LUA)
    return _script


def _try_take(provider: str, rate: float, wanted: int) -> float:
    capacity = max(rate, float(wanted))
    now = time.time()
    if getattr(settings, "REDIS_URL", ""):
        return float(
            _redis_script()(keys=[f"email-rate:{provider}"], args=[rate, capacity, wanted, now])
        )
    with _local_lock:
        bucket = _local_buckets.setdefault(provider, _LocalBucket(capacity, now))
        bucket.tokens = min(capacity, bucket.tokens + max(0.0, now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= wanted:
            bucket.tokens -= wanted
            return 0.0
        return (wanted - bucket.tokens) / rate


def acquire(count: int, *, provider: str | None = None) -> float:
    """Block until ``count`` messages may go; returns the seconds spent waiting."""
    provider = provider or provider_name()
    rate = rate_for(provider)
    if rate <= 0 or count <= 0:
        return 0.0
    waited = 0.0
    # Take at most one second's worth at a time, so a large batch can't starve the others.
    chunk = max(1, int(rate))
    remaining = count
    while remaining > 0:
        wanted = min(chunk, remaining)
        wait = _try_take(provider, rate, wanted)
        if wait <= 0:
            remaining -= wanted
            continue
        time.sleep(wait)
        waited += wait
    return waited
