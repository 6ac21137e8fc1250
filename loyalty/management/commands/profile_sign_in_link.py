"""``profile_sign_in_link SLUG EXTERNAL_ID``: a one-time link into a member's profile page
(for support staff and local demos). The link works once, for ``--hours``."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.errors import MemberNotFound
from loyalty.models import Merchant
from loyalty.services.profile_access import signin_link_create
from loyalty.storage.members import member_get


class Command(BaseCommand):
    help = "Print a one-time sign-in link to a member's profile page (last line, alone)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("merchant", help="The merchant's slug.")
        parser.add_argument("external_id", help="The member's external id.")
        parser.add_argument("--hours", type=int, default=24, help="Validity (default 24).")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.select_related("program").filter(slug=options["merchant"])
        found = merchant.first()
        if found is None:
            raise CommandError(f"No merchant '{options['merchant']}'.")
        if options["hours"] < 1:
            raise CommandError("--hours must be at least 1.")
        try:
            member = member_get(program=found.program, external_id=options["external_id"])
        except MemberNotFound as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"Sign-in link for {member} (works once, {options['hours']} h):")
        self.stdout.write(signin_link_create(member=member, minutes=options["hours"] * 60))
