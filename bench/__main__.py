"""Order ingestion and ledger benchmarks against a scratch PostgreSQL database.

    python -m bench [--orders 3000] [--threads 8]

Creates (and drops first) the database ``loyalty_bench`` on the server of
DATABASE_URL (else the embedded PostgreSQL), migrates it, and
measures:
- order_record called directly (the service: locks, ledger, constraints);
- POST /api/v1/orders through Django's full stack in process (middleware, auth,
  DRF, serializers), one client;
- the service from N threads at once, each with its own connection;
- queries per order, and ledger_audit over everything written.
Prints a table and writes bench/results/orders.json.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

RESULTS = Path(__file__).parent / "results"


def _prepare_database() -> None:
    from config import embedded

    base = os.environ.get("DATABASE_URL") or embedded.postgres_url()
    parsed = urlparse(base)
    os.environ["DATABASE_URL"] = parsed._replace(path="/loyalty_bench").geturl()
    from bench.server import PRODUCTION

    for name, value in PRODUCTION.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("REDIS_URL", embedded.redis_url())

    import psycopg

    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS loyalty_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE loyalty_bench")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def _summary(name: str, latencies: list[float], wall: float) -> dict[str, float | str | int]:
    return {
        "name": name,
        "operations": len(latencies),
        "per_second": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--members", type=int, default=300)
    args = parser.parse_args()
    _prepare_database()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from loyalty.services.api_keys import api_key_create
    from loyalty.services.ledger import ledger_audit
    from loyalty.services.merchants import merchant_create
    from loyalty.services.orders import order_record

    merchant = merchant_create(slug="bench", name="Bench", currency="EUR")
    program = merchant.program
    results = []

    def one_order(n: int, prefix: str) -> None:
        order_record(
            program=program,
            external_id=f"{prefix}-{n}",
            member_external_id=f"m-{n % args.members}",
            amount=Decimal("10.00") + Decimal(n % 500) / 10,
            currency="EUR",
        )

    # Warm up (connections, first member rows), then count queries for one order.
    for n in range(args.members):
        one_order(n, "warm")
    with CaptureQueriesContext(connection) as ctx:
        one_order(10**9, "count")
    queries_per_order = len(ctx.captured_queries)

    latencies = []
    start = time.perf_counter()
    for n in range(args.orders):
        t0 = time.perf_counter()
        one_order(n, "svc")
        latencies.append(time.perf_counter() - t0)
    results.append(
        _summary("order_record (service, 1 thread)", latencies, time.perf_counter() - start)
    )

    _, raw_key = api_key_create(merchant=merchant, scopes=["orders"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    latencies = []
    start = time.perf_counter()
    for n in range(args.orders):
        body = {
            "external_id": f"http-{n}",
            "member": f"m-{n % args.members}",
            "amount": "42.50",
            "currency": "EUR",
        }
        t0 = time.perf_counter()
        response = client.post("/api/v1/orders", body, content_type="application/json")
        latencies.append(time.perf_counter() - t0)
        assert response.status_code == 201, response.content
    results.append(
        _summary(
            "POST /api/v1/orders (in process, 1 client)", latencies, time.perf_counter() - start
        )
    )

    per_thread = args.orders // args.threads
    thread_latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.threads)

    def worker(t: int) -> None:
        mine = []
        barrier.wait()
        for n in range(per_thread):
            t0 = time.perf_counter()
            one_order(t * per_thread + n, "thr")
            mine.append(time.perf_counter() - t0)
        with lock:
            thread_latencies.extend(mine)
        connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.append(
        _summary(
            f"order_record ({args.threads} threads)", thread_latencies, time.perf_counter() - start
        )
    )

    t0 = time.perf_counter()
    mismatches = ledger_audit()
    audit_seconds = time.perf_counter() - t0
    from loyalty.models import LedgerEntry

    entries = LedgerEntry.objects.count()

    report = {
        "benchmark": "orders",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "database": connection.vendor + " " + ".".join(map(str, connection.pg_version_tuple()))
        if hasattr(connection, "pg_version_tuple")
        else connection.vendor,
        "queries_per_order": queries_per_order,
        "results": results,
        "ledger_audit": {
            "entries": entries,
            "seconds": round(audit_seconds, 3),
            "mismatches": len(mismatches),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "orders.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'benchmark':48} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for row in results:
        print(
            f"{row['name']:48} {row['operations']:>6} {row['per_second']:>8} "
            f"{row['p50_ms']:>8} {row['p99_ms']:>8}"
        )
    print(f"queries per order: {queries_per_order}")
    print(f"ledger_audit: {entries} entries in {audit_seconds:.3f} s, {len(mismatches)} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
