"""What a coupon takes off an order, and how its terms read to a person. Pure functions."""

from decimal import Decimal
from typing import Any, Protocol

from django.utils import formats
from django.utils.translation import gettext as _

from loyalty import money
from rewards.lines import LineTerms


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


class FullTerms(Terms, LineTerms, Protocol):
    """Terms with what they apply to (``rewards.models.RewardTerms``)."""


def discount_for(terms: Terms, *, order_amount: Decimal, currency: str) -> Decimal:
    """Percent of the order, capped by max_discount; never more than the order.

    Rounded half-up to the currency's minor unit.
    """
    if terms.kind in ("free_product", "free_shipping"):
        discount = Decimal(0)  # answered from the lines and the shipping (``rewards.lines``)
    elif terms.kind == "percent":
        discount = order_amount * terms.value / 100
        if terms.max_discount is not None:
            discount = min(discount, terms.max_discount)
    else:
        discount = terms.value
    return money.round_money(min(discount, order_amount), currency)


def _names(skus: list[str], categories: list[str]) -> str:
    names = [_("SKU %(sku)s") % {"sku": sku} for sku in skus]
    names += [_("category %(category)s") % {"category": c} for c in categories]
    return ", ".join(names)


def applies_to(terms: FullTerms) -> str:
    """What the coupon applies to, in words: "SKU A-1, category shoes (except SKU B-2)"."""
    if terms.kind == "free_product":
        if terms.product_sku:
            return _("SKU %(sku)s") % {"sku": terms.product_sku}
        return _("category %(category)s") % {"category": terms.product_category}
    scope = terms.scope or {}
    included = _names(scope.get("include_skus") or [], scope.get("include_categories") or [])
    excluded = _names(scope.get("exclude_skus") or [], scope.get("exclude_categories") or [])
    text = included or _("every item")
    if excluded:
        text += " " + _("(except %(items)s)") % {"items": excluded}
    return text


def _what(terms: FullTerms, format_money: Any, currency: str) -> str:
    """The first words of the terms: what the coupon gives."""
    if terms.kind == "percent":
        value = formats.number_format(terms.value.normalize(), use_l10n=True)
        return _("%(value)s%% off") % {"value": value}
    if terms.kind == "fixed":
        return _("%(amount)s off") % {"amount": format_money(terms.value, currency)}
    if terms.kind == "free_shipping":
        return _("free shipping")
    return _("free: %(quantity)s x %(product)s") % {
        "quantity": terms.product_quantity,
        "product": applies_to(terms),
    }


def terms_text(terms: FullTerms, *, currency: str, localized: bool = False) -> str:
    """'10% off orders of at least 100.00 EUR (at most 50.00 EUR off)', in the active language;
    a scoped coupon names its items ('10% off SKU A-1 (except category sale)').

    ``localized`` also writes the amounts the language's way ("100,00 EUR"): for pages, not
    for stored texts.
    """
    format_money = money.format_money_localized if localized else money.format_money
    text = _what(terms, format_money, currency)
    # Money-only terms (a notification preview's sample) have no scope.
    scope = getattr(terms, "scope", None) or {}
    scoped = terms.kind != "free_product" and any(scope.values())
    if scoped:
        text += " " + _("on %(items)s") % {"items": applies_to(terms)}
    if terms.min_order_amount:
        minimum = {"amount": format_money(terms.min_order_amount, currency)}
        if scoped:
            text += ", " + _("on orders of at least %(amount)s") % minimum
        else:
            text += " " + _("orders of at least %(amount)s") % minimum
    if terms.kind != "fixed" and terms.max_discount is not None:
        cap = {"amount": format_money(terms.max_discount, currency)}
        if terms.kind == "percent":
            text += " " + _("(at most %(amount)s off)") % cap
        else:  # a free product or free shipping: what it is worth at most
            text += " " + _("(worth up to %(amount)s)") % cap
    return text
