"""``seed_demo``: the demo merchant with a year of data (see loyalty.demo). Idempotent."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty import demo
from loyalty.models import LedgerEntry, Order


class Command(BaseCommand):
    help = (
        "Create the 'demo' merchant with members, orders, refunds and grants, an admin/admin "
        "superuser, staff users of each role and a fixed API key. Safe to run twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--members",
            type=int,
            default=demo.DEFAULT_MEMBERS,
            help=f"How many members (default {demo.DEFAULT_MEMBERS}).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (it creates a known password and API key).",
        )
        parser.add_argument(
            "--no-guide",
            action="store_true",
            help="Do not print where to go (logins, API key, a profile sign-in link).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates the logins admin/admin and staff/staff and a published API "
                "key; it runs only with DEBUG on. Use --force if you really mean it."
            )
        if options["members"] < 1:
            raise CommandError("--members must be at least 1.")
        started = time.monotonic()
        # Its notifications go to the outbox, for the worker to deliver (locally: var/mail).
        result = demo.demo_seed(
            members=options["members"],
            progress=lambda done, total: self.stdout.write(f"  members {done}/{total}"),
        )
        program = result.merchant.program
        if result.members_written:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data written for {result.members_written} members "
                    f"in {time.monotonic() - started:.1f}s."
                )
            )
        else:
            self.stdout.write("Demo data already present; nothing to do.")
        self.stdout.write(
            f"Merchant '{result.merchant.slug}' ({result.merchant.name}): "
            f"{program.members.count()} members, {Order.objects.filter(program=program).count()} "
            f"orders, {LedgerEntry.objects.filter(program=program).count()} ledger entries."
        )
        for username, password in result.passwords.items():
            if password is None:
                self.stdout.write(
                    f"  {username} existed before the demo: its password was left alone"
                )
        if not options["no_guide"]:
            for line in demo.demo_guide(site=settings.SITE_URL.rstrip("/")):
                self.stdout.write(line)
