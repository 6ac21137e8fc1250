"""Expiry at scale: the job against one hand-written SQL statement on the same data.

    python -m bench.expiry [--members 1000000] [--batch 1000]

Builds ``loyalty_bench_expiry`` with N members whose points are all due (one
earn entry each, written with generate_series, as fast as PostgreSQL allows),
copies it as a template, then times
- ``points_expire()`` (the job: batches with SKIP LOCKED, one INSERT and one UPDATE each),
- the same expiry as one SQL statement (no batches, no resumability),
and the process's peak resident memory after the job at N/10 and at N, to show it stays flat.
Writes bench/results/expiry.json.
"""

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import LiteralString

import psycopg

from bench.scratch import peak_rss, scratch_url, server_sql

RESULTS = Path(__file__).parent / "results"
DB = "loyalty_bench_expiry"


FILL = """
INSERT INTO loyalty_member (program_id, external_id, email, name, locale, consent_email,
    consent_push, balance, points_expire_at, last_order_at, created_at, updated_at,
    badge_enabled, tier_override_reason)
SELECT %(program)s, 'm-' || n, '', '', 'en', false, false, 100 + n %% 900,
    now() - interval '1 day', now() - interval '366 days', now(), now(), false, ''
FROM generate_series(1, %(n)s) AS n;
INSERT INTO loyalty_ledgerentry (member_id, kind, points, balance_after, reason, details,
    idempotency_key, created_at)
SELECT id, 'earn', balance, balance, 'bench earning', '{}', 'bench:' || id, now()
FROM loyalty_member WHERE program_id = %(program)s;
ANALYZE;
"""

ONE_STATEMENT: LiteralString = """
WITH due AS (
    SELECT id, balance, points_expire_at FROM loyalty_member
    WHERE points_expire_at <= now() AND balance > 0
), entries AS (
    INSERT INTO loyalty_ledgerentry (member_id, kind, points, balance_after, reason, details,
        idempotency_key, created_at)
    SELECT id, 'expire', -balance, 0, balance || ' points expired', '{}',
        'expire:' || points_expire_at, now()
    FROM due
)
UPDATE loyalty_member m SET balance = 0, points_expire_at = NULL FROM due WHERE m.id = due.id
"""


def _prepare(n: int) -> None:
    server_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    server_sql(f"DROP DATABASE IF EXISTS {DB}_copy WITH (FORCE)")
    server_sql(f"CREATE DATABASE {DB}")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from loyalty.services.merchants import merchant_create

    program = merchant_create(slug="bench", name="Bench", currency="EUR").program
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(FILL, {"program": program.pk, "n": n})
    connection.close()
    server_sql(f"CREATE DATABASE {DB}_copy TEMPLATE {DB}")


def _job(batch: int) -> tuple[float, int, int]:
    from django.db import connection

    from loyalty.services.expiry import points_expire

    t0 = time.perf_counter()
    run = points_expire(batch_size=batch)
    seconds = time.perf_counter() - t0
    connection.close()
    # The process's peak resident memory so far (KiB on Linux): flat across sizes means the
    # job's memory does not grow with the number of members.
    return seconds, run.entries, peak_rss()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    url = scratch_url(DB)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory

    peaks = {}
    small = max(args.members // 10, 1)
    _prepare(small)
    _, _, peaks[small] = _job(args.batch)

    _prepare(args.members)
    job_seconds, entries, peaks[args.members] = _job(args.batch)

    copy_url = url.replace(f"/{DB}", f"/{DB}_copy")
    with psycopg.connect(copy_url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute(ONE_STATEMENT)
        sql_seconds = time.perf_counter() - t0

    from loyalty.services.ledger import ledger_audit

    mismatches = len(ledger_audit())
    report = {
        "benchmark": "expiry",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "members": args.members,
        "batch_size": args.batch,
        "job_seconds": round(job_seconds, 2),
        "job_members_per_second": round(entries / job_seconds),
        "one_statement_seconds": round(sql_seconds, 2),
        "ratio_job_to_one_statement": round(job_seconds / sql_seconds, 2),
        "peak_rss_mib": {str(k): round(v / 2**20, 2) for k, v in peaks.items()},
        "ledger_mismatches": mismatches,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "expiry.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"expired {entries} members in {job_seconds:.1f} s ({entries / job_seconds:.0f}/s)")
    print(f"one SQL statement: {sql_seconds:.1f} s; ratio {job_seconds / sql_seconds:.2f}")
    for k, v in peaks.items():
        print(f"peak RSS after {k} members: {v / 2**20:.2f} MiB")
    print(f"ledger mismatches: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
