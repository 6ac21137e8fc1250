"""``POST /api/v1/orders/batch``: up to 1,000 orders in one request, one result each.

Each item is checked by the single order's input serializer, then recorded by
``orders_record_batch`` (the single-order path per order). The answer is 200
with a result per item in the order sent: ``created``, ``replayed`` (already
recorded with this body) or ``error`` with the error body a single
``POST /orders`` would have got. A malformed envelope (no list, too many) is a
400 for the whole request. Sizes come first: the orders are counted before any is
looked at, an order's lines before any line is checked, and a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 with none of it read.
"""

from typing import Any

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from loyalty import metrics
from loyalty.api.base import LoyaltyView
from loyalty.api.errors import _flatten, error_body
from loyalty.api.schema import IDEMPOTENCY_KEY, errors
from loyalty.api.serializers.fields import BoundedListField, ErrorSerializer
from loyalty.api.serializers.orders import OrderInSerializer, OrderSerializer
from loyalty.services.orders import MAX_BATCH_ORDERS, BatchOrder, orders_record_batch


class OrderBatchInSerializer(serializers.Serializer):
    """The envelope; each item is checked on its own (its errors go in its result)."""

    orders = BoundedListField(
        child=serializers.DictField(), min_length=1, max_length=MAX_BATCH_ORDERS
    )


# Any object is taken as an item: each is checked on its own and a bad one gets an `error`
# result in a 200, so the document holds items to "an object" only.
@extend_schema_field(
    {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_ORDERS,
     "items": {"type": "object", "description": "An order, as `POST /orders` takes it "
               "(`OrderInRequest`); one that is not valid gets its `error` result."},
     "description": f"1 to {MAX_BATCH_ORDERS} orders."}
)  # fmt: skip
class BatchOrdersField(BoundedListField):
    pass


class OrderBatchDocSerializer(serializers.Serializer):
    """Up to 1,000 orders, each exactly as `POST /orders` takes it."""

    orders = BatchOrdersField(child=serializers.DictField())


class OrderBatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `orders`, from 0.")
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "replayed", "error"])
    order = OrderSerializer(allow_null=True)
    error = ErrorSerializer(allow_null=True)


class OrderBatchSerializer(serializers.Serializer):
    results = OrderBatchResultSerializer(many=True)
    created = serializers.IntegerField()
    replayed = serializers.IntegerField()
    failed = serializers.IntegerField()


def _result(index: int, external_id: Any, **fields: Any) -> dict[str, Any]:
    return {"index": index, "external_id": external_id, "order": None, "error": None, **fields}


class OrdersBatchView(LoyaltyView):
    """POST records a batch ("batch" is never an order's id: loyalty.ids)."""

    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="order_batch_create",
        summary="Record a batch of orders",
        request=OrderBatchDocSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: OrderBatchSerializer, **errors(400, 401, 403, 409)},
        description=(
            f"Record up to {MAX_BATCH_ORDERS} paid orders at once, for integrators who sync in "
            "bulk. Each order is handled exactly as `POST /orders` would (same checks, same "
            "earning, idempotent by its external_id) and gets its own result, in the order "
            "sent: `created`, `replayed`, or `error` with the error body a single order would "
            "have got. One bad order does not stop the others. The body may be at most "
            "2.5 MB by default (the server's `DATA_UPLOAD_MAX_MEMORY_SIZE`; more: 413 "
            "`payload_too_large`): orders with many lines go in smaller batches."
        ),
    )
    def post(self, request: Request) -> Response:
        def handler() -> Response:
            items = self.valid(OrderBatchInSerializer, request)["orders"]
            results: list[dict[str, Any] | None] = [None] * len(items)
            valid: list[BatchOrder] = []
            positions: list[int] = []
            # One serializer for every item (building its fields is most of its cost), used
            # as a ListSerializer uses its child, but keeping each item's own errors.
            checker = OrderInSerializer()
            for index, item in enumerate(items):
                try:
                    valid.append(checker.run_validation(item))
                    positions.append(index)
                    continue
                except serializers.ValidationError as refused:
                    problems = as_serializer_error(refused)
                body = error_body("validation_error", gettext("Some fields are invalid; see "
                                  "'fields'."), _flatten(problems))  # fmt: skip
                external_id = item.get("external_id")
                results[index] = _result(
                    index, external_id if isinstance(external_id, str) else None,
                    status="error", error=body,
                )  # fmt: skip
            outcomes = orders_record_batch(program=self.program, orders=valid) if valid else []
            for index, outcome in zip(positions, outcomes, strict=True):
                if outcome.error is not None:
                    error = error_body(outcome.error.code, outcome.error.detail,
                                       getattr(outcome.error, "fields", None))  # fmt: skip
                    results[index] = _result(
                        index, outcome.external_id, status="error", error=error
                    )
                    continue
                result = outcome.result
                assert result is not None
                metrics.observe_order(created=result.created, points=result.order.points_earned)
                order = OrderSerializer.present(
                    result.order, balance=result.balance, coupons=result.coupons_issued
                )
                results[index] = _result(
                    index, outcome.external_id, status=outcome.status, order=order
                )
            final = [r for r in results if r is not None]
            body = {
                "results": final,
                "created": sum(r["status"] == "created" for r in final),
                "replayed": sum(r["status"] == "replayed" for r in final),
                "failed": sum(r["status"] == "error" for r in final),
            }
            # Every part is its serializer's representation already (``present``, error_body).
            return Response(body)

        return self.write(request, handler)
