"""How the backoffice writes numbers and days: the staff member's language's own way, one
format per language (Django's DATE_FORMAT for a day, grouped thousands for points)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format, number_format


def grouped(value: int) -> str:
    """Points as every page and message writes them: 99,000,250 (99 000 250, ...)."""
    return number_format(value, force_grouping=True)


def day_shown(moment: datetime | None) -> str:
    """The day of a moment, in the site's time zone, as the language writes a date."""
    if moment is None:
        return "—"
    return date_format(timezone.localtime(moment), "DATE_FORMAT")


def money_shown(amount: Decimal, currency: str) -> str:
    """An amount with its currency, grouped and with two decimals: 1,234.56 EUR."""
    return f"{number_format(amount, decimal_pos=2, force_grouping=True)} {currency}"
