"""Searching everywhere the system keeps anything for a piece of text: every text, JSON and
binary column of every table in the database (sessions decoded), log output, and every key
and value in Redis (Celery's messages decoded). For proving that a friend's details, sent a
wishlist, were kept nowhere."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator

import redis
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea", "ARRAY")


def _columns() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = ANY(%s) ORDER BY 1, 2",
            [list(TEXT_TYPES)],
        )
        return cursor.fetchall()


def in_database(needles: Iterable[str]) -> list[str]:
    """Where in the database any needle appears (case-insensitive): ``table.column``."""
    found = []
    columns = _columns()
    assert len(columns) > 100, "the search must cover every table"
    with connection.cursor() as cursor:
        for needle in needles:
            for table, column, data_type in columns:
                if data_type == "bytea":
                    condition = f"position(lower(%s)::bytea in lower(encode(\"{column}\", 'escape'))::bytea) > 0"  # noqa: E501
                else:
                    condition = f"lower(\"{column}\"::text) LIKE '%%' || lower(%s) || '%%'"
                cursor.execute(f'SELECT count(*) FROM "{table}" WHERE {condition}', [needle])  # noqa: S608
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column} holds {needle!r}")
            for session in Session.objects.all():
                decoded = json.dumps(SessionStore().decode(session.session_data))
                if needle.lower() in decoded.lower():
                    found.append(f"a session holds {needle!r}")
    return found


def in_text(text: str, needles: Iterable[str], where: str) -> list[str]:
    return [f"{where} holds {n!r}" for n in needles if n.lower() in text.lower()]


def _redis_values(client: redis.Redis) -> Iterator[tuple[bytes, bytes]]:
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"hash":
            values = [k + b"=" + v for k, v in client.hgetall(key).items()]
        elif kind == b"set":
            values = list(client.smembers(key))
        elif kind == b"zset":
            values = [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        else:
            values = []
        yield key, key
        for value in values:
            yield key, value
            yield key, _decoded_bodies(value)


def _decoded_bodies(value: bytes) -> bytes:
    """Celery's messages as kombu keeps them in Redis (a queued message; an unacknowledged
    one is ``[message, exchange, routing key]`` in a hash): JSON with a base64 body."""
    out = b""
    candidates = [value]
    if b"=" in value:
        candidates.append(value.split(b"=", 1)[1])
    for candidate in candidates:
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        messages = document if isinstance(document, list) else [document]
        for message in messages:
            body = message.get("body") if isinstance(message, dict) else None
            if isinstance(body, str):
                try:
                    out += base64.b64decode(body)
                except (binascii.Error, ValueError):
                    out += body.encode()
    return out


def redis_urls() -> set[str]:
    return {settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND, settings.REDIS_URL}


def in_redis(needles: Iterable[str]) -> list[str]:
    """Where in Redis (the broker, the result backend, the cache) any needle appears."""
    found = []
    needles = [n.lower().encode() for n in needles]
    for url in sorted(redis_urls()):
        client = redis.Redis.from_url(url)
        for key, value in _redis_values(client):
            for needle in needles:
                if needle in value.lower():
                    found.append(f"{url} {key!r} holds {needle!r}")
    return found


def redis_bodies(contains: str) -> list[bytes]:
    """The decoded bodies of the Celery messages in the broker whose body holds ``contains``."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return [
        body
        for _, value in _redis_values(client)
        if (body := _decoded_bodies(value)) and contains.encode() in body
    ]
