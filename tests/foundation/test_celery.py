"""Celery is configured so that a crashed worker loses no task and no task runs twice at once."""

import pytest

from privacy_site.celery import app, ping


def test_tasks_are_acknowledged_after_they_run():
    assert app.conf.task_acks_late is True


def test_a_task_whose_worker_died_is_redelivered():
    assert app.conf.task_reject_on_worker_lost is True


def test_a_worker_reserves_one_task_at_a_time():
    assert app.conf.worker_prefetch_multiplier == 1


def test_messages_are_json_only():
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]


def test_the_redis_broker_visibility_timeout_outlasts_the_longest_task(settings):
    # given the test suite's Redis broker
    assert app.conf.broker_url.startswith("redis://")
    # then a task still running is never handed to a second worker
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert timeout == 3600
    assert timeout > app.conf.task_time_limit > app.conf.task_soft_time_limit


def test_beat_reads_its_schedule_from_the_database():
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


def test_tasks_are_never_run_eagerly_in_process():
    assert app.conf.task_always_eager is False


def test_the_ping_task_is_registered_under_its_explicit_name():
    assert ping.name == "privacy_site.ping"
    assert "privacy_site.ping" in app.tasks


@pytest.mark.worker
def test_the_ping_task_answers_pong_from_the_real_worker(celery_worker):
    # when
    result = ping.delay()
    # then
    assert result.get(timeout=30) == "pong"
    assert result.successful()
