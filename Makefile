# Quick start: `make run` (the site on embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The test suite's tools from npm (axe-core, the Nu Html Checker), pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/privacy_site

.PHONY: install run test faults lint format migrations-check bench loadtest clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

# --ignore-scripts: vnu-jar's install script would download a Java runtime; the suite uses the
# machine's java (.ci/run installs default-jre-headless where it is missing).
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

## Set up and run web, a Celery worker and beat on the embedded defaults; Ctrl-C stops all.
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(VENV)/bin/honcho --procfile Procfile start

## Lint (ruff; lint-imports: no app imports an app above it; mypy: the types, strict on the
## services, selectors, tasks and the email gate), then every test against PostgreSQL and
## Redis (DATABASE_URL overrides the database).
test: install lint migrations-check
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} $(VENV)/bin/pytest $(PYTEST_ARGS)

## The fault suite (tests/faults): workers killed mid-campaign, the mail server refusing and
## timing out, webhooks delivered again and at once, Redis and PostgreSQL stopped; each
## scenario checks the product's invariants afterwards. Figures go to docs/RELIABILITY.md.
faults: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} $(VENV)/bin/pytest -m faults tests/faults $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run

## Benchmarks; figures go to docs/PERFORMANCE.md.
bench: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} $(VENV)/bin/pytest -m bench -s --ds privacy_site.settings_bench tests/benchmarks $(PYTEST_ARGS)

## Load test: gunicorn with the production settings on PostgreSQL and Redis, 100,000 subjects,
## locust from this machine (preference centre views and saves, one-click unsubscribes,
## Postmark webhook events, orders) beside a bare Django view; figures to var/loadtest/.
## LOADTEST_SECONDS (60), LOADTEST_BARE_SECONDS (20), LOADTEST_USERS (20), LOADTEST_SUBJECTS.
loadtest: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} $(VENV)/bin/pytest -m loadtest -s tests/loadtest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .ruff_cache .import_linter_cache .mypy_cache
