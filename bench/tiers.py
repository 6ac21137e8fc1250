"""The daily tier job at scale.

    python -m bench.tiers [--members 100000] [--batch 1000]

Builds ``loyalty_bench_tiers`` with N Gold members (the default tiers) written with
generate_series: each has an old earning outside the 90-day window and a recent one; for
half of them the recent one keeps Gold (and, being 80 days old, asks for a keep notice),
for the other half it does not (a downgrade). Times ``tiers_evaluate()`` and writes
bench/results/tiers.json.
"""

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.scratch import peak_rss, scratch_url, server_sql

RESULTS = Path(__file__).parent / "results"
DB = "loyalty_bench_tiers"

FILL = """
INSERT INTO loyalty_member (program_id, external_id, email, name, locale, consent_email,
    consent_push, balance, last_order_at, created_at, updated_at, tier_id, tier_since,
    tier_override_reason, badge_enabled)
SELECT %(program)s, 'm-' || n, '', '', 'en', false, false, 400, now() - interval '80 days',
    now(), now(), %(gold)s, now() - interval '100 days', '', false
FROM generate_series(1, %(n)s) AS n;
INSERT INTO loyalty_ledgerentry (program_id, member_id, kind, points, balance_after, reason,
    details, idempotency_key, created_at)
SELECT program_id, id, 'earn', 200, 200, 'bench earning', '{}', 'bench:old:' || id,
    now() - interval '100 days'
FROM loyalty_member WHERE program_id = %(program)s;
INSERT INTO loyalty_ledgerentry (program_id, member_id, kind, points, balance_after, reason,
    details, idempotency_key, created_at)
SELECT program_id, id, 'earn', CASE WHEN id %% 2 = 0 THEN 200 ELSE 100 END, 400,
    'bench earning', '{}',
    'bench:new:' || id, now() - interval '80 days'
FROM loyalty_member WHERE program_id = %(program)s;
-- What ledger_append keeps with each counting entry: its points on its day.
INSERT INTO loyalty_tierday (program_id, member_id, day, points)
SELECT %(program)s, member_id, (created_at AT TIME ZONE 'UTC')::date, SUM(points)
FROM loyalty_ledgerentry GROUP BY 2, 3;
ANALYZE;
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    url = scratch_url(DB)
    server_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    server_sql(f"CREATE DATABASE {DB}")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    from loyalty.services.merchants import merchant_create
    from loyalty.services.tier_job import tiers_evaluate
    from loyalty.services.tier_settings import tiers_seed_defaults

    program = merchant_create(slug="bench", name="Bench", currency="EUR").program
    gold = next(t for t in tiers_seed_defaults(program=program) if t.name == "Gold")
    with connection.cursor() as cursor:
        cursor.execute(FILL, {"program": program.pk, "gold": gold.pk, "n": args.members})

    t0 = time.perf_counter()
    run = tiers_evaluate(batch_size=args.batch)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = tiers_evaluate(batch_size=args.batch)
    quiet_seconds = time.perf_counter() - t0
    connection.close()
    report = {
        "benchmark": "tiers",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "members": args.members,
        "batch_size": args.batch,
        "job_seconds": round(seconds, 2),
        "job_members_per_second": round(run.members / seconds),
        "down": run.down,
        "notices_due": args.members - run.down,
        "second_run_seconds": round(quiet_seconds, 2),
        "second_run_down": again.down,
        "peak_rss_mib": round(peak_rss() / 2**20, 1),
    }
    server_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tiers.json").write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
