"""Rewards that shops offer: thresholds of several kinds at different costs (free shipping,
a free product, a percentage), converted automatically or claimed from the customer's-choice
catalogue; their terms in words, in every language, name what they apply to."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import translation

from loyalty.errors import InvalidInput
from loyalty.models import Program
from loyalty.services.conversion import reward_claim
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from rewards.forms import CouponTermsForm
from rewards.services.coupons import CouponTerms
from rewards.services.thresholds import thresholds_describe, thresholds_replace
from rewards.terms import terms_text
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

CATALOGUE = [
    {"points": 500, "coupon": {"kind": "free_shipping", "max_discount": "6.00"}},
    {"points": 2000, "coupon": {"kind": "free_product", "product_sku": "MUG-1",
                                "max_discount": "12.00"}},
    {"points": 5000, "coupon": {"kind": "percent", "value": "10",
                                "scope": {"exclude_categories": ["gift-cards"]}}},
]  # fmt: skip


def test_thresholds_offer_every_kind_at_different_costs(program):
    thresholds_replace(program=program, thresholds=CATALOGUE)

    described = {t["points"]: t["coupon"] for t in thresholds_describe(program=program)}

    assert described[500]["kind"] == "free_shipping"
    assert described[500]["value"] == 0
    assert (described[2000]["kind"], described[2000]["product_sku"]) == ("free_product", "MUG-1")
    assert described[5000]["scope"] == {"exclude_categories": ["gift-cards"]}


def test_an_order_converts_into_the_largest_reward_it_reaches(program):
    thresholds_replace(program=program, thresholds=CATALOGUE)

    result = order_record(
        program=program, external_id="A-1", member_external_id="ann",
        amount=Decimal("260.00"), currency="EUR",
    )  # fmt: skip

    # 2,600 points: a free mug (2,000), then free shipping (500); 100 left
    assert [c.kind for c in result.coupons_issued] == ["free_product", "free_shipping"]
    mug = result.coupons_issued[0]
    assert (mug.product_sku, mug.max_discount, mug.value) == ("MUG-1", Decimal("12.00"), 0)
    assert result.balance == 100


def test_a_choice_member_claims_free_shipping_from_the_catalogue(program):
    Program.objects.filter(pk=program.pk).update(conversion_mode=Program.ConversionMode.CHOICE)
    program.refresh_from_db()
    thresholds_replace(program=program, thresholds=CATALOGUE)
    member = MemberFactory(program=program)
    points_grant(program=program, member_external_id=member.external_id, points=800, reason="x")

    coupon = reward_claim(program=program, member_external_id=member.external_id, points=500)

    assert coupon.kind == "free_shipping"
    assert coupon.member.balance == 300


def test_a_threshold_with_bad_reward_terms_is_refused_by_field(program):
    bad = [{"points": 500, "coupon": {"kind": "free_product", "product_quantity": 0}}]

    with pytest.raises(InvalidInput) as refused:
        thresholds_replace(program=program, thresholds=bad)

    assert set(refused.value.fields) == {
        "thresholds.0.coupon.product_sku",
        "thresholds.0.coupon.product_quantity",
    }


SCOPED = CouponTerms(
    kind="percent",
    value=Decimal(10),
    scope={"include_categories": ["shoes"], "exclude_skus": ["SH-9"]},
    min_order_amount=Decimal(50),
)
FREE_MUG = CouponTerms(kind="free_product", product_sku="MUG-1", product_quantity=2)
FREE_SHIPPING = CouponTerms(kind="free_shipping", max_discount=Decimal(6))


@pytest.mark.parametrize(
    ("language", "terms", "expected"),
    [
        ("en", SCOPED, "10% off on category shoes (except SKU SH-9), on orders of at least "
                       "50.00 EUR"),
        ("en", FREE_MUG, "free: 2 x SKU MUG-1"),
        ("en", FREE_SHIPPING, "free shipping (worth up to 6.00 EUR)"),
    ],
)  # fmt: skip
def test_terms_name_what_the_coupon_applies_to(language, terms, expected):
    with translation.override(language):
        assert terms_text(terms, currency="EUR") == expected


@pytest.mark.parametrize("language", ["es", "ru", "tr"])
@pytest.mark.parametrize("terms", [SCOPED, FREE_MUG, FREE_SHIPPING])
def test_terms_are_translated_and_keep_the_names(language, terms):
    with translation.override("en"):
        english = terms_text(terms, currency="EUR")
    with translation.override(language):
        text = terms_text(terms, currency="EUR")

    assert text != english
    for name in ("shoes", "SH-9", "MUG-1"):
        assert (name in text) == (name in english)


def test_terms_of_money_only_terms_read_as_before():
    sample = SimpleNamespace(
        kind="percent", value=Decimal(10), max_discount=None, min_order_amount=Decimal(50)
    )

    assert terms_text(sample, currency="EUR") == "10% off orders of at least 50.00 EUR"


def test_staff_issue_form_types_free_shipping_and_takes_a_free_product_from_a_template(program):
    typed = {"kind": "free_shipping", "valid_days": 30, "uses": 1, "source": "compensation"}
    shipping = CouponTermsForm(typed, program=program)
    product = CouponTermsForm({**typed, "kind": "free_product"}, program=program)

    assert shipping.is_valid(), shipping.errors
    assert shipping.terms.kind == "free_shipping"
    assert not product.is_valid()
    assert "kind" in product.errors
