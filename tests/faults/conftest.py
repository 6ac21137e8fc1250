"""Real failures for the fault tests: a private redis-server to stop and start, a real
Celery worker process, and the test database's URL for child processes."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import pools

from config import embedded
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def waiting_on_a_lock(*, exclude: int) -> int | None:
    """The pid of a backend of the test database waiting on a lock (not ``exclude``'s)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> %s",
            [exclude],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def wait_until(condition, timeout: float, message: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(interval)


class RedisServer:
    """A redis-server of our own on a free port: stopping it is a real outage."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(embedded.redis_bin() / "redis-server"),  # the project's own, as make run's
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(answers, 20, "redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def _reset_broker_connections() -> None:
    """Celery keeps its broker connections in kombu's global pools: close and forget them
    all (closing only ours would leave a closed pool registered for the next test)."""
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_at(settings):
    """Point this process's Celery app and cache at a Redis URL (restored afterwards)."""
    saved = dict(app.conf.broker_url and {"broker_url": app.conf.broker_url} or {})
    eager = app.conf.task_always_eager

    def point(url: str) -> None:
        _reset_broker_connections()
        app.conf.update(broker_url=url, task_always_eager=False)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        }

    yield point
    _reset_broker_connections()
    app.conf.update(task_always_eager=eager, **saved)


@pytest.fixture
def start_worker(tmp_path):
    """Start real Celery workers (``--pool`` and queue as asked) against a broker URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(broker_url: str, queue: str, pool: str = "prefork") -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DEBUG": "false",
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker_url,
            "EMAIL_URL": f"filemail:///{tmp_path}",  # django-environ drops one slash
        }
        log = (tmp_path / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "-Q",
                queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],  # fmt: skip
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
