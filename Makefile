# Quick start: `make run` (the site on embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/privacy_site

.PHONY: install run test lint format migrations-check bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

## Set up and run web, a Celery worker and beat on the embedded defaults; Ctrl-C stops all.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(VENV)/bin/honcho --procfile Procfile start

## Lint (ruff; lint-imports: no app imports an app above it; mypy: the types, strict on the
## services, selectors, tasks and the email gate), then every test against PostgreSQL and
## Redis (DATABASE_URL overrides the database).
test: install lint migrations-check
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

## Benchmarks; figures go to docs/PERFORMANCE.md.
bench: install
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} $(VENV)/bin/pytest -m bench -s --ds privacy_site.settings_bench tests/benchmarks $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .import_linter_cache .mypy_cache
