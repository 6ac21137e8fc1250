"""``serializers.represent`` and ``validated`` answer exactly what a new serializer would.

The views keep one bound serializer per class (a new one deep-copies all its fields); the
representation must be the serializer's own, byte for byte, and refusals DRF's own, in
the request's language.
"""

from datetime import UTC, datetime, timedelta
from datetime import timezone as fixed
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation
from rest_framework.exceptions import ValidationError
from rest_framework.fields import DateTimeField
from rest_framework.renderers import JSONRenderer

from loyalty.api.serializers.fields import datetime_out, represent, validated
from loyalty.api.serializers.members import LedgerEntrySerializer, MemberSerializer
from loyalty.api.serializers.orders import OrderInSerializer, OrderSerializer
from loyalty.models import Order
from loyalty.selectors import member_ledger, member_summary
from loyalty.services.orders import order_record
from loyalty.services.pending import order_pending
from rewards.api.serializers import (
    CheckoutInSerializer,
    CouponValidationSerializer,
)
from rewards.api.views import answer_body
from rewards.services.checkout import coupon_validate

pytestmark = pytest.mark.django_db

PROGRAM = "/api/v1/program"
# A reward at 100 points, a tier, a product bonus and a 14-day return window: orders then
# carry coupons, a tier, rule lines and pending points.
SETUP = {
    "pending_days": 14,
    "thresholds": [{"points": 100, "coupon": {"kind": "percent", "value": "10"}}],
    "tiers": [{"name": "Gold", "min_points": 50, "earn_multiplier": "1.5", "badge": "G"}],
    "earning_rules": [
        {
            "kind": "product_bonus",
            "name": "Coffee",
            "parameters": {"sku": "C", "points_per_unit": 5},
        }
    ],
}
LINES = [
    {"sku": "C", "category": "drinks", "quantity": 2, "amount": "6.00"},
    {"sku": "B", "amount": "24.00"},
]


def rendered(data) -> bytes:
    return JSONRenderer().render(data)


def assert_same(serializer_class, value, many=False) -> None:
    fresh = serializer_class(value, many=many).data

    assert rendered(represent(serializer_class, value, many=many)) == rendered(fresh)
    # and again: the bound instance keeps nothing from one call to the next
    assert rendered(represent(serializer_class, value, many=many)) == rendered(fresh)


@pytest.fixture
def shop(api, program):
    assert api.put(PROGRAM, SETUP, format="json").status_code == 200
    program.refresh_from_db()
    return program


def without_return_window(program) -> None:
    program.pending_days = 0
    program.save(update_fields=["pending_days"])


def record(program, external_id, amount, **fields):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id="ann",
        amount=Decimal(amount),
        currency="EUR",
        **fields,
    )


def order_body(result) -> dict:
    return OrderSerializer.present(
        result.order,
        balance=result.balance,
        coupons=result.coupons_issued,
        pending=(result.pending_points, result.pending_until),
    )


def test_an_order_with_lines_pending_points_coupons_and_a_tier_is_presented_alike(shop):
    first = record(shop, "O-1", "30.00", lines=LINES)
    assert first.pending_points > 0
    assert first.order.earning["lines"]
    pending = record(shop, "O-2", "30.00")
    without_return_window(shop)
    converting = record(shop, "O-3", "500.00", breakdown={"discount": Decimal("5.00")})
    assert converting.coupons_issued
    gold = record(shop, "O-4", "20.00", lines=LINES)
    assert gold.order.earning["tier"] == "Gold"

    for result in (first, pending, converting, gold):
        assert_same(OrderSerializer, order_body(result))


def test_a_replayed_and_a_read_order_are_presented_alike(shop):
    without_return_window(shop)
    assert record(shop, "O-1", "200.00", lines=LINES).coupons_issued
    replay = record(shop, "O-1", "200.00", lines=LINES)
    order = Order.objects.select_related("member").get(external_id="O-1")
    coupons = list(order.coupons_issued.select_related("member").order_by("pk"))

    assert_same(OrderSerializer, order_body(replay))
    assert_same(
        OrderSerializer,
        OrderSerializer.present(
            order, balance=order.member.balance, coupons=coupons, pending=order_pending(order=order)
        ),
    )


