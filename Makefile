# The verbs people expect. `make run` and `make test` work on a fresh machine with Python 3.11+.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
# Both cores: the suite is mostly waiting on PostgreSQL.
PYTEST_ARGS ?= -n 2
PORT ?= 8000

.PHONY: install run migrate demo test lint fmt bench clean

$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py seed_demo

# The web server plus whatever runs the background jobs: a Celery worker with beat
# when REDIS_URL is set (environment or .env), else the in-process scheduler.
run: demo
	@if [ -n "$$REDIS_URL" ] || grep -qs '^REDIS_URL=.' .env; then \
		jobs="$(VENV)/bin/celery -A config worker --beat --loglevel=info"; \
	else \
		jobs="$(PY) manage.py run_jobs"; \
	fi; \
	trap 'kill 0' EXIT INT TERM; \
	$$jobs & \
	$(PY) manage.py runserver $(HOST):$(PORT)

# Tests run against real PostgreSQL and Redis (DATABASE_URL / REDIS_URL, see README).
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Needs wrk and pgbench on PATH; scratch databases on the server of DATABASE_URL.
# SOAK=1 adds 10 minutes of mixed traffic followed by check_ledger (SOAK_MINUTES to change).
SOAK_MINUTES ?= 10
bench: install
	$(PY) -m bench.http
	$(PY) -m bench
	@if [ -n "$(SOAK)" ]; then $(PY) -m bench.soak --minutes $(SOAK_MINUTES); fi

clean:
	rm -rf $(VENV) db.sqlite3 var

# Refresh the translation catalogs (locale/*/LC_MESSAGES/django.po) from the code, then
# compile them; translate any new or changed entry in the .po files and commit both the .po
# and .mo files. tests/test_i18n.py fails while a catalog is incomplete or not compiled.
.PHONY: messages
messages: install
	$(PY) manage.py makemessages -l es -l ru -l tr --ignore=.venv --ignore=tests --ignore=bench --no-obsolete
	$(PY) manage.py compilemessages --ignore=.venv
