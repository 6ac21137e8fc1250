"""The error responses of the OpenAPI document: for each status an operation can answer, the
codes it may carry (``x-error-codes``, named in the description too) and an example body of
each, in the error envelope of API.md (``{"code", "detail", "fields"?}``).

Every code named here is one of the API's own (``loyalty.errors``, ``rewards.errors``,
``loyalty.api.errors.HANDLER_CODES``): tests/api/test_schema_docs.py holds it to that.
"""

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from loyalty.api.serializers.fields import ErrorSerializer

ERROR_CODES_EXTENSION = "x-error-codes"

# What a status means to an integrator, before its codes.
STATUS_TEXT = {
    400: "The request is malformed: fix it before sending it again (the same request will "
    "fail the same way).",
    401: "No API key, or one that is not valid or was revoked.",
    403: "The key is valid but lacks the scope this operation needs.",
    404: "Nothing with this id in your program (another merchant's ids are 404 too).",
    409: "The request conflicts with an earlier one.",
    413: "The body is larger than the API accepts; send less (a batch in several parts).",
    422: "The request is well formed but a business rule refused it; `code` says which.",
    429: "Too many attempts; retry after the `Retry-After` header's seconds.",
}

# Codes every operation answering the status may carry.
DEFAULT_CODES = {
    400: ("validation_error", "parse_error"),
    401: ("not_authenticated", "authentication_failed"),
    403: ("permission_denied",),
    409: ("idempotency_conflict",),
    413: ("payload_too_large",),
    429: ("rate_limited",),
}

# The refusals that depend on the program's data (a balance, a coupon's terms and uses, what
# exists, what was sent before), not on the request's form: a request the document calls valid
# may still get one of these, and only these. Any other refusal of a schema-valid request
# (``validation_error``, or ``currency_mismatch`` in a document exact for the program's
# currency) means the document failed to say what the API refuses: the fuzz test fails on it.
STATE_CODES = frozenset({
    # 404: nothing with this id (yet)
    "member_not_found", "order_not_found", "coupon_not_found", "redemption_not_found",
    "reward_not_found",
    # 409: an earlier request with the same key or id
    "idempotency_conflict", "order_conflict", "refund_conflict",
    # 422: the member's balance and limits, the program's choices, the coupon's state
    "insufficient_points", "transfers_disabled", "transfer_limit_exceeded", "rewards_automatic",
    "refund_exceeds_order", "coupon_expired", "coupon_not_yet_valid", "coupon_already_redeemed",
    "coupon_void", "coupon_wrong_member", "coupon_min_order_not_met", "coupon_lines_required",
    "no_eligible_items", "coupon_member_required", "coupon_member_limit_reached",
    "coupon_allowance_used_up",
    # 422: what the program already holds (its members' points, its orders)
    "validity_mode_locked", "currency_locked",
    # 429: how many attempts came before
    "rate_limited",
})  # fmt: skip

