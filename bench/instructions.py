"""Instructions the web process spends on an order, counted by callgrind: exact, repeatable,
blind to the machine's load.

    python -m config.embedded -- python -m bench.instructions [--orders 100] [--batches 3]

gunicorn runs with the production settings (``bench.server.PRODUCTION``) and
``config/gunicorn.py`` (its ``post_worker_init``: the GC frozen, its threshold raised) under
``valgrind --tool=callgrind --instr-atstart=no``, one worker, against a fresh scratch
database on the PostgreSQL of DATABASE_URL and the Redis of REDIS_URL (else the embedded
ones). This process is the client: real HTTP requests, one at a time, on one kept
connection a phase (as wrk sends them in ``bench.http``, and a proxy with upstream
keep-alive; ``--new-connections``: a connection each). After a warm-up that takes every
path of the order (new members, known ones, rewards' coupons, batches; settings cached,
statements prepared), each phase is counted alone: once the worker is idle its
instrumentation is switched on (``callgrind_control``), the phase's requests are sent, and
once it is idle again (the tail after the last response done) it is switched off and the
counts dumped. So a phase counts everything the worker does from accepting its first
request to finishing its last, and nothing else but its idle loop's wake-ups (one a second);
the ``idle`` phase, no request at all, shows what those weigh. Phases:

- ``single``: ``POST /api/v1/orders``, each order a known member's next order (members with
  1 to 5 orders before it: some of them reach the reward threshold and issue a coupon, as
  in a program that has run for a while), in two phases of ``--orders / 2`` whose agreement
  says no cost of the phase itself leaks into the figure;
- ``single_new_member``: the first order of a member not seen before (the member created);
- ``batch``: ``POST /api/v1/orders/batch`` of ``--batch-size`` orders to 500 known members
  (two orders each), ``--batches`` times; instructions of the whole request / its orders;
- ``healthz``: ``GET /healthz``, a request that does no work: the HTTP stack's own share.

Fixed data (member ids, external ids, amounts), a scratch database made anew each run and
``PYTHONHASHSEED=0`` make two runs count the same to well under 1%. Where this differs
from production's gunicorn, and why (valgrind runs the program tens of times slower, so
whatever expires with time would expire per request that much more often):

- one thread (``GUNICORN_THREADS=1``): requests come one at a time; with 16 threads they
  would land on whichever thread is idle, each with its own database connection, and the
  first request on a new thread would pay for its connection;
- ``CONN_MAX_AGE`` and ``WEBHOOK_ENDPOINTS_CACHE_SECONDS`` a day, ``GUNICORN_TIMEOUT`` an
  hour: in production a connection or the cached webhook endpoints are made anew once per
  thousands of orders; at valgrind's pace it would be every few dozen.
The log level is production's (INFO: each request writes its access-log line).
``--set NAME=VALUE`` changes a variable of the server's environment (an A/B of a setting).

Each phase also says how many of its instructions went to the cyclic garbage collector
(from the dump: CPython's ``gc_collect_main`` and what it calls). Collections are lumpy (the
GC's thresholds are counted in allocations: one of tens of millions of instructions falls in
one batch or the next), so a change that moves allocations can move one in or out of a
phase: compare the figures with and without it.

Prints a table, writes bench/results/instructions.json and ends with the line
``single_order_instructions=N batch_order_instructions=N``. The dumps stay in
var/callgrind/ for ``callgrind_annotate`` (where the instructions go, by C function).
"""

import argparse
import http.client
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.proc import children, wait_idle
from bench.server import (
    ROOT,
    Gunicorn,
    app_env,
    git_commit,
    machine,
    manage,
    postgres_version,
    recreate_database,
)
from bench.server import analyze as analyze_database

RESULTS = Path(__file__).parent / "results"
DUMPS = ROOT / "var" / "callgrind"
DATABASE = "loyalty_bench_instructions"
BATCH_MEMBERS = 500
WARM_BATCHES = 6

