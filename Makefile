# One-word commands. `make run` and `make test` each set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
PORT ?= 8000
PYTEST_ARGS ?=
export PORT

.PHONY: install run test lint deploy-check format manage lock migrate browser-deps clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py setup_periodic_tasks

## make run: the zero-server site (SQLite + filesystem broker) with web, worker and beat.
# honcho gives the first Procfile entry (web) PORT itself. `-e /dev/null`: a .env written for
# docker-compose (DATABASE_URL=...@db) must not leak into the zero-server processes.
run: migrate
	$(BIN)/python manage.py seed_demo --demo
	@echo ""
	@echo "  Lead Navigator is starting on http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo "  Health: http://127.0.0.1:$(PORT)/healthz"
	@echo ""
	$(BIN)/honcho start -e /dev/null -f Procfile -p $(PORT)

## make test: the whole suite. Set DATABASE_URL / CELERY_BROKER_URL / REDIS_URL to use PostgreSQL and Redis.
test: install browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's Chromium drives the browser tests (never a downloaded browser build).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

## make deploy-check: Django's deployment checks plus ours (ops/checks.py) against production settings.
## Needs the production environment (DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL, REDIS_URL).
deploy-check: install
	DJANGO_SETTINGS_MODULE=config.settings.production $(BIN)/python manage.py check --deploy --fail-level WARNING

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

manage: install
	$(BIN)/python manage.py $(ARGS)

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^pip==' > requirements.lock

clean:
	rm -rf var staticfiles test-output
