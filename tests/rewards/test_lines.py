"""What a coupon takes off an order's lines (``rewards.lines``): which lines qualify, and
how a percentage, a fixed amount, a cap and a free product are shared out line by line."""

from dataclasses import dataclass, field
from decimal import Decimal as D

import pytest

from rewards.lines import Line, answer, eligible, needs_lines, share, shipping_discount


@dataclass
class T:
    kind: str = "percent"
    value: D = D(10)
    max_discount: D | None = None
    product_sku: str = ""
    product_category: str = ""
    product_quantity: int = 1
    scope: dict = field(default_factory=dict)


SHOES = Line(sku="SH-1", category="shoes", quantity=2, unit_price=D("40.00"))
SOCKS = Line(sku="SO-1", category="socks", quantity=3, unit_price=D("5.00"))
SALE = Line(sku="SH-9", category="shoes", quantity=1, unit_price=D("30.00"))


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({}, [True, True, True]),
        ({"include_categories": ["shoes"]}, [True, False, True]),
        ({"include_skus": ["SO-1"]}, [False, True, False]),
        ({"include_categories": ["shoes"], "exclude_skus": ["SH-9"]}, [True, False, False]),
        ({"exclude_categories": ["socks"]}, [True, False, True]),
        ({"include_skus": ["SO-1"], "include_categories": ["shoes"]}, [True, True, True]),
    ],
)
def test_a_scope_includes_and_excludes_lines_and_an_exclusion_wins(scope, expected):
    terms = T(scope=scope)

    assert [eligible(line, terms) for line in (SHOES, SOCKS, SALE)] == expected


def test_a_percent_coupon_takes_its_share_of_each_eligible_line_only():
    terms = T(scope={"include_categories": ["shoes"]})

    result = answer(terms, lines=[SHOES, SOCKS, SALE], currency="EUR")

    assert [line.discount for line in result.lines] == [D("8.00"), D("0.00"), D("3.00")]
    assert [line.eligible for line in result.lines] == [True, False, True]
    assert result.discount == D("11.00")


def test_a_cap_is_shared_in_proportion_and_adds_up_exactly():
    terms = T(value=D(50), max_discount=D("10.00"))

    result = answer(terms, lines=[SHOES, SOCKS, SALE], currency="EUR")

    # 50% would be 40 + 7.50 + 15 = 62.50; capped at 10.00, shared 40 : 7.5 : 15
    assert result.discount == D("10.00")
    assert sum(line.discount for line in result.lines) == D("10.00")
    assert [line.discount for line in result.lines] == [D("6.40"), D("1.20"), D("2.40")]


def test_a_fixed_amount_is_spread_over_the_eligible_lines_never_more_than_they_cost():
    small = T(kind="fixed", value=D("10.00"), scope={"include_skus": ["SO-1"]})
    big = T(kind="fixed", value=D("50.00"), scope={"include_skus": ["SO-1"]})

    assert answer(small, lines=[SHOES, SOCKS], currency="EUR").discount == D("10.00")
    assert answer(big, lines=[SHOES, SOCKS], currency="EUR").discount == D("15.00")
    assert [x.discount for x in answer(big, lines=[SHOES, SOCKS], currency="EUR").lines] == [
        D("0.00"),
        D("15.00"),
    ]


def test_a_free_product_by_category_gives_the_cheapest_units_up_to_its_quantity():
    terms = T(kind="free_product", value=D(0), product_category="shoes", product_quantity=2)

    result = answer(terms, lines=[SHOES, SOCKS, SALE], currency="EUR")

    # the 30.00 pair and one of the 40.00 pairs
    assert [line.discount for line in result.lines] == [D("40.00"), D("0.00"), D("30.00")]
    assert result.discount == D("70.00")


def test_a_free_product_is_worth_at_most_its_maximum_value():
    terms = T(kind="free_product", value=D(0), product_sku="SH-1", max_discount=D("25.00"))

    result = answer(terms, lines=[SHOES, SALE], currency="EUR")

    assert [line.discount for line in result.lines] == [D("25.00"), D("0.00")]
    assert [line.eligible for line in result.lines] == [True, False]


def test_free_shipping_takes_off_the_shipping_up_to_its_cap_and_nothing_off_the_lines():
    terms = T(kind="free_shipping", value=D(0))
    capped = T(kind="free_shipping", value=D(0), max_discount=D("4.90"))

    assert answer(terms, lines=[SHOES], currency="EUR").discount == D("0.00")
    assert shipping_discount(terms, shipping_amount=D("6.50"), currency="EUR") == D("6.50")
    assert shipping_discount(capped, shipping_amount=D("6.50"), currency="EUR") == D("4.90")
    assert shipping_discount(T(), shipping_amount=D("6.50"), currency="EUR") == D("0.00")


def test_only_a_free_product_or_a_scoped_coupon_needs_the_lines():
    assert not needs_lines(T())
    assert not needs_lines(T(kind="free_shipping"))
    assert needs_lines(T(kind="free_product", product_sku="A"))
    assert needs_lines(T(scope={"exclude_skus": ["A"]}))


def test_share_of_yen_has_no_minor_unit():
    assert share(D(100), [D(1), D(1), D(1)], "JPY") == [D(34), D(33), D(33)]
