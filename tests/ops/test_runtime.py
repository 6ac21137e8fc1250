"""One runtime: the embedded PostgreSQL and Redis (config/embedded.py) and which settings
each entry point starts with.

The embedded servers here are private ones, in a folder of this test module's own (the
suite's own run beside them on other ports), started and stopped through the command line
a newcomer's ``make`` uses.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from tests.ops.production import PRODUCTION_ENV

ROOT = Path(settings.BASE_DIR)
# Connects to both servers from the command's environment, as any process make run starts.
CHECK = (
    "import os, psycopg, redis;"
    "psycopg.connect(os.environ['DATABASE_URL']).execute('SELECT 1');"
    "redis.Redis.from_url(os.environ['REDIS_URL']).ping();"
    "print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"
)


@pytest.fixture(scope="module")
def var():
    """A var/ folder of this module's own, inside the project: the PostgreSQL user must be
    able to reach it (pytest's own temporary folders are private to root)."""
    folder = ROOT / "var" / "tests" / f"embedded-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    yield folder
    embedded(folder, "stop")
    shutil.rmtree(folder, ignore_errors=True)


def clean_env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "EMBEDDED_VAR_DIR": str(folder), **extra}


def embedded(folder: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "config.embedded", *args],
        cwd=ROOT, env=clean_env(folder, **extra), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def status(folder: Path) -> str:
    return embedded(folder, "status").stdout


def stopped(folder: Path) -> bool:
    text = status(folder)
    return "postgres: stopped" in text and "redis:    stopped" in text


def test_a_command_runs_with_both_servers_and_they_stop_after_it(var):
    done = embedded(var, "--", sys.executable, "-c", CHECK)

    assert done.returncode == 0, done.stderr
    database_url, redis_url = done.stdout.split()
    assert database_url.startswith("postgres://postgres@127.0.0.1:")
    assert database_url.endswith("/loyalty")
    assert redis_url.startswith("redis://127.0.0.1:")
    assert (var / "postgres" / "PG_VERSION").exists()  # its data stays for the next run
    assert stopped(var)


def test_the_data_is_kept_from_one_run_to_the_next(var):
    write = "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL'], autocommit=True).execute('CREATE TABLE kept (n int)')"  # noqa: E501
    read = "import os, psycopg; print(psycopg.connect(os.environ['DATABASE_URL']).execute('SELECT count(*) FROM kept').fetchone()[0])"  # noqa: E501

    assert embedded(var, "--", sys.executable, "-c", write).returncode == 0
    again = embedded(var, "--", sys.executable, "-c", read)

    assert again.stdout.strip() == "0", again.stderr


def test_the_servers_stop_only_when_their_last_user_leaves(var):
    # given a long command using the servers, and a second one beside it
    first = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "config.embedded", "--", sys.executable, "-c",
         "import time; time.sleep(60)"],
        cwd=ROOT, env=clean_env(var),
    )  # fmt: skip
    try:
        wait_for(lambda: "used by:  nobody" not in status(var), "the first command never ran")
        second = embedded(var, "--", sys.executable, "-c", CHECK)
        assert second.returncode == 0, second.stderr

        # then the second one's end leaves them running for the first
        assert "postgres: postgres://" in status(var)
    finally:
        first.send_signal(signal.SIGTERM)  # what Ctrl-C or a stop would send
        first.wait(timeout=60)

    # and the first one's end stops them
    assert stopped(var)


def test_a_killed_run_blocks_nothing_the_next_adopts_and_stops_its_servers(var):
    # given a run killed outright (no clean-up at all), its servers left running
    run = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "config.embedded", "--", sys.executable, "-c",
         "import time; time.sleep(60)"],
        cwd=ROOT, env=clean_env(var), start_new_session=True,
    )  # fmt: skip
    wait_for(lambda: "used by:  nobody" not in status(var), "the run never started")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert "postgres: postgres://" in status(var)

    # when the next run comes
    again = embedded(var, "--", sys.executable, "-c", CHECK)

    # then it works on the servers it found, and stops them as the last user
    assert again.returncode == 0, again.stderr
    assert stopped(var)


def test_urls_that_are_set_win_and_nothing_is_started_for_them(tmp_path):
    folder = ROOT / "var" / "tests" / f"unused-{uuid.uuid4().hex[:8]}"
    try:
        done = embedded(
            folder, "--", sys.executable, "-c", CHECK,
            DATABASE_URL=_suite_database_url(), REDIS_URL=settings.REDIS_URL,
        )  # fmt: skip

        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [_suite_database_url(), settings.REDIS_URL]
        assert not (folder / "postgres").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _suite_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


# Which settings each entry point starts with

PRODUCTION = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SETTINGS_MODULE"}


def django_settings(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


SHOW = "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"


@pytest.mark.parametrize(
    "entry",
    [
        "import config.wsgi",
        "import config.asgi",
        "from config.celery import app; app.loader.import_default_modules()",
    ],
)
def test_a_server_started_without_settings_runs_the_production_settings(entry):
    started = django_settings(f"{entry}; {SHOW}", **PRODUCTION)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[-2:] == ["config.settings.production", "False"]

    # and without a SECRET_KEY it refuses to start, rather than use the development one
    for secret in ("", None):
        env = (
            {**PRODUCTION, "SECRET_KEY": secret}
            if secret is not None
            else {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
        )
        refused = django_settings(f"{entry}; {SHOW}", **env)
        assert refused.returncode != 0
        assert "SECRET_KEY" in refused.stderr


def test_manage_py_runs_the_local_settings():
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", SHOW], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["config.settings.local", "True"]


def wait_for(condition, message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def test_the_embedded_servers_are_production_shaped():
    """The suite itself runs on them when nothing is configured: same engine and major
    features as production's PostgreSQL (the triggers and locks the ledger relies on)."""
    with psycopg.connect(_suite_database_url()) as db:
        version = db.execute("SHOW server_version_num").fetchone()
    assert version is not None
    assert int(version[0]) >= 150000


def test_env_example_copied_to_env_runs_locally():
    """A newcomer's first edit: `cp .env.example .env`. Its values are read as the settings
    read them (django-environ) and the local settings start with them, DEBUG on."""
    parsed: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            parsed[name] = value
            assert "#" not in value, f"{name}: a comment on the value's line becomes the value"
    shown = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", SHOW], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}, **parsed},
    )  # fmt: skip

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[-2:] == ["config.settings.local", "True"]


def test_a_web_process_finds_the_tasks_it_hands_work_to_by_name():
    """The services hand notifications and webhooks to the workers by the task's name (they
    cannot import the tasks module, which imports them): a process that only set Django up,
    as gunicorn's workers do, must know those names."""
    code = (
        "import django; django.setup(); from celery import current_app; "
        "print(sorted(n for n in current_app.tasks if n.startswith('notifications.tasks.')))"
    )
    shown = django_settings(code, DJANGO_SETTINGS_MODULE="config.settings.test")

    assert shown.returncode == 0, shown.stderr
    assert "'notifications.tasks.deliver'" in shown.stdout
    assert "'notifications.tasks.deliver_webhooks'" in shown.stdout
