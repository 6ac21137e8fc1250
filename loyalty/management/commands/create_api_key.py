"""``create_api_key SLUG --scopes orders,checkout,manage``: prints a new key once.

The key is alone on the last line of the output, so scripts can read it with
``tail -1``; only its hash is stored.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.errors import LoyaltyError
from loyalty.management import command_error
from loyalty.models import ApiKey, Merchant
from loyalty.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a merchant and print it (once, on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The merchant's slug.")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, among: {', '.join(ApiKey.Scope.values)}.",
        )
        parser.add_argument("--name", default="API key", help="To recognise the key later.")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.filter(slug=options["slug"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug '{options['slug']}'.")
        try:
            key, raw_key = api_key_create(
                merchant=merchant, scopes=options["scopes"].split(","), name=options["name"]
            )
        except LoyaltyError as exc:
            raise command_error(exc) from exc
        self.stdout.write(
            f"API key '{key.name}' for {merchant.name} ({merchant.slug}), "
            f"scopes: {', '.join(key.scopes)}."
        )
        self.stdout.write(
            "Store it now: it is shown only this once. Send it as 'Authorization: Bearer <key>'."
        )
        self.stdout.write(raw_key)
