"""The files that run the project agree with each other and with the README."""

from __future__ import annotations

import multiprocessing
import re
import runpy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat")
SETTINGS_FILES = ("privacy_site/settings.py", "privacy_site/settings_test.py")
ENV_READ = re.compile(
    r"""env\.(?:str|bool|int|list|json|float|db|url)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ(?:\.setdefault|\.get)?[(\[]\s*["']([A-Z][A-Z0-9_]*)["']"""
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def readme() -> str:
    return (ROOT / "README.md").read_text()


def section(markdown: str, title: str) -> str:
    """The text of the level-2 section ``title``, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def command_of(service: dict) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else command


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_has_every_service(compose):
    assert {"web", "worker", "beat", "db", "redis", "mailpit"} <= set(compose["services"])


def test_compose_runs_postgres_15(compose):
    assert compose["services"]["db"]["image"] == "postgres:15"


@pytest.mark.parametrize("name", ["web", "worker", "beat", "db", "redis", "mailpit"])
def test_compose_service_has_a_healthcheck(compose, name):
    assert compose["services"][name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_app_services_use_the_compose_database_broker_and_mail(compose, name):
    env = compose["services"][name]["environment"]
    db = compose["services"]["db"]["environment"]
    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme in {"postgres", "postgresql"}
    assert database.hostname == "db"
    assert database.path == f"/{db['POSTGRES_DB']}"
    assert database.username == db["POSTGRES_USER"]
    assert urlsplit(env["CELERY_BROKER_URL"]).scheme == "redis"
    assert urlsplit(env["CELERY_BROKER_URL"]).hostname == "redis"
    assert env["EMAIL_HOST"] == "mailpit"
    assert env["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert env["DJANGO_ENV"] == "production"


def test_compose_app_services_share_one_configuration(compose):
    environments = [compose["services"][name]["environment"] for name in APP_SERVICES]
    assert environments[0] == environments[1] == environments[2]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_app_services_wait_for_a_healthy_database_and_broker(compose, name):
    depends = compose["services"][name]["depends_on"]
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


def test_compose_secret_key_has_no_default(compose):
    # Compose refuses to start without it rather than run production on a known key.
    assert compose["services"]["web"]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_compose_web_runs_gunicorn_on_port_8000(compose):
    web = compose["services"]["web"]
    assert "gunicorn privacy_site.wsgi:application" in command_of(web)
    assert "migrate" in command_of(web)
    assert "8000:8000" in web["ports"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_compose_and_the_image_start_gunicorn_with_its_configuration(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--config gunicorn.conf.py" in command_of(compose["services"]["web"])
    assert '"--config", "gunicorn.conf.py"' in dockerfile
    assert "--workers" not in command_of(compose["services"]["web"]) + dockerfile


def test_gunicorn_runs_two_sync_workers_per_core_plus_one(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["worker_class"] == "sync"
    assert config["workers"] == multiprocessing.cpu_count() * 2 + 1


def test_web_concurrency_sets_the_number_of_workers(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    monkeypatch.setenv("WEB_ACCESS_LOG", "")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["workers"] == 7
    assert config["accesslog"] is None


def test_compose_worker_runs_a_celery_worker(compose):
    assert re.search(
        r"\bcelery -A privacy_site worker\b", command_of(compose["services"]["worker"])
    )


def test_compose_beat_runs_celery_beat(compose):
    assert re.search(r"\bcelery -A privacy_site beat\b", command_of(compose["services"]["beat"]))


def test_compose_mailpit_ui_is_published(compose):
    assert "8025:8025" in compose["services"]["mailpit"]["ports"]


# --- Dockerfile --------------------------------------------------------------------------------


def test_the_image_collects_static_files_with_the_storage_it_serves_them_with():
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    (line,) = [line for line in dockerfile.splitlines() if "collectstatic" in line]
    assigned = dict(re.findall(r"\b([A-Z_]+)=(\S+)", line.split("collectstatic")[0]))
    assert assigned.get("DJANGO_ENV") == "production"


# --- Makefile, Procfile, CI --------------------------------------------------------------------


def test_makefile_has_the_run_and_test_targets():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M)
    assert re.search(r"^test:", makefile, re.M)


def test_procfile_starts_web_worker_and_beat():
    entries = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(entries) == {"web", "worker", "beat"}
    assert "runserver" in entries["web"]
    assert "celery -A privacy_site worker" in entries["worker"]
    assert "celery -A privacy_site beat" in entries["beat"]


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\s*$", script, re.M)


def test_ci_runs_the_fault_suite_and_the_load_test_after_the_tests():
    script = (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^faults:", makefile, re.M)
    assert re.search(r"^loadtest:", makefile, re.M)
    commands = re.findall(r"^make (\w+)\s*$", script, re.M)
    assert commands[-3:] == ["test", "faults", "loadtest"]


# --- README ------------------------------------------------------------------------------------


def test_readme_quick_start_is_make_run_and_make_test(readme):
    quick_start = section(readme, "Quick start")
    commands = re.findall(r"^(?:\$ )?(make \w+)\s*$", quick_start, re.M)
    assert commands == ["make run", "make test"]


def variables_read_by_settings() -> set[str]:
    found: set[str] = set()
    for name in SETTINGS_FILES:
        for match in ENV_READ.finditer((ROOT / name).read_text()):
            found.add(match.group(1) or match.group(2))
    return found


def test_settings_variables_are_found_by_the_scan():
    # Guards the scan below: if it found nothing, the README test would prove nothing.
    assert {"DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL", "DJANGO_ENV"} <= (
        variables_read_by_settings()
    )


def test_every_environment_variable_of_the_settings_is_documented_in_the_readme(readme):
    # given
    configuration = section(readme, "Configuration")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", configuration))
    # then
    assert sorted(variables_read_by_settings() - documented) == []


def test_the_readme_documents_no_variable_nothing_reads(readme):
    # Besides the settings, gunicorn's, the Procfile, the Makefile and the test harness read
    # a few.
    readers = [*SETTINGS_FILES, "gunicorn.conf.py", "Procfile", "Makefile", "tests/conftest.py"]
    sources = "\n".join((ROOT / name).read_text() for name in readers) + "\n".join(
        path.read_text() for path in (ROOT / "tests" / "harness").glob("*.py")
    )
    configuration = section(readme, "Configuration")
    table_rows = re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", configuration, re.M)
    assert table_rows, "the configuration table lists variables"
    assert sorted(name for name in table_rows if not re.search(rf"\b{name}\b", sources)) == []


def test_the_readme_lists_the_apps_in_their_import_order(readme):
    from django.conf import settings

    ours = ["consent", "communications", "sharing", "surveys", "accounts"]
    installed = [app for app in settings.INSTALLED_APPS if app in ours]
    assert installed == ours
    layout = section(readme, "Project layout")
    positions = [layout.index(f"`{app}/`") for app in ours]
    assert positions == sorted(positions)


def test_the_readme_links_only_to_docs_that_exist(readme):
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / target).is_file(), target