def test_the_api_answers_an_order_as_the_serializer_presents_it(api, shop):
    body = {"external_id": "O-9", "member": "ann", "amount": "150.00", "currency": "EUR",
            "lines": LINES}  # fmt: skip

    response = api.post("/api/v1/orders", body, format="json")

    assert response.status_code == 201
    order = Order.objects.select_related("member").get(external_id="O-9")
    expected = OrderSerializer(
        OrderSerializer.present(
            order,
            balance=order.member.balance,
            coupons=list(order.coupons_issued.select_related("member").order_by("pk")),
            pending=order_pending(order=order),
        )
    ).data
    assert response.content == rendered(expected)


def test_members_ledgers_and_coupon_checks_are_presented_alike(shop):
    without_return_window(shop)
    result = record(shop, "O-1", "500.00")
    member = result.order.member
    coupon = result.coupons_issued[0]
    check = coupon_validate(
        program=shop, code=coupon.code, order_amount=Decimal("80.00"), currency="EUR",
        member_external_id="ann", guard=None,
    )  # fmt: skip

    assert_same(MemberSerializer, member_summary(member=member))
    assert_same(LedgerEntrySerializer, list(member_ledger(member=member)), many=True)
    assert_same(
        CouponValidationSerializer,
        {"valid": True, **answer_body(check)},
    )


def test_nothing_to_present_is_drfs_empty_representation():
    assert represent(LedgerEntrySerializer, None, many=True) == []


GOOD = {"external_id": "O-1", "member": "ann", "amount": Decimal("12.50"), "currency": "EUR",
        "breakdown": {"tax": "1.00"}, "lines": [{"sku": "C", "amount": "2.00"}]}  # fmt: skip
BAD = [
    {},
    {"external_id": "a/b", "member": "ann", "amount": "x", "currency": "EURO"},
    {**GOOD, "lines": [{"sku": "C", "amount": "2.00"}, {"quantity": 0}]},
    {**GOOD, "breakdown": {"tax": "lots"}},
    [GOOD],
    None,
    "text",
]


def test_valid_input_is_validated_alike():
    fresh = OrderInSerializer(data=GOOD)
    assert fresh.is_valid()

    assert validated(OrderInSerializer, GOOD) == fresh.validated_data
    assert validated(OrderInSerializer, GOOD) == fresh.validated_data


@pytest.mark.parametrize("data", BAD)
@pytest.mark.parametrize("language", ["en", "es", "ru"])
def test_bad_input_is_refused_alike_in_the_requests_language(data, language):
    validated(CheckoutInSerializer, {"order_amount": "1", "currency": "EUR"})  # bound in en
    with translation.override(language):
        fresh = OrderInSerializer(data=data)
        assert not fresh.is_valid()
        with pytest.raises(ValidationError) as refused:
            validated(OrderInSerializer, data)

        assert refused.value.detail == ValidationError(fresh.errors).detail
        assert rendered(refused.value.detail) == rendered(ValidationError(fresh.errors).detail)


def test_an_api_refusal_follows_accept_language_after_other_languages(api, program):
    bad = {"external_id": "O-1", "member": "ann", "amount": "x", "currency": "EUR"}

    details = [
        api.post("/api/v1/orders", bad, format="json", HTTP_ACCEPT_LANGUAGE=language).json()
        for language in ("es", "en", "ru", "es")
    ]

    assert details[0] == details[3]
    assert len({str(d["fields"]["amount"]) for d in details[:3]}) == 3


def test_an_order_as_presented_is_its_serializers_representation_already(shop):
    """The order views answer ``present``'s dict as it is (no serializer pass): it must be
    what the serializer would make of it, byte for byte."""
    without_return_window(shop)
    first = record(shop, "O-1", "30.00", lines=LINES)
    converting = record(shop, "O-2", "500.00", breakdown={"discount": Decimal("5.00")})
    assert converting.coupons_issued
    replay = record(shop, "O-2", "500.00", breakdown={"discount": Decimal("5.00")})

    for result in (first, converting, replay):
        body = order_body(result)
        assert rendered(body) == rendered(OrderSerializer(body).data)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "Asia/Kolkata"])
def test_datetimes_are_shown_as_drf_shows_them(zone):
    values = [
        datetime(2026, 7, 1, 12, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 3, 29, 1, 59, tzinfo=fixed(timedelta(hours=-3))),
    ]
    with timezone.override(ZoneInfo(zone)):
        for value in values:
            assert datetime_out(value) == DateTimeField().to_representation(value)
    assert datetime_out(None) is None
