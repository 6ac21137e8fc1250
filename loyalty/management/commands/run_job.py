"""``run_job NAME``: run one scheduled job once, now, in this process.

For operators, for tests, and for a newcomer on the embedded default who wants
to watch a job work. The names are those of the beat schedule's tasks.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.celery import app

JOBS = {
    "expire_points": "loyalty.tasks.expire_points",
    "release_pending": "loyalty.tasks.release_pending",
    "expire_coupons": "rewards.tasks.coupons_expire",
    "evaluate_tiers": "loyalty.tasks.evaluate_tiers",
    "send_reminders": "notifications.tasks.send_reminders",
    "deliver_notifications": "notifications.tasks.deliver",
    "deliver_webhooks": "notifications.tasks.deliver_webhooks",
    "check_ledger": "loyalty.tasks.ledger_check",
    "purge_idempotency": "loyalty.tasks.idempotency_purge",
    "award_birthdays": "loyalty.tasks.award_birthdays",
    "purge_profile_tokens": "loyalty.tasks.profile_tokens_purge",
}


class Command(BaseCommand):
    help = "Run one scheduled job once, now: " + ", ".join(sorted(JOBS))

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=sorted(JOBS))

    def handle(self, *args: Any, **options: Any) -> None:
        app.loader.import_default_modules()
        result = app.tasks[JOBS[options["name"]]].apply(throw=False)
        if result.failed():
            raise CommandError(f"{options['name']} failed: {result.result!r}")
        self.stdout.write(f"{options['name']}: {result.result!r}")
