"""Money and points arithmetic: Decimal amounts in a currency's minor unit, integer points."""

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.utils import formats

# ISO 4217 currencies whose minor unit is not 2 digits; every other code uses 2.
_MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

# The largest amount anyone may send; keeps every product of amount x rate in range.
MAX_AMOUNT = Decimal("1000000000")


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit (the rounding shops and customers expect)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def money_str(amount: Decimal, currency: str) -> str:
    """An amount as the API and the webhooks write it: a decimal string in the currency's
    minor unit, half-up ("129.90" in EUR, "1299" in JPY, "12.500" in KWD), never with an
    exponent. Amounts are stored with 3 decimals; every amount that leaves goes through here."""
    return format(round_money(amount, currency), "f")


def percent_str(value: Decimal) -> str:
    """A percentage as the API and the webhooks write it: 10.000 -> "10", 12.500 -> "12.5"."""
    return format(value.normalize(), "f")


def value_str(value: Decimal, currency: str, *, percent: bool) -> str:
    """A coupon's ``value``: a percentage (``percent``) or an amount in ``currency``."""
    return percent_str(value) if percent else money_str(value, currency)


def fits_currency(amount: Decimal, currency: str) -> bool:
    """True when the amount has no more decimals than the currency's minor unit."""
    return amount == amount.quantize(quantum(currency), rounding=ROUND_FLOOR)


def floor_points(value: Decimal) -> int:
    """Points are integers, always rounded down."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def format_money(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency)} {currency}"


def format_money_localized(amount: Decimal, currency: str) -> str:
    """For people, in the active language: "1.234,50 EUR" in Spanish, "1,234.50 EUR" in English.

    Stored texts (ledger reasons) use ``format_money``, which does not depend on the language.
    """
    number = formats.number_format(
        round_money(amount, currency),
        decimal_pos=minor_unit(currency),
        use_l10n=True,
        force_grouping=True,
    )
    return f"{number}\N{NO-BREAK SPACE}{currency}"
