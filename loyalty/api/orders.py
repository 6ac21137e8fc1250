"""API v1 views of orders: record one (or a group arriving together), quote one, read one,
refund one. Parse, call one service, present; no business rule lives here."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty import metrics
from loyalty.api import schema_examples as examples
from loyalty.api.base import (
    LoyaltyView,
    OrderPathView,
)
from loyalty.api.schema import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_IGNORED,
    errors,
)
from loyalty.api.serializers.fields import represent
from loyalty.api.serializers.orders import (
    OrderInSerializer,
    OrderSerializer,
    QuoteSerializer,
    RefundInSerializer,
    RefundSerializer,
    earning_out,
)
from loyalty.api.serializers.program import (
    ThresholdSerializer,
)
from loyalty.selectors import order_get
from loyalty.services.orders import order_arguments, order_input, order_record_grouped
from loyalty.services.pending import order_pending
from loyalty.services.quote import order_quote
from loyalty.services.refunds import refund_record


class OrdersView(LoyaltyView):
    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="order_create",
        examples=examples.ORDER_CREATE,
        summary="Record a paid order",
        request=OrderInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OrderSerializer,
            200: OrderSerializer,
            **errors(
                400,
                401,
                403,
                409,
                422,
                conflict=("order_conflict",),
                refused=("currency_mismatch",),
            ),
        },
        description=(
            "Record a paid order and earn its points. An unknown member is created. "
            "The same external_id with the same body answers 200 with the first result and "
            "earns nothing; with another body, 409 order_conflict. In an automatic program "
            "the points that reach a reward threshold become coupons (`coupons_issued`)."
        ),
    )
    def post(self, request: Request) -> Response:
        def handler() -> Response:
            data = self.valid(OrderInSerializer, request)
            order = order_input(program=self.program, **order_arguments(data))
            # With the orders of other requests arriving at the same moment (storage.group).
            result = order_record_grouped(program=self.program, order=order)
            metrics.observe_order(created=result.created, points=result.order.points_earned)
            body = OrderSerializer.present(
                result.order,
                balance=result.balance,
                coupons=result.coupons_issued,
                pending=(result.pending_points, result.pending_until),
            )
            code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
            return Response(body, status=code)  # present() is the representation already

        return self.write(request, handler)


class OrderQuoteView(LoyaltyView):
    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="order_quote",
        summary="Quote what an order would earn",
        request=OrderInSerializer,
        parameters=[IDEMPOTENCY_KEY_IGNORED],
        responses={
            200: QuoteSerializer,
            **errors(400, 401, 403, 422, refused=("currency_mismatch",)),
        },
        description=(
            "What `POST /orders` with the same body would earn now, and changes nothing: the "
            "points line by line and rule by rule (`points_breakdown`, the same shape as the "
            "order's), the reason for every excluded amount, sign-up or referral bonuses, the "
            "coupons the balance would convert into and the tier it would reach. An "
            "Idempotency-Key is accepted and ignored: a quote is always safe to repeat."
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(OrderInSerializer, request)
        quote = order_quote(program=self.program, **order_arguments(data))
        currency = self.program.currency
        body = {
            "external_id": quote.external_id,
            "member": quote.member,
            "member_exists": quote.member_exists,
            "already_recorded": quote.already_recorded,
            "points_earned": quote.earning.total,
            "points_breakdown": earning_out(quote.earning.as_dict()),
            "bonuses": [vars(bonus) for bonus in quote.bonuses],
            "balance": quote.balance_before,
            "balance_after": quote.balance_after,
            "coupons_issued": [
                ThresholdSerializer.present(coupon, currency=currency) for coupon in quote.coupons
            ],
            "tier": quote.tier,
        }
        return Response(represent(QuoteSerializer, body))


class OrderView(OrderPathView):
    required_scopes = {"GET": ("orders",)}

    @extend_schema(
        operation_id="order_get",
        summary="Read an order",
        responses={200: OrderSerializer, **errors(401, 403, 404, not_found=("order_not_found",))},
        description="The order as recorded; `coupons_issued` lists the coupons it paid for.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        order = order_get(program=self.program, external_id=external_id)
        coupons = list(order.coupons_issued.select_related("member").order_by("pk"))
        body = OrderSerializer.present(
            order, balance=order.member.balance, coupons=coupons, pending=order_pending(order=order)
        )
        return Response(body)


class OrderRefundsView(OrderPathView):
    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="order_refund",
        examples=examples.ORDER_REFUND,
        summary="Refund an order",
        request=RefundInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: RefundSerializer,
            200: RefundSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                422,
                not_found=("order_not_found",),
                conflict=("refund_conflict",),
                refused=("refund_exceeds_order", "currency_mismatch"),
            ),
        },
        description=(
            "Refund part or all of an order. Points come back in proportion to the refunded "
            "share, at the rate the order earned, never more than it earned."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(RefundInSerializer, request)
            result = refund_record(
                program=self.program,
                order_external_id=external_id,
                external_id=data["external_id"],
                amount=data["amount"],
                currency=data.get("currency"),
            )
            body = RefundSerializer.present(
                result.refund, order=result.refund.order, balance=result.balance
            )
            code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
            return Response(represent(RefundSerializer, body), status=code)

        return self.write(request, handler)
