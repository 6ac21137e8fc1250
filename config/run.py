"""``make run``: the production shape on this machine, with demo data.

With the embedded PostgreSQL and Redis up (config/embedded.py; a DATABASE_URL or
REDIS_URL that is set wins), it migrates, writes the demo data when the database has
none (``make demo`` writes it anew), then starts what production runs: gunicorn with
the production's configuration (reloading on code changes), a Celery worker and
Celery beat, all with the local settings (DEBUG on). Once the site answers it prints
where to go. Ctrl-C or SIGTERM stops all of it, then the servers; so does any of
the three exiting on its own.

Each child runs in a process group of its own and is told by the kernel when this
process dies (PR_SET_PDEATHSIG), so even a ``kill -9`` of this process leaves no
web server holding the port: nothing a crash leaves blocks the next run.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from config import embedded

BASE_DIR = embedded.BASE_DIR
READY_TIMEOUT = 90  # seconds for the web server to answer /readyz
STOP_TIMEOUT = 20  # seconds for the children to stop before they are killed


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux), and a group of its
    own, so Ctrl-C reaches it only through this process, in order."""
    os.setpgrp()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _commands(host: str, port: int) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    var = embedded.VAR
    return {
        "web": [
            str(bin_dir / "gunicorn"), "config.wsgi", "-c", str(BASE_DIR / "config/gunicorn.py"),
            "--bind", f"{host}:{port}", "--reload",
        ],
        "worker": [str(bin_dir / "celery"), "-A", "config", "worker", "--loglevel=INFO"],
        "beat": [
            str(bin_dir / "celery"), "-A", "config", "beat", "--loglevel=INFO",
            "--schedule", str(var / "celerybeat-schedule"),
        ],
    }  # fmt: skip


def _prepare(*, reset: bool) -> list[str]:
    """Migrate and write the demo data if there is none; the guide's lines."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from loyalty import demo

    if reset:
        embedded.database_reset()
    call_command("migrate", interactive=False, verbosity=0)
    if demo.demo_present():
        print("Demo data: already there (`make demo` writes it anew).", flush=True)  # noqa: T201
    else:
        call_command("seed_demo", "--no-guide")
    guide = demo.demo_guide(site=settings.SITE_URL.rstrip("/"))
    connections.close_all()
    return guide


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    # Each main process stops its own (gunicorn its workers, Celery its pool, after the tasks
    # at hand); only what is still there at the deadline is killed, group and all.
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


class _Stop(Exception):
    pass


def _on_signal(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def serve(*, host: str, port: int, reset: bool) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # Links in emails and in the guide point at where this runs (unless SITE_URL says).
    embedded.read_dotenv()
    os.environ.setdefault("SITE_URL", f"http://{host}:{port}")
    if reset and not embedded.wanted()[0]:
        print("DATABASE_URL is set: --reset drops only the embedded database.", file=sys.stderr)  # noqa: T201
        return 2
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    children: dict[str, subprocess.Popen[bytes]] = {}
    with embedded.services():
        # Each web worker writes its metrics here, /metrics adds them up (as in production).
        metrics = embedded.VAR / "run" / "prometheus"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        try:
            guide = _prepare(reset=reset)
            for name, command in _commands(host, port).items():
                children[name] = subprocess.Popen(  # noqa: S603 - our own programs
                    command, cwd=BASE_DIR, preexec_fn=_die_with_parent
                )
            site = f"http://{host}:{port}"
            deadline = time.monotonic() + READY_TIMEOUT
            while not _answers(f"{site}/readyz"):
                _check_alive(children)
                if time.monotonic() > deadline:
                    raise _Stop(f"the web server did not answer {site}/readyz")
                time.sleep(0.2)
            _banner(site, guide)
            while True:
                _check_alive(children)
                time.sleep(0.5)
        except _Stop as reason:
            print(f"\nStopping ({reason}): web server, worker, beat, then the databases.")  # noqa: T201
            return 0 if str(reason) in ("SIGINT", "SIGTERM") else 1
        finally:
            _stop(children)


def _check_alive(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for name, child in children.items():
        if child.poll() is not None:
            raise _Stop(f"the {name} exited with status {child.returncode}")


def _banner(site: str, guide: list[str]) -> None:
    rule = "=" * 78
    lines = [rule, f"Running at {site}/  (Ctrl-C stops everything)", *guide, rule]
    print("\n".join(lines), flush=True)  # noqa: T201


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.run", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--reset", action="store_true", help="drop the embedded database and write the demo anew"
    )
    options = parser.parse_args(argv)
    try:
        return serve(host=options.host, port=options.port, reset=options.reset)
    except embedded.EmbeddedError as error:
        print(error, file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
