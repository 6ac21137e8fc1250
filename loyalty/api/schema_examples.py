"""Examples of the main operations' bodies for the OpenAPI document: real amounts in the
currency's decimals, ISO 4217 codes, ids as a shop would send them. Each request example is
valid for its operation's request schema (tests/api/test_schema_docs.py checks it)."""

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiExample

COUPON: dict[str, object] = {
    "code": "K7QXM-4TPRW-9HCNA",
    "kind": "fixed",
    "value": "10.00",
    "max_discount": None,
    "min_order_amount": "50.00",
    "currency": "EUR",
    "valid_from": "2025-03-14T09:30:02Z",
    "valid_until": "2025-06-12T09:30:02Z",
    "status": "active",
    "member": "cus_1042",
    "uses_allowed": 1,
    "uses_count": 0,
    "uses_left": 1,
    "uses_per_member": None,
    "allowance": None,
    "product": None,
    "scope": {},
    "source": "reward",
    "terms": "10.00 EUR off orders of at least 50.00 EUR",
}


def request(name: str, value: Mapping[str, object], summary: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, summary=summary or name, request_only=True)


def response(name: str, value: Mapping[str, object], status: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


ORDER_CREATE = [
    request(
        "A paid order",
        {
            "external_id": "ORD-2024-0815",
            "member": "cus_1042",
            "amount": "129.90",
            "currency": "EUR",
            "placed_at": "2025-03-14T09:30:00Z",
        },
    ),
    request(
        "With shipping, tax and lines",
        {
            "external_id": "ORD-2024-0816",
            "member": "cus_1042",
            "amount": "84.50",
            "currency": "EUR",
            "placed_at": "2025-03-15T18:02:11+01:00",
            "breakdown": {"shipping": "4.90", "tax": "13.49", "discount": "0.00"},
            "lines": [
                {"sku": "TENT-2P", "category": "camping", "quantity": 1, "amount": "59.90"},
                {"sku": "MUG-ENAMEL", "category": "kitchen", "quantity": 2, "amount": "19.70"},
            ],
        },
    ),
    response(
        "Recorded: 129 points, a coupon issued",
        {
            "external_id": "ORD-2024-0815",
            "member": "cus_1042",
            "amount": "129.90",
            "currency": "EUR",
            "breakdown": {
                "discount": "0.00",
                "shipping": "0.00",
                "tax": "0.00",
                "paid_with_gift_card": "0.00",
            },
            "points_base": "129.90",
            "status": "paid",
            "points_earned": 129,
            "refunded_amount": "0.00",
            "points_reversed": 0,
            "placed_at": "2025-03-14T09:30:00Z",
            "balance": 29,
            "pending_points": 0,
            "pending_until": None,
            "coupons_issued": [COUPON],
            "points_breakdown": None,
        },
        status=201,
    ),
]

ORDER_REFUND = [
    request("Part of an order", {"external_id": "RF-0815-1", "amount": "49.90"}),
    response(
        "Refunded: 49 points back",
        {
            "refund": {
                "external_id": "RF-0815-1",
                "order": "ORD-2024-0815",
                "amount": "49.90",
                "currency": "EUR",
                "points_reversed": 49,
                "created_at": "2025-03-20T11:04:51Z",
            },
            "points_reversed": 49,
            "pending_cancelled": 0,
            "balance": 80,
        },
        status=201,
    ),
]

CHECKOUT = {"member": "cus_1042", "order_amount": "64.00", "currency": "EUR"}

COUPON_VALIDATE = [
    request("A signed-in customer's order", CHECKOUT),
    response(
        "It applies",
        {
            "valid": True,
            "discount": "10.00",
            "shipping_discount": "0.00",
            "lines": [],
            "coupon": COUPON,
        },
    ),  # fmt: skip
]

COUPON_REDEEM = [
    request("On order ORD-2024-0901", {**CHECKOUT, "order": "ORD-2024-0901"}),
    response(
        "Redeemed",
        {
            "discount": "10.00",
            "shipping_discount": "0.00",
            "lines": [],
            "coupon": {**COUPON, "status": "redeemed", "uses_count": 1, "uses_left": 0},
        },  # fmt: skip
    ),
]

COUPON_RELEASE = [
    request("Order ORD-2024-0901 was cancelled", {"order": "ORD-2024-0901"}),
    response("Active again", {"coupon": COUPON}),
]

MEMBER_PUT = [
    request(
        "A new customer",
        {
            "email": "ana.garcia@example.com",
            "name": "Ana García",
            "locale": "es",
            "consent": {"email": True, "push": False},
        },
    ),
]

MEMBER_GRANT = [
    request("A goodwill grant", {"points": 250, "reason": "Sorry for the late delivery"}),
    request("A correction", {"points": -40, "reason": "Points of a cancelled order"}),
]
