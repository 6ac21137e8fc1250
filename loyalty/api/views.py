"""API v1 views: parse, call one service, present. No business rule lives here."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.views import defaults
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api import serializers as s
from loyalty.api.errors import error_body
from loyalty.api.pagination import NewestFirstCursorPagination
from loyalty.api.schema import IDEMPOTENCY_KEY, errors
from loyalty.models import Program
from loyalty.selectors import member_ledger, member_summary
from loyalty.services.idempotency import idempotent_call, request_fingerprint
from loyalty.services.members import member_get, member_upsert
from loyalty.services.merchants import program_update
from loyalty.services.orders import order_get, order_record, refund_record
from loyalty.services.points import points_grant

READ_MEMBERS = ("orders", "checkout", "manage")


def not_found(request: HttpRequest) -> JsonResponse:
    """Unknown paths under the API get the API's error body."""
    body = error_body("not_found", gettext("There is no such API endpoint: %(path)s.")
                      % {"path": request.path})  # fmt: skip
    return JsonResponse(body, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a crash inside the API still answers in its error shape."""
    if request.path.startswith("/api/"):
        body = error_body("server_error", gettext("Something went wrong on our side; "
                          "retry with the same Idempotency-Key."))  # fmt: skip
        return JsonResponse(body, status=500)
    return defaults.server_error(request)


class LoyaltyView(APIView):
    """Base view: the caller's program, and writes that honour Idempotency-Key."""

    required_scopes: dict[str, tuple[str, ...]] = {}

    @property
    def program(self) -> Program:
        return self.request.auth.merchant.program  # type: ignore[union-attr]

    def write(self, request: Request, handler: Callable[[], Response]) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler()

        def call() -> tuple[int, Any]:
            try:
                response = handler()
            except Exception as exc:  # noqa: BLE001 - handle_exception re-raises real bugs
                response = self.handle_exception(exc)
            return response.status_code, response.data

        fingerprint = request_fingerprint(
            method=request.method or "", path=request.path, body=request.data
        )
        code, body = idempotent_call(
            merchant=request.auth.merchant,  # type: ignore[union-attr]
            key=key,
            fingerprint=fingerprint,
            call=call,
        )
        return Response(body, status=code)

    @staticmethod
    def valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class MemberView(LoyaltyView):
    required_scopes = {"GET": READ_MEMBERS, "PUT": ("orders", "manage")}

    @extend_schema(
        operation_id="member_get", responses={200: s.MemberSerializer, **errors(401, 403, 404)}
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = member_get(program=self.program, external_id=external_id)
        return Response(s.MemberSerializer(member_summary(member=member)).data)

    @extend_schema(
        operation_id="member_put",
        request=s.MemberInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: s.MemberSerializer, 201: s.MemberSerializer, **errors(400, 401, 403)},
        description="Create (201) or update (200) a member.",
    )
    def put(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(s.MemberInSerializer, request)
            consent = data.pop("consent", None) or {}
            member, created = member_upsert(
                program=self.program,
                external_id=external_id,
                consent_email=consent.get("email", False),
                consent_push=consent.get("push", False),
                **data,
            )
            return Response(
                s.MemberSerializer(member_summary(member=member)).data,
                status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            )

        return self.write(request, handler)


class MemberLedgerView(LoyaltyView):
    required_scopes = {"GET": ("orders", "manage")}

    @extend_schema(
        operation_id="member_ledger",
        responses={200: s.LedgerEntrySerializer(many=True), **errors(401, 403, 404)},
        parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
        description="The member's ledger entries, newest first, paginated with a cursor.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = member_get(program=self.program, external_id=external_id)
        paginator = NewestFirstCursorPagination()
        page: list[Any] | None = paginator.paginate_queryset(
            member_ledger(member=member), request, view=self
        )
        return paginator.get_paginated_response(s.LedgerEntrySerializer(page, many=True).data)


class MemberGrantsView(LoyaltyView):
    required_scopes = {"POST": ("manage",)}

    @extend_schema(
        operation_id="member_grant",
        request=s.GrantInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.GrantSerializer, **errors(400, 401, 403, 404, 409, 422)},
        description=(
            "Grant (points > 0) or deduct (points < 0) points with a reason. "
            "A deduction never takes the balance below zero: 422 insufficient_points."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(s.GrantInSerializer, request)
            result = points_grant(
                program=self.program,
                member_external_id=external_id,
                points=data["points"],
                reason=data["reason"],
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
            body = {"entry": result.entry, "balance": result.entry.balance_after}
            return Response(s.GrantSerializer(body).data, status=status.HTTP_201_CREATED)

        return self.write(request, handler)


class OrdersView(LoyaltyView):
    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="order_create",
        request=s.OrderInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: s.OrderSerializer,
            200: s.OrderSerializer,
            **errors(400, 401, 403, 409, 422),
        },
        description=(
            "Record a paid order and earn its points. An unknown member is created. "
            "The same external_id with the same body answers 200 with the first result and "
            "earns nothing; with another body, 409 order_conflict."
        ),
    )
    def post(self, request: Request) -> Response:
        def handler() -> Response:
            data = self.valid(s.OrderInSerializer, request)
            result = order_record(
                program=self.program,
                external_id=data["external_id"],
                member_external_id=data["member"],
                amount=data["amount"],
                currency=data["currency"],
                placed_at=data.get("placed_at"),
                breakdown=data.get("breakdown"),
            )
            body = s.OrderSerializer.present(
                result.order, balance=result.balance, coupons=result.coupons_issued
            )
            code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
            return Response(s.OrderSerializer(body).data, status=code)

        return self.write(request, handler)


class OrderView(LoyaltyView):
    required_scopes = {"GET": ("orders",)}

    @extend_schema(
        operation_id="order_get", responses={200: s.OrderSerializer, **errors(401, 403, 404)}
    )
    def get(self, request: Request, external_id: str) -> Response:
        order = order_get(program=self.program, external_id=external_id)
        body = s.OrderSerializer.present(order, balance=order.member.balance, coupons=[])
        return Response(s.OrderSerializer(body).data)


class OrderRefundsView(LoyaltyView):
    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="order_refund",
        request=s.RefundInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: s.RefundSerializer,
            200: s.RefundSerializer,
            **errors(400, 401, 403, 404, 409, 422),
        },
        description=(
            "Refund part or all of an order. Points come back in proportion to the refunded "
            "share, at the rate the order earned, never more than it earned."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(s.RefundInSerializer, request)
            result = refund_record(
                program=self.program,
                order_external_id=external_id,
                external_id=data["external_id"],
                amount=data["amount"],
                currency=data.get("currency"),
            )
            body = s.RefundSerializer.present(
                result.refund, order=result.refund.order, balance=result.balance
            )
            code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
            return Response(s.RefundSerializer(body).data, status=code)

        return self.write(request, handler)


class ProgramView(LoyaltyView):
    required_scopes = {"GET": ("manage",), "PUT": ("manage",)}

    @extend_schema(
        operation_id="program_get", responses={200: s.ProgramSerializer, **errors(401, 403)}
    )
    def get(self, request: Request) -> Response:
        return Response(s.ProgramSerializer(self.program).data)

    @extend_schema(
        operation_id="program_put",
        request=s.ProgramSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: s.ProgramSerializer, **errors(400, 401, 403, 422)},
        description="Change the program's settings; any subset of the fields may be sent.",
    )
    def put(self, request: Request) -> Response:
        def handler() -> Response:
            serializer = s.ProgramSerializer(self.program, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            program = program_update(program=self.program, **serializer.validated_data)
            return Response(s.ProgramSerializer(program).data)

        return self.write(request, handler)
