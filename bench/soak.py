"""Soak: mixed traffic through the real stack for a while, then prove the ledger.

    python -m bench.soak [--minutes 10] [--clients 8] [--workers 2]

Against gunicorn on a scratch database (``loyalty_bench_soak``), ``--clients``
threads send a mix for ``--minutes``: orders (60 %), refunds of their own
earlier orders (15 %), coupon redemptions of coupons the orders earned (15 %)
and grants or deductions (10 %), on a few hundred members so the same members
are written concurrently. Afterwards ``check_ledger`` must find zero
mismatches. Writes bench/results/soak.json with the totals (requests per kind
and status, ledger entries and points per kind, check_ledger's verdict).
"""

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.server import (
    ROOT,
    Gunicorn,
    app_env,
    call,
    machine,
    manage,
    postgres_version,
    recreate_database,
)

RESULTS = Path(__file__).parent / "results"
SOAK_DB = "loyalty_bench_soak"
MEMBERS = 300


class Client(threading.Thread):
    def __init__(self, n: int, url: str, key: str, until: float, totals: Counter[str]) -> None:
        super().__init__()
        self.n, self.url, self.key, self.until, self.totals = n, url, key, until, totals
        self.random = random.Random(n)
        self.orders: list[tuple[str, int]] = []  # (external id, cents left to refund)
        self.coupons: list[tuple[str, str]] = []  # (code, member)
        self.seq = 0
        self.lock = threading.Lock()

    def count(self, kind: str, status: int) -> None:
        self.totals[f"{kind} {status}"] += 1

    def run(self) -> None:
        while time.monotonic() < self.until:
            roll = self.random.random()
            if roll < 0.15 and self.orders:
                self.refund()
            elif roll < 0.30 and self.coupons:
                self.redeem()
            elif roll < 0.40:
                self.grant()
            else:
                self.order()

    def order(self) -> None:
        self.seq += 1
        external_id = f"s{self.n}-{self.seq}"
        member = f"m-{self.random.randrange(MEMBERS)}"
        cents = self.random.randrange(500, 20000)
        status, body = call(self.url, "POST", "/api/v1/orders", self.key, {
            "external_id": external_id, "member": member,
            "amount": f"{cents // 100}.{cents % 100:02d}", "currency": "EUR",
        })  # fmt: skip
        self.count("order", status)
        if status == 201:
            self.orders.append((external_id, cents))
            for coupon in body["coupons_issued"]:
                self.coupons.append((coupon["code"], member))

    def refund(self) -> None:
        index = self.random.randrange(len(self.orders))
        external_id, left = self.orders[index]
        cents = min(left, self.random.randrange(100, 10000))
        self.seq += 1
        status, _ = call(self.url, "POST", f"/api/v1/orders/{external_id}/refunds", self.key, {
            "external_id": f"r{self.n}-{self.seq}", "amount": f"{cents // 100}.{cents % 100:02d}",
        })  # fmt: skip
        self.count("refund", status)
        if status == 201 and left - cents > 0:
            self.orders[index] = (external_id, left - cents)
        else:
            self.orders.pop(index)

    def redeem(self) -> None:
        code, member = self.coupons.pop(self.random.randrange(len(self.coupons)))
        self.seq += 1
        status, _ = call(self.url, "POST", f"/api/v1/coupons/{code}/redeem", self.key, {
            "order": f"c{self.n}-{self.seq}", "member": member, "order_amount": "150.00",
            "currency": "EUR",
        })  # fmt: skip
        self.count("redeem", status)

    def grant(self) -> None:
        member = f"m-{self.random.randrange(MEMBERS)}"
        points = self.random.choice([50, 100, 250, -30, -80])
        status, _ = call(self.url, "POST", f"/api/v1/members/{member}/grants", self.key,
                         {"points": points, "reason": "soak test"})  # fmt: skip
        self.count("grant" if points > 0 else "deduct", status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (16 threads each)")
    args = parser.parse_args()
    load_before = machine()["loadavg"]
    db_url = recreate_database(SOAK_DB)
    env = app_env(db_url)
    manage(env, "migrate", "--no-input")
    manage(env, "create_merchant", "soak", "--name", "Soak", "--currency", "EUR")
    key = manage(env, "create_api_key", "soak", "--scopes", "orders,checkout,manage")
    key = key.strip().splitlines()[-1]
    totals: Counter[str] = Counter()
    with Gunicorn(env, workers=args.workers) as server:
        status, _ = call(server.url, "PUT", "/api/v1/program", key, {"thresholds": [
            {"points": 1500, "coupon": {"kind": "fixed", "value": "5.00", "valid_days": 30}}
        ]})  # fmt: skip
        assert status == 200, status
        for n in range(MEMBERS):  # grants need the member to exist
            call(server.url, "PUT", f"/api/v1/members/m-{n}", key, {"name": f"Member {n}"})
        started = time.monotonic()
        clients = [
            Client(n, server.url, key, started + args.minutes * 60, totals)
            for n in range(args.clients)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        wall = time.monotonic() - started
        log = server.log.name
    audit = subprocess.run(
        [sys.executable, "manage.py", "check_ledger"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    with psycopg.connect(db_url) as conn:
        ledger = {
            kind: {"entries": n, "points": int(points)}
            for kind, n, points in conn.execute(
                "SELECT kind, count(*), sum(points) FROM loyalty_ledgerentry GROUP BY kind"
            ).fetchall()
        }
    server_errors = sum(n for name, n in totals.items() if name.split()[1].startswith("5"))
    report: dict[str, Any] = {
        "benchmark": "soak",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine() | {"loadavg_before": load_before},
        "redis": env.get("REDIS_URL"),
        "postgresql": postgres_version(),
        "minutes": round(wall / 60, 2),
        "clients": args.clients,
        "requests": dict(sorted(totals.items())),
        "requests_per_second": round(sum(totals.values()) / wall, 1),
        "server_errors": server_errors,
        "ledger": ledger,
        "server_log": log,
        "check_ledger": {
            "ok": audit.returncode == 0,
            "output": (audit.stdout or audit.stderr).strip()[-1000:],
        },  # fmt: skip
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"soak: {report['minutes']} min, {sum(totals.values())} requests "
          f"({report['requests_per_second']}/s), {server_errors} server errors")  # fmt: skip
    for name, n in sorted(totals.items()):
        print(f"  {name:16} {n:>8}")
    for kind, row in sorted(ledger.items()):
        print(f"  ledger {kind:10} {row['entries']:>8} entries {row['points']:>12} points")
    print(f"check_ledger: {report['check_ledger']['output']}")
    return 0 if audit.returncode == 0 and server_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
