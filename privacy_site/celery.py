"""The Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_site.settings")

app = Celery("privacy_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _prepare_filesystem_broker(sender: Celery, **kwargs: object) -> None:
    """The filesystem transport expects its folders to exist; create them on first use."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


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
