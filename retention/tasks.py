"""The nightly retention jobs: one django-celery-beat row per rule (created by
``retention/migrations/0002_holds_kept_and_nightly_jobs.py``, editable in admin), each calling
``run_rule`` with the rule's key."""

from __future__ import annotations

from celery import shared_task

from retention import engine
from retention.schedule import rule


@shared_task(name="retention.run_rule", ignore_result=True)
def run_rule(key: str) -> int:
    """Run one rule to the end; how many rows it changed."""
    outcome = engine.run(rule(key))
    return outcome.deleted + outcome.trimmed
