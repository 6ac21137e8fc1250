"""The real stack for benchmarks: a scratch database, gunicorn, and a tiny JSON client.

Used by ``bench.http`` and ``bench.soak``. The database lives on the server of
DATABASE_URL (else the embedded PostgreSQL) and is dropped and
created again each run; gunicorn runs with the production settings.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import redis

from config import embedded

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or embedded.postgres_url()


def database_url(name: str) -> str:
    return urlparse(server_url())._replace(path=f"/{name}").geturl()


def admin_sql(sql: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.encode())


def analyze(name: str) -> None:
    """Statistics for the planner, as autovacuum gathers them on a production server (a CI
    server may run with autovacuum off: then a table filled during the run has none)."""
    with psycopg.connect(database_url(name), autocommit=True) as conn:
        conn.execute(b"ANALYZE")


def recreate_database(name: str) -> str:
    admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {name}")
    return database_url(name)


def bench_redis() -> str:
    """The Redis the app gets, as in production (Celery's broker, the coupon guard's
    counters): ``BENCH_REDIS_URL``, by default database 15 of the server of REDIS_URL (else
    the embedded one), emptied first (no worker drains the queued tasks)."""
    server = urlparse(os.environ.get("REDIS_URL") or embedded.redis_url())
    url = os.environ.get("BENCH_REDIS_URL") or server._replace(path="/15").geturl()
    redis.Redis.from_url(url, socket_connect_timeout=1).flushdb()
    return url


# The production settings as a benchmark on this machine needs them: plain HTTP from the
# load generator (production sits behind a TLS proxy), clients straight on the socket.
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "false",
    "TRUSTED_PROXIES": "none",
    "METRICS_PUBLIC": "true",
}


def app_env(db_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["REDIS_URL"] = bench_redis()
    env.update(PRODUCTION, DATABASE_URL=db_url, LOG_LEVEL="WARNING", **extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Gunicorn:
    """``gunicorn config.wsgi`` on a free port, with the metrics in multiprocess mode;
    ``prefix`` runs it under another program (valgrind), which may need longer to start."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int,
        *,
        prefix: Sequence[str] = (),
        start_timeout: float = 60,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_dir = tempfile.mkdtemp(prefix="loyalty-metrics-")
        # Kept after the run: server errors are explained there.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="loyalty-gunicorn-", suffix=".log", delete=False
        )
        env = {
            **env,
            "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
        }
        self.process = subprocess.Popen(
            [*prefix, PYTHON, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("gunicorn did not start; see " + self.log.name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def __enter__(self) -> "Gunicorn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def call(
    base: str, method: str, path: str, key: str, body: Any = None, timeout: float = 300
) -> tuple[int, Any]:
    """One JSON request; returns (status, parsed body) for any status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - our own server
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw.decode("utf-8", "replace")


def machine() -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> str:
    """The commit measured, with "+changes" when the code (anything outside bench/) differs
    from it in the work tree."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return (head or "unknown") + ("+changes" if changed else "")


def postgres_version() -> str:
    with psycopg.connect(database_url("postgres")) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"
