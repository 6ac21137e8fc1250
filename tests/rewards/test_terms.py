"""Discount arithmetic and terms text at the edges: caps, order totals, rounding, minor units."""

from decimal import Decimal

import pytest

from rewards.errors import CouponMinOrderNotMet
from rewards.services.checkout import coupon_validate
from rewards.services.coupons import CouponTerms
from rewards.terms import discount_for, terms_text
from tests.factories import ProgramFactory
from tests.rewards.factories import CouponFactory

D = Decimal


def percent(value, max_discount=None, min_order="0"):
    return CouponTerms(
        kind="percent",
        value=D(value),
        max_discount=None if max_discount is None else D(max_discount),
        min_order_amount=D(min_order),
    )


def fixed(value, min_order="0"):
    return CouponTerms(kind="fixed", value=D(value), min_order_amount=D(min_order))


@pytest.mark.parametrize(
    ("terms", "order_amount", "currency", "expected"),
    [
        # percent of the order
        (percent("10"), "100.00", "EUR", "10.00"),
        (percent("12.5"), "80.00", "EUR", "10.00"),
        (percent("10.000"), "99.90", "EUR", "9.99"),  # as stored: 3 decimal places
        # capped by max_discount
        (percent("10", max_discount="5.00"), "100.00", "EUR", "5.00"),
        (percent("10", max_discount="10.00"), "100.00", "EUR", "10.00"),
        (percent("10", max_discount="15.00"), "100.00", "EUR", "10.00"),
        # never more than the order, cap or no cap
        (percent("100"), "42.42", "EUR", "42.42"),
        (percent("100", max_discount="50.00"), "42.42", "EUR", "42.42"),
        # rounded half-up to the minor unit
        (percent("15"), "10.10", "EUR", "1.52"),  # 1.515
        (percent("10"), "0.05", "EUR", "0.01"),  # 0.005
        (percent("10"), "0.04", "EUR", "0.00"),  # 0.004
        (percent("12.5"), "0.99", "EUR", "0.12"),  # 0.12375
        (percent("33.33"), "10.00", "EUR", "3.33"),  # 3.333
        # fixed amounts: never more than the order
        (fixed("5.00"), "100.00", "EUR", "5.00"),
        (fixed("5.00"), "5.00", "EUR", "5.00"),
        (fixed("5.00"), "4.99", "EUR", "4.99"),
        (fixed("5.00"), "0.01", "EUR", "0.01"),
        # no minor unit (JPY): whole yen, half-up
        (percent("10"), "1005", "JPY", "101"),  # 100.5
        (percent("10"), "1004", "JPY", "100"),  # 100.4
        (percent("10", max_discount="150"), "5000", "JPY", "150"),
        (fixed("500"), "300", "JPY", "300"),
        (fixed("500.000"), "3000", "JPY", "500"),
        # three decimals (BHD, KWD): to the fils, half-up
        (percent("10"), "1.235", "BHD", "0.124"),  # 0.1235
        (percent("10"), "1.234", "BHD", "0.123"),  # 0.1234
        (percent("10", max_discount="0.500"), "9.000", "BHD", "0.500"),
        (fixed("2.500"), "1.999", "BHD", "1.999"),
        (percent("15"), "3.333", "KWD", "0.500"),  # 0.49995
        (fixed("1.250"), "10.000", "KWD", "1.250"),
    ],
)
def test_discount_is_a_capped_share_of_the_order_rounded_to_the_minor_unit(
    terms, order_amount, currency, expected
):
    discount = discount_for(terms, order_amount=D(order_amount), currency=currency)

    # the string shows both the value and that it has exactly the currency's decimals
    assert str(discount) == expected


@pytest.mark.parametrize(
    ("terms", "currency", "text"),
    [
        (
            percent("10", max_discount="50", min_order="100"),
            "EUR",
            "10% off orders of at least 100.00 EUR (at most 50.00 EUR off)",
        ),
        (percent("10.000"), "EUR", "10% off"),
        (percent("100.000"), "EUR", "100% off"),
        (percent("12.5"), "EUR", "12.5% off"),
        (percent("20", max_discount="15"), "EUR", "20% off (at most 15.00 EUR off)"),
        (fixed("5"), "EUR", "5.00 EUR off"),
        (fixed("500", min_order="3000"), "JPY", "500 JPY off orders of at least 3000 JPY"),
        (fixed("1.5"), "BHD", "1.500 BHD off"),
    ],
)
def test_terms_read_as_a_sentence(terms, currency, text):
    assert terms_text(terms, currency=currency) == text


def test_a_cap_on_a_fixed_coupon_is_not_mentioned():
    terms = CouponTerms(kind="fixed", value=D("5"), max_discount=D("3"))

    assert terms_text(terms, currency="EUR") == "5.00 EUR off"


@pytest.mark.parametrize(
    ("currency", "minimum", "order_amount", "missing"),
    [
        ("EUR", "100.00", "99.99", "0.01 EUR"),
        ("EUR", "100.00", "80.00", "20.00 EUR"),
        ("JPY", "3000", "2999", "1 JPY"),
        ("BHD", "10.000", "9.999", "0.001 BHD"),
        ("KWD", "5.000", "4.500", "0.500 KWD"),
    ],
)
def test_one_minor_unit_below_the_minimum_is_refused_naming_what_is_missing(
    db, currency, minimum, order_amount, missing
):
    # given a coupon for orders of at least `minimum`
    program = ProgramFactory(currency=currency)
    coupon = CouponFactory(program=program, min_order_amount=D(minimum))

    # when it is tried on an order just below it
    with pytest.raises(CouponMinOrderNotMet) as refused:
        coupon_validate(
            program=program, code=coupon.code, order_amount=D(order_amount), currency=currency
        )

    # then the customer is told how much to add
    assert refused.value.code == "coupon_min_order_not_met"
    assert refused.value.detail == (
        f"Add {missing} to your order to use this coupon: it applies to orders of at least "
        f"{D(minimum)} {currency}."
    )


@pytest.mark.parametrize(
    ("currency", "minimum", "expected_discount"),
    [("EUR", "100.00", "10.00"), ("JPY", "3000", "300"), ("BHD", "10.000", "1.000")],
)
def test_an_order_of_exactly_the_minimum_is_accepted(db, currency, minimum, expected_discount):
    program = ProgramFactory(currency=currency)
    coupon = CouponFactory(program=program, min_order_amount=D(minimum))

    result = coupon_validate(
        program=program, code=coupon.code, order_amount=D(minimum), currency=currency
    )

    assert str(result.discount) == expected_discount
