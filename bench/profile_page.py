"""The customer's profile page, however long the member's history.

    python -m bench.profile_page [--orders 10000] [--requests 20] [--deep-page 40]

Makes the scratch database ``loyalty_bench_profile``, runs gunicorn (one worker, the
production settings, ``bench/server.py``) and sends, through the API, one order for one
member and ``--orders`` orders (batches of 1,000, placed over the last year) for another.
Each member signs in through a profile deep link; then ``--requests`` GETs of the page are
timed one at a time on a kept connection, after two untimed warm-up GETs:

- ``one_order``: the page of the member with one order;
- ``first_page``: the page of the member with ``--orders`` orders;
- ``deep_page``: page ``--deep-page`` of that history, reached by following the "Older"
  link page after page, as a reader would.

Prints the median (and the slowest) in milliseconds and writes bench/results/profile_page.json.
"""

import argparse
import http.client
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.proc import BACKEND, TICK, PostgresCPU, ServerCPU, children, cpu_ticks, seconds_by_kind
from bench.server import (
    Gunicorn,
    analyze,
    app_env,
    call,
    database_url,
    git_commit,
    machine,
    manage,
    recreate_database,
)

RESULTS = Path(__file__).parent / "results"
DB = "loyalty_bench_profile"
OLDER = re.compile(r'<a href="([^"]+)"[^>]*rel="next"')


class Page:
    """GETs of the profile page on one kept connection, with the member's session cookie."""

    def __init__(self, base: str, link: str) -> None:
        parsed = urlparse(base)
        self.address = (parsed.hostname or "127.0.0.1", parsed.port)
        self.connection = http.client.HTTPConnection(*self.address, timeout=300)
        path = urlparse(link).path
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        response.read()
        if response.status != 302:
            raise RuntimeError(f"deep link: {response.status}")
        cookies = response.headers.get_all("Set-Cookie") or []
        self.cookie = "; ".join(c.split(";", 1)[0] for c in cookies)

    def get(self, path: str) -> tuple[float, str]:
        try:
            return self._get(path)
        except (http.client.RemoteDisconnected, ConnectionError):
            # gunicorn closes a kept connection idle for 2 s: a new one, and time again.
            self.connection.close()
            self.connection = http.client.HTTPConnection(*self.address, timeout=300)
            return self._get(path)

    def _get(self, path: str) -> tuple[float, str]:
        started = time.perf_counter()
        self.connection.request("GET", path, headers={"Cookie": self.cookie})
        response = self.connection.getresponse()
        body = response.read().decode()
        took = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]}")
        return took, body

    def older(self, path: str, pages: int) -> str:
        """The path of the page ``pages`` pages older than ``path``, by its "Older" links."""
        for _ in range(pages):
            _took, body = self.get(path)
            found = OLDER.search(body)
            if found is None:
                raise RuntimeError(f"no older page after {path}")
            path = "/profile/" + unescape(found.group(1)).split("#")[0]
        return path

    def median_ms(self, path: str, requests: int, cpu: "CPU") -> dict[str, float | None]:
        for _ in range(2):
            self.get(path)
        before = cpu.read()
        times = [self.get(path)[0] * 1000 for _ in range(requests)]
        worker_ms, database_ms = cpu.per_request_ms(before, requests)
        return {
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
            # CPU spent per request, which other work on the machine disturbs far less
            # than the wall clock: the gunicorn worker's, and PostgreSQL's for the database.
            "worker_cpu_ms": worker_ms,
            "database_cpu_ms": database_ms,
        }

    def close(self) -> None:
        self.connection.close()


class CPU:
    """CPU seconds of the one gunicorn worker and of PostgreSQL's backends of the bench
    database (read from /proc; the database's part is None for a server elsewhere)."""

    def __init__(self, server: Gunicorn) -> None:
        (self.worker,) = children(server.process.pid)
        self.postgres = PostgresCPU(database_url(DB))

    def read(self) -> tuple[int, ServerCPU | None]:
        return cpu_ticks(self.worker), self.postgres.read()

    def per_request_ms(
        self, before: tuple[int, ServerCPU | None], requests: int
    ) -> tuple[float, float | None]:
        ticks, server = self.read()
        worker = (ticks - before[0]) / TICK / requests * 1000
        if server is None or before[1] is None:
            return round(worker, 2), None
        database = seconds_by_kind(before[1], server).get(BACKEND + DB, 0.0)
        return round(worker, 2), round(database / requests * 1000, 2)


def fill(base: str, key: str, orders: int) -> None:
    """One order for ``one``, ``orders`` orders for ``many``, placed over the last year."""
    now = datetime.now(UTC)
    status, body = call(base, "POST", "/api/v1/orders", key, {
        "external_id": "one-1", "member": "one", "amount": "30.90", "currency": "EUR",
    })  # fmt: skip
    if status != 201:
        raise RuntimeError(f"order: {status} {body}")
    for start in range(0, orders, 1000):
        batch = [
            {
                "external_id": f"many-{n}",
                "member": "many",
                "amount": f"{10 + n % 90}.{n % 100:02d}",
                "currency": "EUR",
                "placed_at": (now - timedelta(minutes=50 * (orders - n))).isoformat(),
            }
            for n in range(start, min(start + 1000, orders))
        ]
        status, body = call(base, "POST", "/api/v1/orders/batch", key, {"orders": batch})
        if status not in (200, 201) or body.get("created") != len(batch):
            raise RuntimeError(f"batch at {start}: {status} {str(body)[:300]}")


def sign_in(base: str, key: str, member: str) -> Page:
    status, body = call(base, "POST", f"/api/v1/members/{member}/profile-link", key, {})
    if status != 201:
        raise RuntimeError(f"profile link: {status} {body}")
    return Page(base, body["url"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--deep-page", type=int, default=40)
    args = parser.parse_args()
    # The page's css and js are served from their manifest, as in production.
    static = tempfile.mkdtemp(prefix="loyalty-static-")
    env = app_env(recreate_database(DB), STATIC_ROOT=static)
    manage(env, "migrate", "--no-input")
    manage(env, "collectstatic", "--no-input")
    manage(env, "create_merchant", "bench", "--name", "Bench", "--currency", "EUR")
    key = manage(env, "create_api_key", "bench", "--scopes", "orders,checkout,manage")
    key = key.strip().splitlines()[-1].strip()
    results: dict[str, Any] = {}
    with Gunicorn(env, workers=1) as server:
        fill(server.url, key, args.orders)
        analyze(DB)
        one, many = sign_in(server.url, key, "one"), sign_in(server.url, key, "many")
        cpu = CPU(server)
        try:
            results["one_order"] = one.median_ms("/profile/", args.requests, cpu)
            results["first_page"] = many.median_ms("/profile/", args.requests, cpu)
            deep = many.older("/profile/", args.deep_page - 1)
            results["deep_page"] = {"path": deep, **many.median_ms(deep, args.requests, cpu)}
        finally:
            one.close()
            many.close()
            shutil.rmtree(static, ignore_errors=True)
    report = {
        "benchmark": "profile_page",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "orders": args.orders,
        "requests": args.requests,
        "deep_page": args.deep_page,
        **results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile_page.json").write_text(json.dumps(report, indent=2) + "\n")
    for name in ("one_order", "first_page", "deep_page"):
        found = results[name]
        sys.stdout.write(
            f"{name:12} median {found['median_ms']:7.1f} ms  max {found['max_ms']} ms  "
            f"worker CPU {found['worker_cpu_ms']} ms  database CPU {found['database_cpu_ms']} ms\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
