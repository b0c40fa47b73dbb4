"""Fixtures shared by the whole suite: real PostgreSQL, Redis, Celery worker, SMTP server and
Chromium. See docs/TESTING.md for how to use them."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import StaffFactory, SuperuserFactory, UserFactory, set_up_second_factor
from tests.harness import axe
from tests.harness.http import logged_in
from tests.harness.services import (
    IN_CI,
    chromium_problem,
    postgres_problem,
    redis_problem,
    require,
)
from tests.harness.smtp import SMTPServer
from tests.harness.worker import WorkerProcess, database_url_for_tests

# Playwright's sync API runs an event loop in this thread; the ORM calls tests make next to it
# are still synchronous, so Django's async-safety guard must stand aside.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PostgreSQL, fail the run in CI; elsewhere skip the tests that need it."""
    needs_db = [
        item
        for item in items
        if item.get_closest_marker("django_db") or DB_FIXTURES & set(item.fixturenames)
    ]
    if not needs_db or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return
    problem = postgres_problem(os.environ["DATABASE_URL"])
    if problem is None:
        return
    if IN_CI:
        pytest.exit(f"required service missing in CI: {problem}", returncode=1)
    for item in needs_db:
        item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture(autouse=True)
def _migration_data(request: pytest.FixtureRequest) -> None:
    """Put back the rows data migrations create (policy v1, purposes) when a transactional
    test before this one flushed them, so every database test starts from a migrated state."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if not (DB_FIXTURES & names or marker):
        return
    transactional = bool(names & (DB_FIXTURES - {"db"})) or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from consent.models import PolicyVersion

    if PolicyVersion.objects.exists():
        return
    from django.apps import apps

    importlib.import_module("consent.migrations.0002_policy_v1_and_purposes").load(apps, None)


# --- Redis -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_client():
    """The test Redis database, emptied once per session. Skips (fails in CI) without Redis."""
    import redis

    require(redis_problem(settings.CELERY_BROKER_URL))
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    return client


@pytest.fixture
def clean_cache(redis_client) -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# --- SMTP --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    """An aiosmtpd server for the whole session; the worker process sends to it too."""
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SMTPServer, settings) -> SMTPServer:
    """The SMTP server, emptied, with this process's email backend pointed at it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    smtp_server.clear()
    return smtp_server


# --- Celery worker -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def worker_env(django_db_setup, smtp_server: SMTPServer, redis_client) -> dict[str, str]:
    """Environment for a worker process: the test database, test broker and the SMTP server."""
    return {
        "DJANGO_SETTINGS_MODULE": "privacy_site.settings_test",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url_for_tests(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": smtp_server.host,
        "EMAIL_PORT": str(smtp_server.port),
        "CONN_MAX_AGE": "0",
    }


@pytest.fixture(scope="session")
def celery_worker_session(worker_env: dict[str, str]) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(env=worker_env, name="session").start()
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(
    celery_worker_session: WorkerProcess, transactional_db
) -> Iterator[WorkerProcess]:
    """A running worker process. Tests using it see committed data only, hence
    ``transactional_db``: what the test writes is visible to the worker. At the test's end
    the worker is let finish what it is running before the tables are emptied (a test may
    end as soon as an email arrives, while its task still records the send)."""
    if celery_worker_session.process.poll() is not None:
        pytest.fail(f"the Celery worker died:\n{celery_worker_session.tail()}")
    yield celery_worker_session
    celery_worker_session.wait_idle()


@pytest.fixture
def worker_factory(worker_env: dict[str, str], transactional_db) -> Iterator[type]:
    """Start extra workers (for crash tests); every one started is stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(env=worker_env, **kwargs).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


# --- Browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; never a downloaded browser."""
    require(chromium_problem(CHROMIUM))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        axe.watch_new_contexts(browser)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def axe_watch() -> Iterator[axe.AxeWatch]:
    """axe-core checks every page the test's browser contexts show (see tests/harness/axe.py);
    a violation of serious or critical impact fails the test."""
    watch = axe.start_watch()
    yield watch
    violations = axe.stop_watch(watch)
    if violations:
        pytest.fail(axe.report(violations), pytrace=False)


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab (own cookies) whose relative URLs go to the live test server."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


# --- Users -------------------------------------------------------------------------------------


@pytest.fixture
def make_user(db):
    """Create a user with ``TEST_PASSWORD``: ``make_user("ann@example.com", first_name="Ann")``.
    Takes what ``UserFactory`` takes: ``consents=[...]``, ``verified=True``,
    ``permissions=[...]``."""

    def make(email: str, **fields):
        return UserFactory(email=email, **fields)

    return make


@pytest.fixture
def customer(make_user):
    """Ann, a customer with an account and no choices made yet."""
    return make_user("ann@example.com", first_name="Ann")


@pytest.fixture
def admin_user(admin_user):
    """pytest-django's superuser (behind ``admin_client``), with an authenticator app, as the
    admin requires."""
    set_up_second_factor(admin_user)
    return admin_user


@pytest.fixture
def superuser(db):
    return SuperuserFactory(email="root@jessops.example", verified=True)


@pytest.fixture
def marketer(db):
    """Mia, in Marketing: writes, sends and follows campaigns; never sees an address."""
    return StaffFactory(
        email="mia@jessops.example",
        first_name="Mia",
        permissions=[
            "communications.view_campaign",
            "communications.add_campaign",
            "communications.change_campaign",
            "communications.send_campaign",
            "communications.view_delivery",
        ],
    )


@pytest.fixture
def root(superuser) -> Client:
    """A browser logged in as ``superuser``."""
    return logged_in(superuser)
