"""Ingestion through the real stack, against the database's own limit.

    python -m bench.http [--seconds 20] [--clients 16] [--workers 2]

In one run, on the PostgreSQL of DATABASE_URL:
1. ``pgbench`` (its built-in TPC-B-like script: small write transactions) with
   the same number of clients, on its own scratch database: the server's limit.
   Then ``GET /healthz`` from wrk: a request that does no work, the ceiling of the HTTP
   stack itself on this machine, to read the order figures against.
2. ``POST /api/v1/orders`` through gunicorn (production settings) from ``wrk``,
   a separate load process, with ``--clients`` connections: orders/s, p50/p99,
   and the ratio to pgbench's TPS (target >= 0.3).
3. ``POST /api/v1/orders/batch`` with 1,000 orders per request from
   ``--batch-clients`` clients, each syncing its own members: orders/s and the
   ratio to pgbench (target >= 2).
4. ``POST /api/v1/coupons/{code}/validate`` (the checkout's read path) from wrk.
5. ``check_ledger`` over everything written.
Around each phase, the PostgreSQL server's CPU time (``bench.proc.PostgresCPU``: the
postmaster and all its processes, from /proc) over what the phase did: CPU per pgbench
transaction, per order written (counted in the database), per request. Once the web
processes run on other machines, the server's CPU per order is what bounds the orders a
second (1 / it, per core of the database machine); pgbench's per transaction is the yard
stick. Its parts: the app's connections, the background processes (WAL writer,
checkpointer, ...), the rest (the postmaster, and processes that ended within the phase:
connections closed, autovacuum workers, pgbench's); and for single orders the orders group
commit wrote per transaction (from /metrics), which the figure follows. It is the
whole server's: run it on a server of its own (the embedded one, as `make bench` does);
"others" is the CPU that backends of other databases took meanwhile (a lower bound), to see
when it is not.
Writes bench/results/http.json (figures, ratios, machine and its load average
before and after, date, git commit) and prints a table. The machine may be shared: the
load average says how much.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from bench.proc import BACKEND, PostgresCPU, seconds_by_kind
from bench.server import (
    ROOT,
    Gunicorn,
    analyze,
    app_env,
    call,
    database_url,
    git_commit,
    machine,
    manage,
    postgres_version,
    recreate_database,
)

RESULTS = Path(__file__).parent / "results"
LUA = Path(__file__).parent / "lua"
BENCH_DB = "loyalty_bench_http"
PGBENCH_DB = "loyalty_bench_pgbench"
MEMBERS = 5000
# After a phase, the requests still in flight finish before the server's CPU is read again:
# their work belongs to the phase (they are counted in the orders written too).
SETTLE_SECONDS = 1.0
T = TypeVar("T")


def server_cpu(
    cpu: PostgresCPU, run: Callable[[], T], *, app: bool = True
) -> tuple[T, dict[str, Any]]:
    """``run()``'s result and the PostgreSQL server's CPU over it: seconds, cores busy on
    average, the part of other databases' backends; for the app (``app``) the part of its
    connections (those kept through the phase) and the orders it wrote."""
    orders_in = database_url(BENCH_DB) if app else None
    orders_before = _orders(orders_in) if orders_in else 0
    before = cpu.read()
    started = time.perf_counter()
    result = run()
    wall = time.perf_counter() - started
    time.sleep(SETTLE_SECONDS)
    after = cpu.read()
    figures: dict[str, Any] = {}
    if before is not None and after is not None:
        seconds = after.seconds - before.seconds
        by_kind = seconds_by_kind(before, after)
        backends = {k.removeprefix(BACKEND): v for k, v in by_kind.items() if k.startswith(BACKEND)}
        background = {k: round(v, 2) for k, v in by_kind.items() if not k.startswith(BACKEND)}
        ours = {BENCH_DB, PGBENCH_DB, "postgres"}
        figures = {
            "seconds": round(seconds, 2),
            "cores": round(seconds / wall, 2),
            "others_seconds": round(sum(v for k, v in backends.items() if k not in ours), 2),
            "background_seconds": round(sum(background.values()), 2),
            "background": background,
            # The postmaster itself and the processes that ended within the phase (connections
            # closed, autovacuum workers): in the total, not in any part above.
            "rest_seconds": round(seconds - sum(by_kind.values()), 2),
        }
        if app:
            figures["app_connections_seconds"] = round(backends.get(BENCH_DB, 0.0), 2)
    if orders_in:
        figures["orders_written"] = _orders(orders_in) - orders_before
    return result, figures


def order_groups(url: str) -> tuple[float, float]:
    """(orders, transactions) that group commit has written so far, from the server's
    /metrics (``loyalty_order_group_size``: one observation a transaction of single orders);
    (0, 0) when the server has no such metric."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:  # noqa: S310
        text = response.read().decode()
    totals = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for part in totals:
            if line.startswith(f"loyalty_order_group_size_{part}"):
                totals[part] += float(line.rsplit(" ", 1)[1])
    return totals["sum"], totals["count"]


