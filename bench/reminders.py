"""Expiry reminders at scale: writing the outbox rows, then delivering them.

    python -m bench.reminders [--members 100000] [--no-deliver]

Builds ``loyalty_bench_reminders`` with N members who agreed to email and whose points
expire in 10 days (so the 14-day reminder is due), written with generate_series, then times
- ``reminders_send()``: choosing the members, rendering each reminder, writing its outbox row;
- ``notifications_deliver(batch_size=1000)``, called until no pending row is left, with
  Django's console email backend writing to /dev/null (every message is still built and
  serialised, nothing leaves the machine).
The after-commit hand-off to the task queue is switched off while writing, so the two phases
are timed apart (in production the scheduled delivery job is the one that sends them).
Reports the peak resident memory after each phase and writes bench/results/reminders.json.
"""

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.scratch import peak_rss, scratch_url, server_sql

RESULTS = Path(__file__).parent / "results"
DB = "loyalty_bench_reminders"

FILL = """
INSERT INTO loyalty_member (program_id, external_id, email, name, locale, consent_email,
    consent_push, balance, points_expire_at, last_order_at, created_at, updated_at,
    badge_enabled, tier_override_reason)
SELECT %(program)s, 'm-' || n, 'm-' || n || '@example.com', 'Member ' || n, 'en', true, false,
    100 + n %% 900, now() + interval '10 days', now() - interval '355 days', now(), now(), false, ''
FROM generate_series(1, %(n)s) AS n;
INSERT INTO loyalty_ledgerentry (member_id, kind, points, balance_after, reason, details,
    idempotency_key, created_at)
SELECT id, 'earn', balance, balance, 'bench earning', '{}', 'bench:' || id, now()
FROM loyalty_member WHERE program_id = %(program)s;
ANALYZE;
"""


def _prepare(n: int) -> None:
    server_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    server_sql(f"CREATE DATABASE {DB}")
    import django
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    from loyalty.services.merchants import merchant_create

    program = merchant_create(slug="bench", name="Bench", currency="EUR").program
    with connection.cursor() as cursor:
        cursor.execute(FILL, {"program": program.pk, "n": n})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument(
        "--no-deliver", action="store_true", help="time the writing only (the outbox stays full)"
    )
    args = parser.parse_args()
    url = scratch_url(DB)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory

    _prepare(args.members)
    from django.db.models import Count

    from notifications.models import Notification
    from notifications.services import outbox
    from notifications.services.reminders import reminders_send

    outbox._hand_off = lambda ids: None  # time writing and delivering apart
    rss_before = peak_rss()

    t0 = time.perf_counter()
    reminded = reminders_send()
    write_seconds = time.perf_counter() - t0
    rss_written = peak_rss()

    sent = 0
    calls = 0
    t0 = time.perf_counter()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        while (
            not args.no_deliver
            and Notification.objects.filter(status=Notification.Status.PENDING).exists()
        ):
            sent += outbox.notifications_deliver(batch_size=1000)
            calls += 1
    deliver_seconds = time.perf_counter() - t0
    rss_delivered = peak_rss()

    statuses = dict(Notification.objects.values_list("status").annotate(n=Count("id")))
    report = {
        "benchmark": "reminders",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "members": args.members,
        "email_backend": "console to /dev/null",
        "reminders_written": reminded,
        "write_seconds": round(write_seconds, 2),
        "reminders_per_second": round(reminded / write_seconds),
        "emails_sent": sent,
        "deliver_calls": calls,
        "deliver_seconds": round(deliver_seconds, 2),
        "emails_per_second": round(sent / deliver_seconds) if deliver_seconds else None,
        "outbox_statuses": statuses,
        "peak_rss_mib": {
            "after_setup": round(rss_before / 2**20, 2),
            "after_write": round(rss_written / 2**20, 2),
            "after_deliver": round(rss_delivered / 2**20, 2),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reminders.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"members: {args.members}")
    print(
        f"reminders written: {reminded} in {write_seconds:.1f} s ({reminded / write_seconds:.0f}/s)"
    )
    print(
        f"emails sent: {sent} in {deliver_seconds:.1f} s "
        f"({report['emails_per_second']}/s, {calls} deliver calls)"
    )
    print(f"outbox: {statuses}")
    for phase, mib in report["peak_rss_mib"].items():
        print(f"peak RSS {phase}: {mib:.2f} MiB")
    if args.no_deliver:
        return 0 if reminded == args.members == statuses.get("pending") else 1
    ok = reminded == sent == args.members and statuses == {"sent": args.members}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
