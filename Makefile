# The verbs people expect. `make run` and `make test` work on a fresh machine with Python 3.11+
# and nothing else: no database or Redis to install (config/embedded.py).
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

# manage.py starts the embedded PostgreSQL and Redis for the command when DATABASE_URL /
# REDIS_URL are not set (config/embedded.py), and stops them after.
migrate: install
	$(PY) manage.py migrate --no-input

# What production runs (gunicorn, a Celery worker, beat) with the local settings and the
# demo data, on the embedded servers or those of DATABASE_URL / REDIS_URL (config/run.py).
# Ctrl-C stops all of it.
run: install
	$(PY) -m config.run --host $(HOST) --port $(PORT)

# The same, with the embedded database dropped and the demo data written anew.
demo: install
	$(PY) -m config.run --host $(HOST) --port $(PORT) --reset

# Real PostgreSQL and Redis: those of DATABASE_URL / REDIS_URL, else the embedded ones,
# which the suite starts itself (tests/servers.py). Nothing to configure.
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

# Needs wrk on PATH (pgbench comes with the embedded PostgreSQL), and valgrind for the
# instruction counts (skipped without it); scratch databases on the server of DATABASE_URL,
# else on the embedded one.
# SOAK=1 adds 10 minutes of mixed traffic followed by check_ledger (SOAK_MINUTES to change).
SOAK_MINUTES ?= 10
bench: install
	$(PY) -m config.embedded -- $(PY) -m bench.http
	@if command -v valgrind >/dev/null; then $(PY) -m config.embedded -- $(PY) -m bench.instructions; else echo "bench.instructions skipped: no valgrind"; fi
	$(PY) -m config.embedded -- $(PY) -m bench
	@if [ -n "$(SOAK)" ]; then $(PY) -m config.embedded -- $(PY) -m bench.soak --minutes $(SOAK_MINUTES); fi

# Stops the embedded servers and removes them with their data.
clean:
	-test -x $(PY) && $(PY) -m config.embedded stop
	rm -rf $(VENV) var

# Refresh the translation catalogs (locale/*/LC_MESSAGES/django.po) from the code, then
# compile them; translate any new or changed entry in the .po files and commit both the .po
# and .mo files. tests/test_i18n.py fails while a catalog is incomplete or not compiled.
.PHONY: messages
messages: install
	$(PY) manage.py makemessages -l es -l ru -l tr --ignore=.venv --ignore=tests --ignore=bench --no-obsolete
	$(PY) manage.py compilemessages --ignore=.venv