def _orders(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM loyalty_order").fetchone()
        return int(row[0]) if row else 0


def per_unit(figures: dict[str, Any], units: int, unit: str) -> dict[str, Any]:
    """The server's CPU per ``unit`` (ms) and the units one of its cores does a second."""
    if "seconds" not in figures or not units or not figures["seconds"]:
        return figures
    return figures | {
        f"ms_per_{unit}": round(figures["seconds"] * 1000 / units, 3),
        f"{unit}s_per_core_second": round(units / figures["seconds"], 1),
    }


def pgbench(*, clients: int, seconds: int, cpu: PostgresCPU) -> dict[str, Any]:
    url = recreate_database(PGBENCH_DB)
    scale = max(clients, 10)  # a branch per client at least: no artificial row contention
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), url], check=True,
                   capture_output=True)  # fmt: skip
    command = ["pgbench", "-n", "-c", str(clients), "-j", str(min(clients, 4)),
               "-T", str(seconds), url]  # fmt: skip
    done, used = server_cpu(
        cpu, lambda: subprocess.run(command, check=True, capture_output=True, text=True), app=False
    )
    tps = float(re.findall(r"tps = ([\d.]+)", done.stdout)[-1])
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    transactions = int(re.findall(r"transactions actually processed: (\d+)", done.stdout)[-1])
    return {
        "name": f"pgbench TPC-B-like, {clients} clients",
        "tps": round(tps, 1),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "scale": scale,
        "transactions": transactions,
        "postgres_cpu": per_unit(used, transactions, "transaction"),
    }


