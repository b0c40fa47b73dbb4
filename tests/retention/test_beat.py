"""The nightly jobs: one enabled django-celery-beat row per rule, made by a migration, each
running ``retention.run_rule`` with its rule's key; and that task, run by a real Celery
worker, forgets what is due."""

from __future__ import annotations

import importlib
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from communications.models import ProviderEvent
from privacy_site.celery import app
from retention.models import RetentionRun
from retention.schedule import BY_KEY
from tests.retention import cases
from tests.retention.cases import period_end, person


def retention_jobs():
    return PeriodicTask.objects.filter(task="retention.run_rule").select_related("crontab")


@pytest.mark.django_db
def test_a_migration_made_one_nightly_job_per_rule():
    jobs = list(retention_jobs())

    assert sorted(json.loads(job.args)[0] for job in jobs) == sorted(BY_KEY)
    for job in jobs:
        [key] = json.loads(job.args)
        assert job.name == f"Retention: {key}"
        assert job.enabled and job.crontab is not None and job.interval is None
        assert job.crontab.day_of_week == job.crontab.day_of_month == "*"
        assert job.crontab.month_of_year == "*"
        assert 2 <= int(job.crontab.hour) <= 5, "at night"
    times = {(job.crontab.hour, job.crontab.minute) for job in jobs}
    assert len(times) == len(jobs), "each starts at its own time"


def wait_for(condition, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.1)


@pytest.mark.worker
def test_a_worker_running_the_nightly_job_forgets_what_is_due(celery_worker):
    # given the provider_events job as its beat row would send it (the migration's row is
    # made again: a test before this one may have emptied the database)
    if not retention_jobs().exists():
        from django.apps import apps as registry

        importlib.import_module(
            "retention.migrations.0002_holds_kept_and_nightly_jobs"
        ).create_jobs(registry, None)
    job = retention_jobs().get(name="Retention: provider_events")
    now = timezone.now()
    end = period_end("provider_events", now)
    due = cases._provider_event(end - timedelta(minutes=1), person())
    kept = cases._provider_event(end + timedelta(minutes=1), person())

    # when the worker runs it
    app.send_task(job.task, args=json.loads(job.args))

    # then the due event is gone, the other kept, and the run is recorded
    wait_for(
        lambda: RetentionRun.objects.filter(rule="provider_events", outcome="finished").exists()
    )
    assert not ProviderEvent.objects.filter(pk=due).exists()
    assert ProviderEvent.objects.filter(pk=kept).exists()
    record = RetentionRun.objects.get()
    assert (record.deleted, record.trimmed, record.skipped_held) == (1, 0, 0)
