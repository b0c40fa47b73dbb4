"""Settings come from the environment: embedded defaults locally, mandatory secrets in production.

Each test runs Django in a fresh process with a clean environment, because settings are read
once at import and this test process runs on privacy_site.settings_test.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Everything the settings read is left out, so only what a test passes is seen.
_KEPT = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")

PRINT_SETTINGS = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "privacy_site.settings"
import django
django.setup()
from django.conf import settings
from privacy_site.celery import app
print(json.dumps({
    "debug": settings.DEBUG,
    "production": settings.PRODUCTION,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "broker_url": settings.CELERY_BROKER_URL,
    "celery_broker_url": app.conf.broker_url,
    "transport_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    "result_backend": settings.CELERY_RESULT_BACKEND,
    "email_backend": settings.EMAIL_BACKEND,
    "email_file_path": str(settings.EMAIL_FILE_PATH),
    "cache": settings.CACHES["default"]["BACKEND"],
    "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: os.environ[key] for key in _KEPT if key in os.environ}
    env["HOME"] = str(tmp_path)
    env["VAR_DIR"] = str(tmp_path / "var")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def production_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    env = clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="privacy_site.settings",
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        SHARING_NOTIFICATION_SIGNING_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="shop.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def default_settings(tmp_path: Path, **extra: str) -> dict:
    result = run(["-c", PRINT_SETTINGS], clean_env(tmp_path, **extra))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Production --------------------------------------------------------------------------------


def test_production_settings_pass_check_deploy_at_warning_level(tmp_path):
    # when
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )
    # then
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_have_no_deploy_errors(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "ERROR"], production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_required_variable(tmp_path, missing):
    # given a production environment lacking one required variable
    env = production_env(tmp_path, **{missing: None})
    # when
    result = run(["manage.py", "check", "--deploy"], env)
    # then: it fails, and the message names the variable to set
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_refuses_debug_on(tmp_path):
    result = run(["manage.py", "check"], production_env(tmp_path, DEBUG="true"))
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_turns_on_the_secure_settings(tmp_path):
    script = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='privacy_site.settings'; "
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS > 0, s.SECURE_REDIRECT_EXEMPT, s.ALLOWED_HOSTS)"
    )
    result = run(["-c", script], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "False True True True True ['^healthz$'] ['shop.example.com']"
    )


def test_an_unknown_django_env_fails_clearly(tmp_path):
    # when
    result = run(["manage.py", "check"], clean_env(tmp_path, DJANGO_ENV="staging"))
    # then
    assert result.returncode != 0
    assert "DJANGO_ENV must be development, production or test, not 'staging'" in result.stderr


# --- Local defaults ----------------------------------------------------------------------------


def test_default_settings_need_nothing_installed(tmp_path):
    # when settings load with no configuration at all
    loaded = default_settings(tmp_path)
    var = tmp_path / "var"
    # then: SQLite, the filesystem broker and emails written to files, all under VAR_DIR
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["db_name"] == str(var / "db.sqlite3")
    assert loaded["broker_url"] == "filesystem://"
    assert loaded["celery_broker_url"] == "filesystem://"
    assert loaded["transport_options"]["data_folder_in"] == str(var / "broker" / "queue")
    assert loaded["result_backend"] == f"file://{var / 'celery-results'}"
    assert loaded["email_backend"] == "django.core.mail.backends.filebased.EmailBackend"
    assert loaded["email_file_path"] == str(var / "outbox")
    assert loaded["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert loaded["debug"] is True
    assert loaded["production"] is False
    assert set(loaded["allowed_hosts"]) >= {"localhost", "127.0.0.1"}


def test_every_folder_of_the_default_broker_is_under_var_dir(tmp_path):
    loaded = default_settings(tmp_path)
    options = loaded["transport_options"]
    var = tmp_path / "var"
    folders = {key: value for key, value in options.items() if key.endswith("_folder")}
    folders.setdefault("control_folder", "control")  # kombu's default, relative to the cwd
    for key, folder in folders.items():
        assert Path(folder).is_relative_to(var), f"{key}={folder} is outside VAR_DIR"


def test_default_settings_write_nothing_outside_var_dir(tmp_path):
    # given VAR_DIR in a temporary folder
    default_settings(tmp_path)
    # then the local state folders were made there
    assert (tmp_path / "var").is_dir()
    assert (tmp_path / "var" / "celery-results").is_dir()


def test_a_redis_broker_gets_a_visibility_timeout(tmp_path):
    loaded = default_settings(
        tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/9", CELERY_VISIBILITY_TIMEOUT="7200"
    )
    assert loaded["transport_options"] == {"visibility_timeout": 7200}


def test_environment_variables_override_the_defaults(tmp_path):
    loaded = default_settings(
        tmp_path,
        DATABASE_URL="postgres://someone@db.example:5432/shop",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        REDIS_URL="redis://127.0.0.1:6379/9",
        ALLOWED_HOSTS="a.example,b.example",
    )
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["db_name"] == "shop"
    assert loaded["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert loaded["cache"] == "privacy_site.cache.FailOpenRedisCache"  # django-redis, failing open
    assert loaded["allowed_hosts"] == ["a.example", "b.example"]
