"""How Celery talks to Redis, as broker and as result store, when Redis is unreachable.

The outbox row is the promise that an email will go (``communications.services.outbox``):
publishing its task is only a shortcut, and the sweep relays any row whose task never reached
the broker. So a process serving web requests must give up on an unreachable Redis at once
rather than hold a request (see ``privacy_site.celery`` for the timeouts and retries), and a
worker must survive Redis going away and coming back.
"""

from __future__ import annotations

from celery.backends.redis import RedisBackend
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class RedisResultBackend(RedisBackend):
    """Celery's Redis result store, subscribing to a task's result only when someone waits
    for it.

    Celery's own subscribes as each task is sent, over a connection that retries for about
    20 seconds when Redis is down: every enqueue after a commit then held its web request that
    long. Nothing in a web request waits for a result, and whoever does wait still gets it:
    ``AsyncResult.get`` subscribes, then reads the stored result (``on_wait_for_pending``), so a
    result stored before the subscription is not missed.
    """

    def on_task_call(self, producer, task_id: str) -> None:
        pass


class Channel(kombu_redis.Channel):
    def _get_pool(self, asynchronous: bool = False):
        """Refuse, as a lost connection, to open a pool for a connection already closed.

        kombu 5.7.0 can come back to a channel after the worker has closed the broker
        connection it belonged to, to restore unacknowledged messages (the periodic
        ``restore_visible`` sweep, or the channel's close): building a new pool then reads
        the closed connection's address and fails with ``AttributeError: 'NoneType' object
        has no attribute 'hostname'``, which nothing catches, so the worker exits
        ("Unrecoverable error"). A ``ConnectionError`` is what every one of those paths
        expects from a broker that has gone: the restore is skipped (the messages stay in
        Redis's unacked set and are restored after the visibility timeout) and the worker
        reconnects as usual.
        """
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        # kombu's stubs leave out this private method, which kombu's Channel does define.
        return super()._get_pool(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above (``CELERY_BROKER_TRANSPORT``)."""

    Channel = Channel
