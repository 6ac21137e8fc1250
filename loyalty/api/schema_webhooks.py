"""The webhook events' payloads (a delivery's ``data``) as schemas with an example each, in the
OpenAPI document beside the operations: ``components.schemas.WebhookDelivery`` (the body's
envelope) and ``Webhook<Event>`` (each event's ``data``), listed by event under the document's
``x-webhooks``. docs/api/webhooks.md shows the same fields and examples, and
tests/api/test_webhook_payloads.py holds the guide, the document and real deliveries to one
another.

Amounts are decimal strings in the currency's minor unit (``loyalty.money.money_str``): the
pattern is exact for the document's currency when it has one.
"""

from typing import Any

from loyalty.api.schema import DOCUMENT_CURRENCY
from loyalty.money import minor_unit

MEMBER = {"type": "string", "description": "The member's external id.", "example": "cus_1042"}
BALANCE = {"type": "integer", "description": "The member's balance after."}
COUPON_CODE = {
    "type": "string",
    "description": "The coupon's code (`ABCDE-FGHJK-MNPQR`).",
    "example": "99W2R-RU9Z2-8BA6W",
}
CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code."}
KINDS = ["percent", "fixed", "free_product", "free_shipping"]


def amount(description: str) -> dict[str, Any]:
    """An amount as the payloads write it, in the document's currency's minor unit."""
    currency = DOCUMENT_CURRENCY.get()
    if currency is None:
        pattern = r"^[0-9]+(\.[0-9]{1,3})?$"
        decimals = "as many decimals as the currency has (2 for EUR, 0 for JPY, 3 for KWD)"
    else:
        places = minor_unit(currency)
        pattern = rf"^[0-9]+\.[0-9]{{{places}}}$" if places else r"^[0-9]+$"
        decimals = f"{places} decimals ({currency})"
    return {
        "type": "string",
        "format": "decimal",
        "pattern": pattern,
        "description": f"{description} A decimal string with {decimals}.",
    }


# What an event's payload is: what happened, {field: schema}, the fields always present, an
# example.
Payload = tuple[str, dict[str, Any], list[str], dict[str, Any]]


def payloads() -> dict[str, Payload]:
    """Each event's payload, by event."""
    return {**_points_payloads(), **_coupon_payloads(), **_member_payloads()}


def _points_payloads() -> dict[str, Payload]:
    return {
        "order_recorded": (
            "An order was recorded (`POST /orders` or a batch), once per order.",
            {
                "order": {"type": "string", "description": "Your order's external id."},
                "member": MEMBER,
                "amount": amount("The order's amount."),
                "currency": CURRENCY,
                "points_earned": {"type": "integer", "description": "Points the order earned."},
                "points_pending": {
                    "type": "integer",
                    "description": "Of them, those held until the return window ends (0 "
                    "without one).",
                },
                "balance": {
                    "type": "integer",
                    "description": "The member's balance after the order (and after any "
                    "coupon it paid for).",
                },
            },
            ["order", "member", "amount", "currency", "points_earned", "points_pending",
             "balance"],
            {"order": "ORD-1001", "member": "cus_1042", "amount": "129.90", "currency": "EUR",
             "points_earned": 129, "points_pending": 0, "balance": 29},
        ),
        "points_earned": (
            "Points were added to a member's balance: an order's points (at once, or when the "
            "return window ends), a grant, or a bonus (sign-up, birthday, referral).",
            {
                "member": MEMBER,
                "points": {"type": "integer", "description": "Points added."},
                "reason": {
                    "type": "string",
                    "description": "The ledger entry's reason, as the member sees it.",
                },
                "order": {
                    "type": "string",
                    "nullable": True,
                    "description": "The order that earned them; null for grants and bonuses.",
                },
                "balance": BALANCE,
                "pending_since": {
                    "type": "string",
                    "format": "date-time",
                    "description": "Only when pending points were released: when the order "
                    "was placed.",
                },
            },
            ["member", "points", "reason", "order", "balance"],
            {"member": "cus_1042", "points": 129,
             "reason": "Order #ORD-1001: 129.90 EUR x 1 points = 129 points",
             "order": "ORD-1001", "balance": 129},
        ),
    }  # fmt: skip