def wrk(
    *, url: str, script: str, args: list[str], clients: int, seconds: int
) -> dict[str, Any]:  # fmt: skip
    threads = min(clients, 2)
    done = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "30s",
         "-s", str(LUA / script), url, "--", *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    ok = raw["requests"] - raw["status_errors"]
    return {
        "requests": raw["requests"],
        "errors": raw["status_errors"] + raw["socket_errors"],
        "per_second": round(ok / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
    }


def batches(*, url: str, key: str, clients: int, size: int, rounds: int) -> dict[str, Any]:
    """Each client syncs its own shop's members (as separate integrators would)."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(c: int) -> None:
        barrier.wait()
        for r in range(rounds):
            orders = [
                {"external_id": f"batch-{c}-{r}-{n}", "member": f"b{c}-{n % (size // 2)}",
                 "amount": f"{10 + n % 190}.{n % 100:02d}", "currency": "EUR"}
                for n in range(size)
            ]  # fmt: skip
            t0 = time.perf_counter()
            status, body = call(url, "POST", "/api/v1/orders/batch", key, {"orders": orders})
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                if status != 200 or body.get("created") != size:
                    failures.append(f"{status}: {str(body)[:200]}")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "orders": len(latencies) * size,
        "errors": len(failures),
        "first_error": failures[0] if failures else None,
        "per_second": round(len(latencies) * size / wall, 1),
        "batch_p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
        "batch_max_ms": round(ordered[-1] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (16 threads each)")
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("pgbench"):
        print("needs wrk and pgbench on PATH (apt install wrk postgresql-client)")
        return 2

    load_before = machine()["loadavg"]
    cpu = PostgresCPU(database_url("postgres"))
    if not cpu.available:
        print("PostgreSQL runs elsewhere (not a process of this machine): no CPU figures")
    pg = pgbench(clients=args.clients, seconds=args.seconds, cpu=cpu)
    print(f"pgbench: {pg['tps']} tps, {_cpu_line(pg['postgres_cpu'], 'transaction')}")

    env = app_env(recreate_database(BENCH_DB))
    manage(env, "migrate", "--no-input")
    manage(env, "create_merchant", "bench", "--name", "Bench", "--currency", "EUR")
    key = manage(env, "create_api_key", "bench", "--scopes", "orders,checkout,manage")
    key = key.strip().splitlines()[-1]

    figures: dict[str, Any] = {}
    with Gunicorn(env, workers=args.workers) as server:
        # A reward threshold, so some orders convert points into coupons, as in real life.
        status, _ = call(server.url, "PUT", "/api/v1/program", key, {"thresholds": [
            {"points": 5000, "coupon": {"kind": "percent", "value": "10", "valid_days": 30}}
        ]})  # fmt: skip
        assert status == 200, status
        call(server.url, "PUT", "/api/v1/members/shopper", key, {"email": "s@example.com"})
        status, grant = call(server.url, "POST", "/api/v1/members/shopper/grants", key,
                             {"points": 5000, "reason": "benchmark coupon"})  # fmt: skip
        assert status == 201, grant
        code = grant["coupons_issued"][0]["code"]
        # Warm up every worker (imports, connections) before measuring.
        wrk(url=server.url, script="orders.lua", args=[key, "warm", str(MEMBERS)],
            clients=args.clients, seconds=3)  # fmt: skip
        analyze(BENCH_DB)

        figures["healthz"], used = server_cpu(cpu, lambda: wrk(
            url=server.url, script="healthz.lua", args=[], clients=args.clients,
            seconds=max(args.seconds // 2, 5),
        ))  # fmt: skip
        figures["healthz"]["postgres_cpu"] = per_unit(
            used, figures["healthz"]["requests"], "request"
        )
        print(f"healthz: {figures['healthz']['per_second']} requests/s")
        grouped_before = order_groups(server.url)
        figures["orders"], used = server_cpu(cpu, lambda: wrk(
            url=server.url, script="orders.lua", args=[key, "run", str(MEMBERS)],
            clients=args.clients, seconds=args.seconds,
        ))  # fmt: skip
        figures["orders"]["postgres_cpu"] = per_unit(used, used["orders_written"], "order")
        grouped, transactions = (a - b for a, b in zip(order_groups(server.url), grouped_before,
                                                       strict=True))  # fmt: skip
        # Group commit: the fewer transactions, the less PostgreSQL works an order.
        figures["orders"]["orders_per_transaction"] = (
            round(grouped / transactions, 2) if transactions else None
        )
        print(f"orders: {figures['orders']['per_second']} orders/s, "
              f"{figures['orders']['orders_per_transaction']} orders a transaction, "
              f"{_cpu_line(figures['orders']['postgres_cpu'], 'order')}")  # fmt: skip
        figures["batch"], used = server_cpu(cpu, lambda: batches(
            url=server.url, key=key, clients=args.batch_clients, size=args.batch_size,
            rounds=args.batch_rounds,
        ))  # fmt: skip
        figures["batch"]["postgres_cpu"] = per_unit(used, used["orders_written"], "order")
        print(f"batch: {figures['batch']['per_second']} orders/s, "
              f"{_cpu_line(figures['batch']['postgres_cpu'], 'order')}")  # fmt: skip
        figures["validate"], used = server_cpu(cpu, lambda: wrk(
            url=server.url, script="validate.lua", args=[key, code, "shopper"],
            clients=args.clients, seconds=args.seconds,
        ))  # fmt: skip
        figures["validate"]["postgres_cpu"] = per_unit(
            used, figures["validate"]["requests"], "request"
        )
        print(f"validate: {figures['validate']['per_second']} requests/s")
    audit = subprocess.run(
        [sys.executable, "manage.py", "check_ledger"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    report = {
        "benchmark": "http",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine() | {"loadavg_before": load_before},
        "redis": env.get("REDIS_URL"),
        "postgresql": postgres_version(),
        "settings": {
            "clients": args.clients,
            "gunicorn_workers": args.workers,
            "seconds": args.seconds,
            "batch_clients": args.batch_clients,
            "batch_size": args.batch_size,
            "members": MEMBERS,
        },
        "pgbench": pg,
        "healthz": figures["healthz"]
        | {"ratio_to_pgbench": round(figures["healthz"]["per_second"] / pg["tps"], 3)},  # fmt: skip
        "orders": figures["orders"]
        | {"ratio_to_pgbench": round(figures["orders"]["per_second"] / pg["tps"], 3)},  # fmt: skip
        "orders_batch": figures["batch"]
        | {"ratio_to_pgbench": round(figures["batch"]["per_second"] / pg["tps"], 3)},  # fmt: skip
        "coupon_validate": figures["validate"],
        "check_ledger": {
            "ok": audit.returncode == 0,
            "output": audit.stdout.strip() or audit.stderr.strip()[-500:],
        },  # fmt: skip
        "database_url": database_url(BENCH_DB).rsplit("@", 1)[-1],
        "postgres_cpu": {
            "postmaster_pid": cpu.postmaster,
            "how": "utime+stime (+ reaped children's) of the postmaster and its processes, "
            "from /proc, before and after each phase (+1 s for requests in flight)",
            "order_vs_pgbench_transaction": _cpu_ratio(figures["orders"], pg),
            "batch_order_vs_pgbench_transaction": _cpu_ratio(figures["batch"], pg),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "http.json").write_text(json.dumps(report, indent=2) + "\n")
    _print(report)
    failed = figures["orders"]["errors"] or figures["batch"]["errors"] or audit.returncode
    return 1 if failed else 0


def _cpu_line(used: dict[str, Any], unit: str) -> str:
    if f"ms_per_{unit}" not in used:
        return "no PostgreSQL CPU figure"
    others = f", others' backends {used['others_seconds']} s" if used["others_seconds"] else ""
    app = used.get("app_connections_seconds")
    app = "" if app is None else f"app's connections {app} s, "
    return (f"PostgreSQL {used[f'ms_per_{unit}']} ms CPU per {unit} ({used['seconds']} s: "
            f"{app}background {used['background_seconds']} s, the rest "
            f"{used['rest_seconds']} s; {used['cores']} cores{others})")  # fmt: skip


def _cpu_ratio(phase: dict[str, Any], pg: dict[str, Any]) -> float | None:
    """The server's CPU for an order over that for a pgbench transaction."""
    order = phase["postgres_cpu"].get("ms_per_order")
    transaction = pg["postgres_cpu"].get("ms_per_transaction")
    return round(order / transaction, 2) if order and transaction else None


def _print(report: dict[str, Any]) -> None:
    pg = report["pgbench"]
    clients = report["settings"]["clients"]
    orders, batch, validate = report["orders"], report["orders_batch"], report["coupon_validate"]
    healthz = report["healthz"]
    rows = [
        (pg["name"], f"{pg['tps']} tps", "", "", "1.00", _pg_ms(pg, "transaction")),
        (f"GET /healthz ({clients} clients: no work, the ceiling)",
         f"{healthz['per_second']} /s", healthz["p50_ms"], healthz["p99_ms"],
         f"{healthz['ratio_to_pgbench']:.2f}", _pg_ms(healthz, "request")),
        (f"POST /orders ({clients} clients, wrk)", f"{orders['per_second']} /s",
         orders["p50_ms"], orders["p99_ms"], f"{orders['ratio_to_pgbench']:.2f}",
         _pg_ms(orders, "order")),
        (f"POST /orders/batch ({report['settings']['batch_clients']} x "
         f"{report['settings']['batch_size']})", f"{batch['per_second']} orders/s",
         batch["batch_p50_ms"], batch["batch_max_ms"], f"{batch['ratio_to_pgbench']:.2f}",
         _pg_ms(batch, "order")),
        ("POST /coupons/{code}/validate", f"{validate['per_second']} /s", validate["p50_ms"],
         validate["p99_ms"], "", _pg_ms(validate, "request")),
    ]  # fmt: skip
    print(f"\n{'benchmark':44} {'rate':>20} {'p50 ms':>9} {'p99 ms':>9} {'x pgbench':>9} "
          f"{'pg CPU ms':>10}")  # fmt: skip
    for name, rate, p50, p99, ratio, pg_ms in rows:
        print(f"{name:44} {rate:>20} {p50!s:>9} {p99!s:>9} {ratio:>9} {pg_ms:>10}")
    print("(batch row: p50 and max are per request of the whole batch; pg CPU ms: the")
    print(" PostgreSQL server's CPU per transaction, request or order written)")
    ratios = report["postgres_cpu"]
    if ratios["order_vs_pgbench_transaction"]:
        single, batched = (
            ratios[f"{kind}_vs_pgbench_transaction"] for kind in ("order", "batch_order")
        )
        print(f"PostgreSQL CPU of an order = {single} pgbench transactions (single), "
              f"{batched} (batch)")  # fmt: skip
    print(f"check_ledger: {report['check_ledger']['output']}")
    print(f"Redis (broker, guard counters): {report['redis'] or 'none: tasks ran in the request'}")
    print(f"load average before {report['machine']['loadavg_before']}, "
          f"after {report['machine']['loadavg']} on {report['machine']['cpus']} cpus")  # fmt: skip


def _pg_ms(phase: dict[str, Any], unit: str) -> str:
    value = phase["postgres_cpu"].get(f"ms_per_{unit}")
    return "" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
