"""What a coupon takes off an order, and how its terms read to a person. Pure functions."""

from decimal import Decimal
from typing import Protocol

from django.utils import formats
from django.utils.translation import gettext as _

from loyalty import money


class Terms(Protocol):
    """Anything with a coupon's terms: a template, a coupon, or ``CouponTerms``."""

    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def max_discount(self) -> Decimal | None: ...
    @property
    def min_order_amount(self) -> Decimal: ...


def discount_for(terms: Terms, *, order_amount: Decimal, currency: str) -> Decimal:
    """Percent of the order, capped by max_discount; never more than the order.

    Rounded half-up to the currency's minor unit.
    """
    if terms.kind == "percent":
        discount = order_amount * terms.value / 100
        if terms.max_discount is not None:
            discount = min(discount, terms.max_discount)
    else:
        discount = terms.value
    return money.round_money(min(discount, order_amount), currency)


def terms_text(terms: Terms, *, currency: str, localized: bool = False) -> str:
    """'10% off orders of at least 100.00 EUR (at most 50.00 EUR off)', in the active language.

    ``localized`` also writes the amounts the language's way ("100,00 EUR"): for pages, not
    for stored texts.
    """
    format_money = money.format_money_localized if localized else money.format_money
    if terms.kind == "percent":
        value = formats.number_format(terms.value.normalize(), use_l10n=True)
        text = _("%(value)s%% off") % {"value": value}
    else:
        text = _("%(amount)s off") % {"amount": format_money(terms.value, currency)}
    if terms.min_order_amount:
        text += " " + _("orders of at least %(amount)s") % {
            "amount": format_money(terms.min_order_amount, currency)
        }
    if terms.kind == "percent" and terms.max_discount is not None:
        text += " " + _("(at most %(amount)s off)") % {
            "amount": format_money(terms.max_discount, currency)
        }
    return text
