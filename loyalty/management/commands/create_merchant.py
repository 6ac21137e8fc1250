"""``create_merchant SLUG --name NAME --currency EUR``: a merchant with its default program."""

import argparse
import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from loyalty.errors import LoyaltyError
from loyalty.management import command_error
from loyalty.services.merchants import merchant_create


def _slug(value: str) -> str:
    try:
        validate_slug(value)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a slug: use letters, digits, '-' and '_'"
        ) from exc
    return value


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a currency: give its 3-letter ISO 4217 code, e.g. EUR"
        )
    return value.upper()


class Command(BaseCommand):
    help = "Create a merchant with a default program (10 points per 1.00, valid 365 days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", type=_slug, help="Short unique name, e.g. 'acme-shop'.")
        parser.add_argument("--name", required=True, help="The shop's name as people see it.")
        parser.add_argument(
            "--currency", type=_currency, default="EUR", help="ISO 4217 code (default EUR)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("--name must not be empty.")
        try:
            merchant = merchant_create(
                slug=options["slug"], name=name, currency=options["currency"]
            )
        except LoyaltyError as exc:
            raise command_error(exc) from exc
        program = merchant.program
        self.stdout.write(
            self.style.SUCCESS(f"Created merchant '{merchant.slug}' ({merchant.name}).")
        )
        self.stdout.write(
            f"Program '{program.name}': {program.currency}, "
            f"{format(Decimal(program.earn_rate).normalize(), 'f')} points per 1.00, "
            + (
                f"points valid {program.points_validity_days} days."
                if program.points_validity_days
                else "points never expire."
            )
        )
        self.stdout.write(
            f"Next: python manage.py create_api_key {merchant.slug} --scopes orders,checkout,manage"
        )
