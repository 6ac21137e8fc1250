"""What a coupon takes off an order's lines, line by line. Pure functions.

A coupon's scope (``RewardTerms.scope``) includes SKUs and categories (none listed: every
line) and excludes others (an exclusion wins over an inclusion). A free product names
its own product instead. The discounts of the lines always add up to the coupon's
discount exactly: a cap or a fixed amount is shared in proportion to the lines' totals,
in the currency's minor unit, the rounding remainder going to the first lines.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from loyalty import money

SCOPE_KEYS = ("include_skus", "include_categories", "exclude_skus", "exclude_categories")


class LineTerms(Protocol):
    """A coupon or a template: the terms ``answer`` reads."""

    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def max_discount(self) -> Decimal | None: ...
    @property
    def product_sku(self) -> str: ...
    @property
    def product_category(self) -> str: ...
    @property
    def product_quantity(self) -> int: ...
    @property
    def scope(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class LineDiscount:
    index: int
    sku: str
    eligible: bool
    discount: Decimal


@dataclass(frozen=True)
class Answer:
    discount: Decimal  # off the lines
    lines: list[LineDiscount]

    @property
    def any_eligible(self) -> bool:
        return any(line.eligible for line in self.lines)


def scope_clean(scope: dict[str, Any] | None) -> dict[str, list[str]]:
    """A scope's non-empty lists, in ``SCOPE_KEYS`` order."""
    scope = scope or {}
    return {key: list(scope[key]) for key in SCOPE_KEYS if scope.get(key)}


def scope_of(terms: LineTerms) -> dict[str, list[str]]:
    return scope_clean(terms.scope)


def is_scoped(terms: LineTerms) -> bool:
    return bool(scope_of(terms))


def needs_lines(terms: LineTerms) -> bool:
    """A free product or a scoped coupon cannot be answered without the order's lines."""
    return terms.kind == "free_product" or is_scoped(terms)


def eligible(line: Line, terms: LineTerms) -> bool:
    """Whether the coupon applies to this line."""
    if terms.kind == "free_product":
        return (bool(terms.product_sku) and line.sku == terms.product_sku) or (
            bool(terms.product_category) and line.category == terms.product_category
        )
    scope = terms.scope or {}
    if line.sku in scope.get("exclude_skus", ()) or line.category in scope.get(
        "exclude_categories", ()
    ):
        return False
    includes_skus, includes_categories = scope.get("include_skus"), scope.get("include_categories")
    if not includes_skus and not includes_categories:
        return True
    return line.sku in (includes_skus or ()) or line.category in (includes_categories or ())


def share(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """``total`` split in proportion to ``weights``, in minor units, adding up exactly."""
    step = money.quantum(currency)
    whole = sum(weights, Decimal(0))
    if not whole or not total:
        return [Decimal(0) * step for _ in weights]
    parts = [(total * w / whole).quantize(step, rounding=ROUND_DOWN) for w in weights]
    left = total - sum(parts, Decimal(0))
    for index, weight in enumerate(weights):
        if left <= 0:
            break
        if weight:
            parts[index] += step
            left -= step
    return parts


def _free_units(lines: list[Line], flags: list[bool], quantity: int) -> list[Decimal]:
    """The value of the free units per line: the cheapest eligible units, ``quantity`` of them."""
    units = sorted(
        (line.unit_price, index)
        for index, line in enumerate(lines)
        if flags[index]
        for _ in range(min(line.quantity, quantity))
    )[:quantity]
    values = [Decimal(0)] * len(lines)
    for price, index in units:
        values[index] += price
    return values


def answer(terms: LineTerms, *, lines: list[Line], currency: str) -> Answer:
    """The discount of each line (lines outside the coupon get 0) and their sum."""
    flags = [eligible(line, terms) for line in lines]
    totals = [line.total if flag else Decimal(0) for line, flag in zip(lines, flags, strict=True)]
    if terms.kind == "percent":
        raw = [money.round_money(t * terms.value / 100, currency) for t in totals]
        discount = sum(raw, Decimal(0))
        if terms.max_discount is not None and discount > terms.max_discount:
            raw = share(money.round_money(terms.max_discount, currency), raw, currency)
    elif terms.kind == "fixed":
        budget = min(terms.value, sum(totals, Decimal(0)))
        raw = share(money.round_money(budget, currency), totals, currency)
    elif terms.kind == "free_product":
        raw = _free_units(lines, flags, terms.product_quantity)
        cap = terms.max_discount
        if cap is not None and sum(raw, Decimal(0)) > cap:
            raw = share(money.round_money(cap, currency), raw, currency)
    else:  # free shipping: nothing off the lines
        raw = [Decimal(0)] * len(lines)
    raw = [money.round_money(amount, currency) for amount in raw]
    rows = [
        LineDiscount(index=index, sku=line.sku, eligible=flags[index], discount=raw[index])
        for index, line in enumerate(lines)
    ]
    return Answer(discount=sum(raw, money.round_money(Decimal(0), currency)), lines=rows)


def shipping_discount(
    terms: LineTerms, *, shipping_amount: Decimal | None, currency: str
) -> Decimal:
    """A free-shipping coupon takes off the shipping, up to ``max_discount``; others none."""
    if terms.kind != "free_shipping" or shipping_amount is None:
        return money.round_money(Decimal(0), currency)
    amount = shipping_amount
    if terms.max_discount is not None:
        amount = min(amount, terms.max_discount)
    return money.round_money(amount, currency)
