"""The newcomer's path, as CI walks it: on a fresh clone with nothing configured, `make run`
installs, starts the embedded PostgreSQL and Redis, writes the demo data and serves; the
printed key and profile link work; Ctrl-C then leaves no process of it behind.

Usage: python3 .ci/smoke.py [REPO]  (REPO: the checkout to clone; default: this one).
Standard library only: it runs before anything is installed.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

READY_TIMEOUT = 240  # install included: the budget is 120 s on a quiet machine
STOP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call(method: str, url: str, key: str = "", body: dict | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def processes_of(clone: Path) -> list[str]:
    """Processes whose command line or working directory is inside the clone."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(clone) in command or cwd.startswith(str(clone)):
            found.append(f"{entry.name}: {command.strip()}")
    return found


def main(repo: Path) -> int:
    clone = Path(tempfile.mkdtemp(prefix="loyalty-smoke-"))
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)  # noqa: S603, S607
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    port = free_port()
    log_path = clone / "smoke-run.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        run = subprocess.Popen(  # noqa: S603
            ["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=log,  # noqa: S607
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    failures: list[str] = []
    try:
        banner = ""
        while "Profile link:" not in banner:
            if run.poll() is not None:
                raise SystemExit(f"make run exited with {run.returncode}:\n{log_path.read_text()}")
            if time.monotonic() - started > READY_TIMEOUT:
                raise SystemExit(f"no banner in {READY_TIMEOUT} s:\n{log_path.read_text()}")
            time.sleep(1)
            banner = log_path.read_text()
        ready = time.monotonic() - started
        print(f"make run answered in {ready:.0f} s (fresh clone, install included)")  # noqa: T201
        site = f"http://127.0.0.1:{port}"
        key = re.search(r"API key:\s+(\S+)", banner)
        link = re.search(r"Profile link:\s+(\S+)", banner)
        if key is None or link is None:
            raise SystemExit(f"no API key or profile link in the banner:\n{banner}")
        checks = [
            ("GET /readyz", call("GET", f"{site}/readyz"), 200),
            ("GET /api/v1/program", call("GET", f"{site}/api/v1/program", key[1]), 200),
            (
                "POST /api/v1/orders",
                call(
                    "POST",
                    f"{site}/api/v1/orders",
                    key[1],
                    {
                        "external_id": "SMOKE-1",
                        "member": "smoke-member",
                        "amount": "42.50",
                        "currency": "EUR",
                    },
                ),
                201,
            ),  # fmt: skip
            ("the printed profile link", call("GET", link[1]), 200),
            ("GET /admin/login/", call("GET", f"{site}/admin/login/"), 200),
        ]
        for name, (status, body), expected in checks:
            verdict = "ok" if status == expected else f"FAILED ({body[:300]})"
            print(f"  {name}: {status} {verdict}")  # noqa: T201
            if status != expected:
                failures.append(name)
        if "readyz" not in failures and '"broker": "ok"' not in checks[0][1][1]:
            failures.append("readyz without the broker")
    finally:
        # Ctrl-C, as a person stops it: SIGINT to the terminal's process group.
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            failures.append(f"make run did not stop within {STOP_TIMEOUT} s")
            os.killpg(run.pid, signal.SIGKILL)
        time.sleep(2)
        left = processes_of(clone)
        if left:
            failures.append("processes left after Ctrl-C:\n  " + "\n  ".join(left))
    print(log_path.read_text()[-3000:] if failures else "stopped; no process left")  # noqa: T201
    if failures:
        print("SMOKE FAILED: " + "; ".join(failures))  # noqa: T201
        return 1
    shutil.rmtree(clone, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