def _coupon_payloads() -> dict[str, Payload]:
    return {
        "reward_issued": (
            "Points turned into a coupon (automatically at a threshold, or claimed by the "
            "member).",
            {
                "member": MEMBER,
                "coupon": COUPON_CODE,
                "kind": {
                    "type": "string",
                    "enum": KINDS,
                    "description": "Percent off, an amount off, a free product or free "
                    "shipping.",
                },
                "value": {
                    "type": "string",
                    "format": "decimal",
                    "description": 'For `percent`, the percent ("10", "12.5"); otherwise an '
                    "amount in `currency`, in its minor unit (0 for a free product or free "
                    "shipping).",
                },
                "currency": CURRENCY,
                "valid_until": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When it expires.",
                },
                "points_spent": {"type": "integer", "description": "The points it cost."},
                "balance": BALANCE,
            },
            ["member", "coupon", "kind", "value", "currency", "valid_until", "points_spent",
             "balance"],
            {"member": "cus_1042", "coupon": "99W2R-RU9Z2-8BA6W", "kind": "fixed",
             "value": "10.00", "currency": "EUR",
             "valid_until": "2025-06-12T09:30:02.652021+00:00", "points_spent": 100,
             "balance": 29},
        ),
        "coupon_redeemed": (
            "A coupon was used on an order (`POST /coupons/{code}/redeem`).",
            {
                "coupon": COUPON_CODE,
                "member": {
                    "type": "string",
                    "nullable": True,
                    "description": "Its member; null for a coupon anyone may use.",
                },
                "order": {
                    "type": "string",
                    "description": "Your order reference sent with the redemption.",
                },
                "discount": amount("What it took off, shipping included."),
                "shipping_discount": amount("Of it, what it took off the shipping."),
                "currency": CURRENCY,
            },
            ["coupon", "member", "order", "discount", "shipping_discount", "currency"],
            {"coupon": "99W2R-RU9Z2-8BA6W", "member": "cus_1042", "order": "ORD-1002",
             "discount": "10.00", "shipping_discount": "0.00", "currency": "EUR"},
        ),
    }  # fmt: skip


def _member_payloads() -> dict[str, Payload]:
    return {
        "points_expired": (
            "A member's points expired (they stopped ordering for the program's validity "
            "period).",
            {
                "member": MEMBER,
                "points": {"type": "integer", "description": "Points that expired."},
                "expired_on": {
                    "type": "string",
                    "format": "date",
                    "description": "The day they expired (`2025-03-14`).",
                },
                "balance": BALANCE,
            },
            ["member", "points", "expired_on", "balance"],
            {"member": "cus_1042", "points": 29, "expired_on": "2026-03-14", "balance": 0},
        ),
        "tier_changed": (
            "A member moved to another tier, or staff overrode the tier.",
            {
                "member": MEMBER,
                "from": {
                    "type": "string",
                    "nullable": True,
                    "description": "The tier before; null for none.",
                },
                "to": {
                    "type": "string",
                    "nullable": True,
                    "description": "The tier now; null for none.",
                },
                "kind": {
                    "type": "string",
                    "enum": ["up", "down", "override", "override_end"],
                    "description": "Why: an order or the daily job lifted it, the daily job "
                    "found it below, staff set it, or staff's override ended.",
                },
                "reason": {"type": "string", "description": "The reason in words."},
                "until": {
                    "type": "string",
                    "format": "date-time",
                    "nullable": True,
                    "description": "For an override: when it ends.",
                },
            },
            ["member", "from", "to", "kind", "reason", "until"],
            {"member": "cus_1042", "from": "Silver", "to": "Gold", "kind": "up",
             "reason": "Re-evaluation: reached Gold: 1250 points in 365 days", "until": None},
        ),
    }  # fmt: skip


def component_name(event: str) -> str:
    return "Webhook" + "".join(part.title() for part in event.split("_"))


ENVELOPE = {
    "type": "object",
    "description": "The body of every delivery (UTF-8 JSON, signed: see the webhooks guide at "
    "/api/docs/webhooks/). `data` is the event's payload, `Webhook<Event>`. New fields may be "
    "added; ignore those you do not know.",
    "properties": {
        "id": {"type": "integer", "description": "The delivery's id (`X-Loyalty-Delivery`)."},
        "event": {"type": "string", "description": "The event (`X-Loyalty-Event`)."},
        "created_at": {"type": "string", "format": "date-time"},
        "data": {"type": "object", "description": "The event's payload."},
    },
    "required": ["id", "event", "created_at", "data"],
}


def add_webhook_payloads(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: the payload schemas and ``x-webhooks``."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["WebhookDelivery"] = ENVELOPE
    listed = {}
    for event, (description, properties, required, example) in payloads().items():
        name = component_name(event)
        schemas[name] = {
            "type": "object",
            "description": f"`{event}`: {description}",
            "properties": properties,
            "required": required,
            "example": example,
        }
        listed[event] = {"$ref": f"#/components/schemas/{name}"}
    result["x-webhooks"] = listed
    return result