# Production's settings but for what valgrind's slowness would distort (module docstring).
UNDER_VALGRIND = {
    "PYTHONHASHSEED": "0",
    "LOG_LEVEL": "INFO",
    "GUNICORN_THREADS": "1",
    "GUNICORN_TIMEOUT": "3600",
    "CONN_MAX_AGE": "86400",
    "WEBHOOK_ENDPOINTS_CACHE_SECONDS": "86400",
}


def amount(n: int) -> str:
    """A fixed amount for order ``n``, from 10.00 to 199.99."""
    return f"{10 + (n * 37) % 190}.{(n * 53) % 100:02d}"


def order(external_id: str, member: str, n: int) -> dict[str, str]:
    return {"external_id": external_id, "member": member, "amount": amount(n), "currency": "EUR"}


class Client:
    """JSON requests on one kept HTTP/1.1 connection (as wrk and a proxy with upstream
    keep-alive send them), or on a new connection each (``keep_alive=False``)."""

    def __init__(self, url: str, key: str, *, keep_alive: bool) -> None:
        parsed = urlparse(url)
        self.address = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if not keep_alive:
            self.headers["Connection"] = "close"
        self.keep_alive = keep_alive
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(*self.address, timeout=3600)
        data = json.dumps(body).encode() if body is not None else None
        self.connection.request(method, path, body=data, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        if not self.keep_alive:
            self.close()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
        return json.loads(raw)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Phase:
    kind: str
    count: int  # orders (requests for healthz and idle)
    coupons: int  # issued by these orders
    instructions: int
    gc: int  # of which in the cyclic garbage collector


class Callgrind:
    """Switches and reads the counts of one process run under callgrind."""

    def __init__(self, pid: int, dumps: Path) -> None:
        self.pid = pid
        self.dumps = dumps

    def _control(self, *args: str) -> None:
        done = subprocess.run(
            ["callgrind_control", *args, str(self.pid)], capture_output=True, text=True,
            check=False, timeout=300,
        )  # fmt: skip
        if done.returncode != 0 or "OK" not in done.stdout:
            raise RuntimeError(f"callgrind_control {' '.join(args)}: {done.stdout}{done.stderr}")

    def count(self, name: str, send: Callable[[], int]) -> tuple[int, int, int]:
        """The instructions the process spends while ``send`` runs, from idle to idle, those
        of them in the garbage collector, and what ``send`` returned."""
        wait_idle(self.pid)
        self._control("--zero")
        self._control("--instr=on")
        sent = send()
        wait_idle(self.pid)
        self._control("--instr=off")
        before = set(self.dumps.glob(f"callgrind.out.{self.pid}.*"))
        self._control(f"--dump={name}")
        (dump,) = set(self.dumps.glob(f"callgrind.out.{self.pid}.*")) - before
        totals = [line for line in dump.read_text().splitlines() if line.startswith("totals:")]
        if not totals:
            raise RuntimeError(f"no totals in {dump}")
        return int(totals[0].split()[1]), gc_instructions(dump), sent


# A collection: CPython's gc_collect_main with what it calls (object deallocations too).
# Its lines inlined from headers are listed as functions of their own: added up.
_GC_LINE = re.compile(r"^\s*([\d,]+) .*:gc_collect_main(?: |$)")


def gc_instructions(dump: Path) -> int:
    """The instructions spent in the cyclic garbage collector (collections are lumpy: one
    lands in a phase or the next as allocations shift, so the figure says how much of a
    phase they are)."""
    listing = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no", str(dump)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = (_GC_LINE.match(line) for line in listing.splitlines())
    return sum(int(match.group(1).replace(",", "")) for match in found if match)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100, help="single orders measured")
    parser.add_argument("--new-members", type=int, default=50, help="first orders measured")
    parser.add_argument("--requests", type=int, default=50, help="GET /healthz measured")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--new-connections", action="store_true",
        help="a new connection for each request (a proxy without upstream keep-alive)",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="an environment variable for the server, after the ones above (an A/B of a setting)",
    )  # fmt: skip
    args = parser.parse_args()
    overrides = dict(UNDER_VALGRIND, **dict(item.split("=", 1) for item in args.set))
    for program in ("valgrind", "callgrind_control"):
        if not shutil.which(program):
            print(f"needs {program} on PATH (apt install valgrind)")
            return 2

    env = app_env(recreate_database(DATABASE))
    env.update(overrides)
    manage(env, "migrate", "--no-input")
    manage(env, "create_merchant", "bench", "--name", "Bench", "--currency", "EUR")
    key = manage(env, "create_api_key", "bench", "--scopes", "orders,checkout,manage")
    key = key.strip().splitlines()[-1]
    shutil.rmtree(DUMPS, ignore_errors=True)
    DUMPS.mkdir(parents=True)
    # --trace-children: without it valgrind turns off, in a forked child (the worker), the
    # channel callgrind_control speaks through (gunicorn's master execs nothing).
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes",
                f"--callgrind-out-file={DUMPS}/callgrind.out.%p"]  # fmt: skip

    def client(url: str) -> Client:
        return Client(url, key, keep_alive=not args.new_connections)

    # Each phase opens its connection: gunicorn closes one that waits more than 2 s.
    def singles(url: str, orders: list[dict[str, str]]) -> int:
        """POST each order; the coupons they issued."""
        with client(url) as session:
            return sum(
                len(session.request("POST", "/api/v1/orders", o, 201)["coupons_issued"])
                for o in orders
            )

    def batch(url: str, prefix: str, offset: int) -> int:
        orders = [order(f"{prefix}-{n}", f"b-{n % BATCH_MEMBERS}", offset + n)
                  for n in range(args.batch_size)]  # fmt: skip
        with client(url) as session:
            answer = session.request("POST", "/api/v1/orders/batch", {"orders": orders})
        if answer.get("created") != args.batch_size:
            raise RuntimeError(f"batch {prefix}: {str(answer)[:300]}")
        return sum(len(r["order"]["coupons_issued"]) for r in answer["results"])

    def healthz(url: str, requests: int) -> int:
        with client(url) as session:
            for _ in range(requests):
                session.request("GET", "/healthz")
        return 0

    half = args.orders // 2
    phases: list[Phase] = []
    with Gunicorn(env, workers=1, prefix=valgrind, start_timeout=900) as server:
        url = server.url
        (worker,) = children(server.process.pid)
        counter = Callgrind(worker, DUMPS)
        print(f"gunicorn worker {worker} under callgrind; warming up")
        # The program of bench.http: a reward threshold, so some orders issue a coupon.
        with client(url) as session:
            session.request("PUT", "/api/v1/program", {"thresholds": [
                {"points": 5000, "coupon": {"kind": "percent", "value": "10", "valid_days": 30}}
            ]})  # fmt: skip
        # Warm-up. Each member the singles measure gets 1 to 5 orders (balances spread below
        # and above the threshold: some measured orders issue a coupon, as in a program
        # that has run for a while), the batch members WARM_BATCHES batches of orders: every
        # statement runs more than psycopg's prepare_threshold (5) times, so it is prepared
        # on the server, as on a connection that has served for a while.
        singles(url, [order(f"warm-{n}-{k}", f"s-{n}", n + k)
                      for n in range(args.orders) for k in range(1 + n % 5)])  # fmt: skip
        for r in range(WARM_BATCHES):
            batch(url, f"warm-batch-{r}", 100 + r)
        analyze_database(DATABASE)

        # (kind, label, orders or requests, send): the phases, each counted on its own.
        measured: list[tuple[str, str, int, Callable[[], int]]] = [
            ("idle", "no request", 1, lambda: 0),
            ("healthz", "GET /healthz", args.requests, partial(healthz, url, args.requests)),
        ]
        measured += [
            ("single", f"single orders {first}-{last - 1}", last - first, partial(singles, url, [
                order(f"single-{n}", f"s-{n}", n + 5) for n in range(first, last)
            ]))
            for first, last in ((0, half), (half, args.orders))
        ]  # fmt: skip
        new_members = [order(f"new-{n}", f"n-{n}", n) for n in range(args.new_members)]
        measured.append(("single_new_member", "first orders of new members", args.new_members,
                         partial(singles, url, new_members)))  # fmt: skip
        measured += [
            ("batch", f"batch {r}", args.batch_size, partial(batch, url, f"batch-{r}", r))
            for r in range(args.batches)
        ]
        for kind, label, count, send in measured:
            instructions, gc, coupons = counter.count(label, send)
            phases.append(Phase(kind, count, coupons, instructions, gc))
            print(f"{label}: {instructions / count:,.0f} instructions each ({count}), "
                  f"{gc / count:,.0f} of them in GC; {coupons} coupons issued")  # fmt: skip
        alive = server.process.poll() is None and children(server.process.pid) == [worker]
        if not alive:
            raise RuntimeError(f"the worker {worker} did not live through the run")

    figures: dict[str, dict[str, Any]] = {}
    for phase in phases:
        row = figures.setdefault(phase.kind, {"instructions": 0, "gc_instructions": 0, "count": 0,
                                              "coupons": 0, "each_by_phase": []})  # fmt: skip
        row["instructions"] += phase.instructions
        row["gc_instructions"] += phase.gc
        row["count"] += phase.count
        row["coupons"] += phase.coupons
        row["each_by_phase"].append(round(phase.instructions / phase.count))
    for row in figures.values():
        row["instructions_each"] = round(row["instructions"] / row["count"])
        row["gc_each"] = round(row["gc_instructions"] / row["count"])
    single = figures["single"]["instructions_each"]
    batched = figures["batch"]["instructions_each"]
    report = {
        "benchmark": "instructions",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine(),
        "valgrind": subprocess.run(
            ["valgrind", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),  # fmt: skip
        "postgresql": postgres_version(),
        "settings": {
            "single_orders": args.orders,
            "new_member_orders": args.new_members,
            "healthz_requests": args.requests,
            "batches": args.batches,
            "batch_size": args.batch_size,
            "batch_members": BATCH_MEMBERS,
            "gunicorn": "1 worker, gthread, config/gunicorn.py",
            "connections": "one per request" if args.new_connections else "kept (one a phase)",
            "environment": overrides,
        },
        "single_order_instructions": single,
        "batch_order_instructions": batched,
        "batch_vs_single": round(batched / single, 3),
        "figures": figures,
        "dumps": str(DUMPS.relative_to(ROOT)),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "instructions.json").write_text(json.dumps(report, indent=2) + "\n")
    names = {
        "idle": "no request: the measurement's own floor",
        "healthz": "GET /healthz: the HTTP stack's share",
        "single": "POST /orders, a known member",
        "single_new_member": "POST /orders, a new member",
        "batch": f"POST /orders/batch, per order of {args.batch_size}",
    }
    print(f"\n{'instructions in the web process':42} {'each':>11} {'in GC':>8} {'count':>6} "
          f"{'coupons':>7}  each, by phase")  # fmt: skip
    for kind, row in figures.items():
        spread = ", ".join(f"{x:,}" for x in row["each_by_phase"])
        print(f"{names[kind]:42} {row['instructions_each']:>11,} {row['gc_each']:>8,} "
              f"{row['count']:>6} {row['coupons']:>7}  {spread}")  # fmt: skip
    print(f"callgrind dumps: {DUMPS} (callgrind_annotate FILE)")
    print(f"single_order_instructions={single} batch_order_instructions={batched}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