# An example ``detail`` (and ``fields``) of each code, as the API answers in English.
EXAMPLES: dict[str, dict[str, Any]] = {
    "validation_error": {
        "detail": "Some fields are invalid; see 'fields'.",
        "fields": {"amount": ["A valid number is required."]},
    },
    "parse_error": {"detail": "JSON parse error - Expecting value: line 1 column 12 (char 11)"},
    "invalid_cursor": {
        "detail": "This cursor is not valid. Use the 'next' or 'previous' link of a page as it "
        "is, or leave the cursor out to start from the newest."
    },
    "not_authenticated": {"detail": "Send your API key as 'Authorization: Bearer <key>'."},
    "authentication_failed": {"detail": "This API key is not valid or was revoked."},
    "permission_denied": {"detail": "This API key lacks the scope this call needs: manage."},
    "member_not_found": {"detail": "No member with external id 'cus_1042' in this program."},
    "order_not_found": {"detail": "No order with external id 'ORD-2024-0815' in this program."},
    "coupon_not_found": {
        "detail": "There is no coupon with this code. Check it for typos: a code has 15 "
        "letters and digits, like ABCDE-FGHJK-MNPQR."
    },
    "redemption_not_found": {
        "detail": "Coupon K7QXM-4TPRW-9HCNA was not used on order 'ORD-2024-0815', so there "
        "is nothing to release."
    },
    "reward_not_found": {"detail": "This program has no reward at 750 points."},
    "idempotency_conflict": {
        "detail": "This Idempotency-Key was already used with a different request. Use a new "
        "key for a new request."
    },
    "order_conflict": {
        "detail": "Order 'ORD-2024-0815' was already recorded with different data. Send the "
        "same body to read it again, or use a new external id."
    },
    "refund_conflict": {
        "detail": "Refund 'RF-0815-1' of this order was already recorded with a different amount."
    },
    "currency_mismatch": {"detail": "This program works in EUR; the amount was sent in USD."},
    "insufficient_points": {
        "detail": "The member has 120 points; 500 cannot be taken without going below zero."
    },
    "refund_exceeds_order": {
        "detail": "Only 35.00 EUR of order 'ORD-2024-0815' is left to refund; 49.90 EUR was asked."
    },
    "transfers_disabled": {"detail": "This program does not allow members to transfer points."},
    "transfer_limit_exceeded": {
        "detail": "A member may give at most 5000 points a month; 4800 were given this month, "
        "so at most 200 more."
    },
    "rewards_automatic": {
        "detail": "This program converts points into coupons automatically; there is nothing "
        "to claim."
    },
    "coupon_expired": {"detail": "This coupon expired on 31 March 2025 and can no longer be used."},
    "coupon_not_yet_valid": {
        "detail": "This coupon can be used from 1 June 2025. Please try again then."
    },
    "coupon_already_redeemed": {
        "detail": "This coupon has already been used, so it cannot be used again."
    },
    "coupon_void": {"detail": "This coupon was cancelled and can no longer be used."},
    "coupon_wrong_member": {
        "detail": "This coupon belongs to another customer account. Sign in with the account "
        "it was issued to, or remove it from the order."
    },
    "coupon_min_order_not_met": {
        "detail": "Add 12.00 EUR to your order to use this coupon: it applies to orders of at "
        "least 50.00 EUR."
    },
    "coupon_lines_required": {
        "detail": "This coupon applies to a free product (SKU MUG-01): send the order's lines "
        "(sku, category, quantity, unit_price) to use it."
    },
    "no_eligible_items": {
        "detail": "None of the items in this order qualify for this coupon. It applies to "
        "category coffee: add such an item to use it.",
        "lines": [{"index": 0, "sku": "TEA-GREEN-100", "eligible": False, "discount": "0.00"}],
        "scope": {"include_categories": ["coffee"]},
    },
    "coupon_member_required": {
        "detail": "Each customer may use this coupon only a limited number of times: sign in "
        "(send the member) to use it."
    },
    "coupon_member_limit_reached": {
        "detail": "You have used this coupon as many times as it allows per customer (2), so "
        "it cannot be used again."
    },
    "coupon_allowance_used_up": {
        "detail": "This perk's uses for the current period (2) are used up. It can be used "
        "again from April 1, 2027."
    },
    "validity_mode_locked": {
        "detail": "Members already hold points under the current expiry mode; it can no longer "
        "change. Points validity in days can still be changed."
    },
    "currency_locked": {
        "detail": "The program already has orders in EUR; its currency can no longer change."
    },
    "payload_too_large": {
        "detail": "The request body is larger than 2621440 bytes, the most this API accepts. "
        "Send less at once: split a batch into smaller ones."
    },
    "rate_limited": {
        "detail": "Too many coupon codes that do not exist were tried. Please wait 60 seconds "
        "before trying again."
    },
}


def error_example(code: str) -> dict[str, Any]:
    """The example body of ``code`` in the error envelope."""
    return {"code": code, **EXAMPLES[code]}


def error_response(
    status: int, codes: tuple[str, ...], serializer: Any = ErrorSerializer
) -> OpenApiResponse:
    """One status's response: ``serializer`` for an envelope with fields of its own (a
    checkout refusal's ``lines`` and ``scope``)."""
    names = ", ".join(f"`{code}`" for code in codes)
    return OpenApiResponse(
        serializer,
        description=f"{STATUS_TEXT[status]} Codes: {names}.",
        examples=[
            OpenApiExample(code, value=error_example(code), response_only=True) for code in codes
        ],
    )


def errors(*statuses: int, **codes: tuple[str, ...]) -> dict[int, OpenApiResponse]:
    """The error responses of ``statuses``, each with its default codes and those named for it
    (``not_found=``, ``conflict=``, ``refused=`` for 404, 409, 422; ``invalid=`` for 400).
    A status without any code is a mistake in the annotation: it raises."""
    extra = {
        400: codes.pop("invalid", ()),
        404: codes.pop("not_found", ()),
        409: codes.pop("conflict", ()),
        422: codes.pop("refused", ()),
    }
    if codes:
        raise TypeError(f"unknown error groups: {sorted(codes)}")
    responses = {}
    for status in statuses:
        named = (*DEFAULT_CODES.get(status, ()), *extra.get(status, ()))
        if not named:
            raise ValueError(f"no error code documented for {status}")
        responses[status] = error_response(status, named)
    return responses


def error_codes_extension(operation: dict[str, Any]) -> None:
    """``x-error-codes`` on each error response: the codes its examples show."""
    for status, response in operation.get("responses", {}).items():
        if not str(status).startswith(("4", "5")):
            continue
        examples = response.get("content", {}).get("application/json", {}).get("examples", {})
        response[ERROR_CODES_EXTENSION] = [
            example["value"]["code"] for example in examples.values()
        ]
