"""``seed_demo``: the demo merchant with a year of data (see loyalty.demo). Idempotent."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from loyalty import demo
from loyalty.models import LedgerEntry, Order, Program
from loyalty.services.profile_access import signin_link_create

# How long the demo member's printed sign-in link works.
PROFILE_LINK_HOURS = 24


class Command(BaseCommand):
    help = (
        "Create the 'demo' merchant with members, orders, refunds and grants, an admin/admin "
        "superuser, a staff/staff user and a fixed API key. Safe to run twice."
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

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates the logins admin/admin and staff/staff and a published API "
                "key; it runs only with DEBUG on. Use --force if you really mean it."
            )
        if options["members"] < 1:
            raise CommandError("--members must be at least 1.")
        started = time.monotonic()
        # The demo is history: its notifications are written to the outbox (the admin
        # shows them) but sent to no one, not even the console.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
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
            f"orders, {LedgerEntry.objects.filter(member__program=program).count()} ledger entries."
        )
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write(f"Admin:    {site}/admin/")
        for username, password in result.passwords.items():
            login = (
                f"{username} / {password}"
                if password
                else f"{username} (existing user; its password was left unchanged)"
            )
            self.stdout.write(f"  login   {login}")
        self.stdout.write(f"API docs: {site}/api/docs/")
        self.stdout.write(f"API key:  {result.api_key}")
        self._profile_link(program)

    def _profile_link(self, program: Program) -> None:
        """A ready-made sign-in link to one demo member's profile page."""
        members = program.members.exclude(email="").filter(balance__gt=0).order_by("external_id")
        member = members.filter(coupons__status="active").first() or members.first()
        if member is None:
            return
        site = settings.SITE_URL.rstrip("/")
        url = signin_link_create(member=member, minutes=PROFILE_LINK_HOURS * 60)
        self.stdout.write(f"Profile:  {site}/profile/{program.merchant.slug}/sign-in/")
        self.stdout.write(
            f"  {member} ({member.email}), signed in by this link "
            f"(works once, {PROFILE_LINK_HOURS} h):"
        )
        self.stdout.write(f"  {url}")
