"""The Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered.

Two kinds of process publish tasks. A web process (and a management command) publishes after a
commit, when the outbox row is already the promise that the work will be done: it must never
wait on an unreachable broker, so it connects and waits for a reply at most
``CELERY_PUBLISH_TIMEOUT`` seconds, tries once, and never subscribes to a result it will not
read (``privacy_site.broker.RedisResultBackend``); the outbox sweep relays what did not go. A
worker or beat has no one waiting on it, so it keeps Celery's retries and timeouts
(``_background_process`` below).
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_site.settings")

app = Celery("privacy_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A redis:// result store is Celery's, minus the subscription as each task is sent.
app.loader.override_backends = {
    "redis": "privacy_site.broker:RedisResultBackend",
    "rediss": "privacy_site.broker:RedisResultBackend",
}


@app.on_after_configure.connect
def _prepare_filesystem_broker(sender: Celery, **kwargs: object) -> None:
    """The filesystem transport expects its folders to exist; create them on first use."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


def _web_broker_options(timeout: float) -> dict[str, float]:
    """What a web process adds to the Redis transport's options: connect once (kombu's
    ``max_retries``; without it a lost connection is retried for ``broker_connection_timeout``,
    4 s), and give up on a connect or a reply after ``timeout`` seconds."""
    return {"max_retries": 0, "socket_connect_timeout": timeout, "socket_timeout": timeout}


@app.on_after_configure.connect
def _publish_without_waiting(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    conf = sender.conf
    if conf.broker_url and conf.broker_url.startswith(("redis://", "rediss://")):
        conf.broker_transport_options = {
            **(conf.broker_transport_options or {}),
            **_web_broker_options(settings.CELERY_PUBLISH_TIMEOUT),
        }


def _background_process(conf) -> None:
    """A worker or beat: retry publishing, and wait on the broker as long as Celery does."""
    conf.task_publish_retry = True
    options = dict(conf.broker_transport_options or {})
    for key in _web_broker_options(0):
        options.pop(key, None)
    conf.broker_transport_options = options


@signals.celeryd_init.connect
def _worker_keeps_retrying(conf, **kwargs: object) -> None:
    _background_process(conf)


@signals.beat_init.connect
def _beat_keeps_retrying(sender, **kwargs: object) -> None:
    _background_process(sender.app.conf)


# Celery's Django fixup closes every database connection before and after each task unless
# this is set (it then closes them every that many tasks); a worker opens one per task, and a
# batch of a campaign pays a connection for 500 messages. Instead a worker treats a task as
# Django treats a request: ``close_old_connections`` before and after it, which keeps the
# connection for CONN_MAX_AGE seconds (0: closed after each task, as before) and drops one
# that failed or, with CONN_HEALTH_CHECKS, stopped answering.
app.conf.update(CELERY_DB_REUSE_MAX=2**62)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender: object = None, **kwargs: object) -> None:
    from django.db import close_old_connections

    # An eager task runs inside its caller, whose connection is not the task's to close.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


@app.task(name="privacy_site.ping")
def ping() -> str:
    """Answer "pong": proves a worker is consuming the queue (used by tests and seed_demo)."""
    return "pong"


@app.task(name="privacy_site.worker_health")
def worker_health() -> dict[str, str]:
    """The worker's own view of the database: which one it uses and whether it answers."""
    from django.conf import settings

    from .health import check_database

    return {"database": check_database(), "name": str(settings.DATABASES["default"]["NAME"])}
