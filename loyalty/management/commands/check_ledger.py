"""``check_ledger``: prove every member's balance is the sum of its ledger entries.

Exits 0 when the ledger is consistent, non-zero naming every mismatch otherwise.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from loyalty.models import LedgerEntry, Member
from loyalty.services.ledger import ledger_audit


class Command(BaseCommand):
    help = "Check that every balance equals the sum of its ledger entries; exit 1 if not."

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = ledger_audit()
        if mismatches:
            for mismatch in mismatches:
                self.stderr.write(
                    f"member {mismatch.external_id} (id {mismatch.member_id}): {mismatch.problem}"
                )
            members = len({mismatch.member_id for mismatch in mismatches})
            raise CommandError(
                f"ledger mismatch: {members} member(s), {len(mismatches)} problem(s)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"ledger ok: {Member.objects.count()} members, "
                f"{LedgerEntry.objects.count()} entries checked"
            )
        )
