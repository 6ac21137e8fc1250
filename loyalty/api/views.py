"""API v1 views: parse, call one service, present. No business rule lives here."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import metrics
from loyalty.api import serializers as s
from loyalty.api.errors import error_body
from loyalty.api.pagination import NewestFirstCursorPagination
from loyalty.api.schema import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_NOT_KEPT,
    ScopedAutoSchema,
    errors,
)
from loyalty.errors import MemberNotFound, OrderNotFound
from loyalty.models import ApiKey, Member, Program
from loyalty.selectors import member_ledger, member_summary
from loyalty.services.earning_config import campaigns_describe, rules_describe
from loyalty.services.idempotency import idempotent_call, request_fingerprint
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_arguments, order_get, order_input, order_record_grouped
from loyalty.services.pending import order_pending
from loyalty.services.points import points_grant
from loyalty.services.profile_access import profile_link_create
from loyalty.services.program_config import program_configure
from loyalty.services.quote import order_quote
from loyalty.services.refunds import refund_record
from loyalty.services.tiers import badge_card, badge_card_set, program_tiers, tier_history
from loyalty.services.transfers import transfer_create
from loyalty.storage.members import member_get
from rewards.services.thresholds import thresholds_describe

# Who may read a member's data (profile, coupons with their codes, tier, badge): never a
# `checkout` key, which validates, redeems and releases codes it is given and nothing more.
READ_MEMBERS = ("orders", "manage")


@csrf_exempt  # it changes nothing; a POST to a mistyped path must not get a CSRF page
def not_found(request: HttpRequest) -> JsonResponse:
    """Unknown paths under the API get the API's error body, whatever the method."""
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


class _Transient(Exception):  # noqa: N818 - a carrier, not an error
    """An answer that must not be kept for the Idempotency-Key (retrying later may succeed)."""

    def __init__(self, response: Response) -> None:
        self.response = response


# Answers that say "not now" rather than "this request's outcome": a retry with the same
# Idempotency-Key runs again instead of replaying them (as 5xx answers, see idempotency).
TRANSIENT_STATUSES = {status.HTTP_429_TOO_MANY_REQUESTS}


class LoyaltyView(APIView):
    """Base view: the caller's program, and writes that honour Idempotency-Key."""

    # HTTP method -> the scopes of which a key needs one (``HasScope``; the schema states it).
    required_scopes: dict[str, tuple[str, ...]] = {}
    schema = ScopedAutoSchema()

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
            if response.status_code in TRANSIENT_STATUSES:
                raise _Transient(response)  # rolls the key's record back with the write
            return response.status_code, response.data

        fingerprint = request_fingerprint(
            method=request.method or "", path=request.path, body=request.data
        )
        try:
            code, body = idempotent_call(
                merchant=request.auth.merchant,  # type: ignore[union-attr]
                key=key,
                fingerprint=fingerprint,
                call=call,
            )
        except _Transient as transient:
            return transient.response
        return Response(body, status=code)

    @staticmethod
    def valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
        data: dict[str, Any] = s.validated(serializer_class, request.data)
        return data

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        for value in kwargs.values():
            # The database refuses NUL in text, so no stored id has one: answer "not found"
            # here rather than let the look-up fail with a server error.
            if isinstance(value, str) and "\x00" in value:
                raise self.unknown_path_id(value)

    def unknown_path_id(self, value: str) -> Exception:
        """The error for an id in the path that nothing can have."""
        return NotFound()


class MemberPathView(LoyaltyView):
    """A view under /members/{external_id}."""

    def unknown_path_id(self, value: str) -> Exception:
        return MemberNotFound(external_id=value.replace("\x00", ""))


class OrderPathView(LoyaltyView):
    """A view under /orders/{external_id}."""

    def unknown_path_id(self, value: str) -> Exception:
        return OrderNotFound(external_id=value.replace("\x00", ""))


class MemberView(MemberPathView):
    required_scopes = {"GET": READ_MEMBERS, "PUT": ("orders", "manage")}

    def unknown_path_id(self, value: str) -> Exception:
        if self.request.method == "PUT":  # creating one with this id: the id is the problem
            try:
                s.check_path_id(value)
            except ValidationError as exc:
                return exc
        return super().unknown_path_id(value)

    @extend_schema(
        operation_id="member_get",
        responses={200: s.MemberSerializer, **errors(401, 403, 404)},
        description=(
            "The member's profile, balance, tier, when points expire and the progress to the "
            "next reward and tier."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = member_get(program=self.program, external_id=external_id)
        return Response(s.represent(s.MemberSerializer, member_summary(member=member)))

    @extend_schema(
        operation_id="member_put",
        request=s.MemberInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: s.MemberSerializer,
            201: s.MemberSerializer,
            **errors(400, 401, 403, 409),
        },
        description=(
            "Create (201) or update (200) a member. The external id may hold any character "
            "but control characters (and cannot be '.' or '..'): 400 validation_error. "
            "A changed `email` ends the member's profile sessions and unused sign-in links, "
            "is recorded in the audit trail under the API key's name, and the old address "
            "gets a notice that it was changed (without the new one)."
        ),
    )
    def put(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            s.check_path_id(external_id)
            data = self.valid(s.MemberInSerializer, request)
            consent = data.pop("consent", None) or {}
            if not data.get("referred_by"):
                data.pop("referred_by", None)
            member, created = member_upsert(
                program=self.program,
                external_id=external_id,
                consent_email=consent.get("email", False),
                consent_push=consent.get("push", False),
                # The shop's own authority; a changed email is audited under the key's name.
                actor_name=f"API key {request.auth}",
                **data,
            )
            return Response(
                s.represent(s.MemberSerializer, member_summary(member=member)),
                status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            )

        return self.write(request, handler)


CURSOR_PARAMETERS = [
    OpenApiParameter(
        "cursor", str, description="The `next` or `previous` link's cursor; none for the newest."
    ),
    OpenApiParameter("limit", int, description="Items a page: 50 by default, at most 200."),
]


class MemberLedgerView(MemberPathView):
    required_scopes = {"GET": ("orders", "manage")}

    @extend_schema(
        operation_id="member_ledger",
        responses={200: s.LedgerPageSerializer, **errors(400, 401, 403, 404)},
        parameters=CURSOR_PARAMETERS,
        description=(
            "The member's ledger entries, newest first, as a cursor page "
            "`{results, next, previous}`. A reward entry names its coupon's code."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = member_get(program=self.program, external_id=external_id)
        paginator = NewestFirstCursorPagination()
        page: list[Any] | None = paginator.paginate_queryset(
            member_ledger(member=member).select_related("coupon"), request, view=self
        )
        return paginator.get_paginated_response(
            s.represent(s.LedgerEntrySerializer, page, many=True)
        )


class MemberGrantsView(MemberPathView):
    required_scopes = {"POST": ("manage",)}

    @extend_schema(
        operation_id="member_grant",
        request=s.GrantInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.GrantSerializer, **errors(400, 401, 403, 404, 409, 422)},
        description=(
            "Grant (points > 0) or deduct (points < 0) points with a reason. "
            "A deduction never takes the balance below zero: 422 insufficient_points. "
            "In an automatic program a grant that reaches a reward threshold converts the "
            "points into coupons at once (`coupons_issued`)."
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
                counts_for_tier=data["counts_for_tier"],
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
            if data["points"] > 0:
                metrics.POINTS_ISSUED.inc(data["points"])
            body = {
                "entry": result.entry,
                "balance": result.balance,
                "coupons_issued": s.CouponSerializer.present_all(result.coupons_issued),
            }
            return Response(s.represent(s.GrantSerializer, body), status=status.HTTP_201_CREATED)

        return self.write(request, handler)


class MemberTierHistoryView(MemberPathView):
    required_scopes = {"GET": READ_MEMBERS}

    @extend_schema(
        operation_id="member_tier_history",
        responses={200: s.TierChangePageSerializer, **errors(400, 401, 403, 404)},
        parameters=CURSOR_PARAMETERS,
        description=(
            "The member's tier changes, newest first: `kind` up (an order or the daily job "
            "lifted it), down (the daily job found it below), override (staff, until `until`) "
            "or override_end."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = member_get(program=self.program, external_id=external_id)
        paginator = NewestFirstCursorPagination()
        page: list[Any] | None = paginator.paginate_queryset(
            tier_history(member=member), request, view=self
        )
        return paginator.get_paginated_response(
            s.represent(s.TierChangeSerializer, page, many=True)
        )


class MemberBadgeView(MemberPathView):
    required_scopes = {"GET": READ_MEMBERS, "PUT": ("orders", "manage")}

    @staticmethod
    def present(request: Request, member: Member) -> dict[str, Any]:
        card = badge_card(member=member)
        url = None
        if card["token"]:
            url = request.build_absolute_uri(reverse("badge-card", args=[card["token"]]))
        return s.represent(s.BadgeCardSerializer, {**card, "url": url})

    @extend_schema(
        operation_id="member_badge_get",
        responses={200: s.BadgeCardSerializer, **errors(401, 403, 404)},
        description=(
            "The member's public badge card as JSON (tier, orders, member since), and its "
            "unguessable public address while the member has it turned on."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = member_get(program=self.program, external_id=external_id)
        return Response(self.present(request, member))

    @extend_schema(
        operation_id="member_badge_put",
        request=s.BadgeCardInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: s.BadgeCardSerializer, **errors(400, 401, 403, 404, 409)},
        description="Turn the public badge card on or off (the member's choice).",
    )
    def put(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(s.BadgeCardInSerializer, request)
            member = member_get(program=self.program, external_id=external_id)
            badge_card_set(member=member, enabled=data["enabled"])
            return Response(self.present(request, member))

        return self.write(request, handler)


class MemberProfileLinkView(MemberPathView):
    """The answer is a live sign-in secret: it is never kept for an Idempotency-Key (a kept
    answer would sit in the idempotency table and be replayed, maybe after it was spent)."""

    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="member_profile_link",
        request=None,
        parameters=[IDEMPOTENCY_KEY_NOT_KEPT],
        responses={201: s.ProfileLinkSerializer, **errors(401, 403, 404)},
        description=(
            "A short-lived URL (5 minutes by default) that signs the member straight in to "
            "their profile page, for a shop to send its signed-in customer to. It works once; "
            "ask for a new one each time. Every call answers a new link, a retry with the "
            "same Idempotency-Key included: the answer holds a sign-in secret, so it is never "
            "stored for replay (and a replayed link might be used already). A link that was "
            "answered but never used stops working when it expires."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        url, expires_at = profile_link_create(program=self.program, member_external_id=external_id)
        body = {"url": url, "expires_at": expires_at}
        return Response(s.represent(s.ProfileLinkSerializer, body), status=status.HTTP_201_CREATED)


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
            "earns nothing; with another body, 409 order_conflict. In an automatic program "
            "the points that reach a reward threshold become coupons (`coupons_issued`)."
        ),
    )
    def post(self, request: Request) -> Response:
        def handler() -> Response:
            data = self.valid(s.OrderInSerializer, request)
            order = order_input(program=self.program, **order_arguments(data))
            # With the orders of other requests arriving at the same moment (storage.group).
            result = order_record_grouped(program=self.program, order=order)
            metrics.observe_order(created=result.created, points=result.order.points_earned)
            body = s.OrderSerializer.present(
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
        request=s.OrderInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: s.QuoteSerializer, **errors(400, 401, 403, 422)},
        description=(
            "What `POST /orders` with the same body would earn now, and changes nothing: the "
            "points line by line and rule by rule (`points_breakdown`, the same shape as the "
            "order's), the reason for every excluded amount, sign-up or referral bonuses, the "
            "coupons the balance would convert into and the tier it would reach. An "
            "Idempotency-Key is accepted and ignored: a quote is always safe to repeat."
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.OrderInSerializer, request)
        quote = order_quote(program=self.program, **order_arguments(data))
        currency = self.program.currency
        body = {
            "external_id": quote.external_id,
            "member": quote.member,
            "member_exists": quote.member_exists,
            "already_recorded": quote.already_recorded,
            "points_earned": quote.earning.total,
            "points_breakdown": quote.earning.as_dict(),
            "bonuses": [vars(bonus) for bonus in quote.bonuses],
            "balance": quote.balance_before,
            "balance_after": quote.balance_after,
            "coupons_issued": [
                s.ThresholdSerializer.present(coupon, currency=currency) for coupon in quote.coupons
            ],
            "tier": quote.tier,
        }
        return Response(s.represent(s.QuoteSerializer, body))


class MemberTransfersView(MemberPathView):
    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="member_transfer",
        request=s.TransferInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.TransferSerializer, **errors(400, 401, 403, 404, 409, 422)},
        description=(
            "The member gives points to another member of the program (scope `orders`: the "
            "shop acts for its signed-in customer). Both ledgers show it. 422 "
            "`transfers_disabled` when the program does not allow it, `insufficient_points`, "
            "`transfer_limit_exceeded` over the monthly limit; 400 under the minimum. With "
            "an Idempotency-Key it happens once."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(s.TransferInSerializer, request)
            member_get(program=self.program, external_id=external_id)
            result = transfer_create(
                program=self.program,
                sender_external_id=external_id,
                recipient_external_id=data["to"],
                points=data["points"],
                note=data["note"],
                key=request.headers.get("Idempotency-Key"),
            )
            transfer = result.transfer
            body = {
                "id": transfer.pk,
                "member": external_id,
                "to": data["to"],
                "points": transfer.points,
                "note": transfer.note,
                "created_at": transfer.created_at,
                "balance": result.sender_balance,
                "recipient_balance": result.recipient_balance,
            }
            return Response(s.represent(s.TransferSerializer, body), status=status.HTTP_201_CREATED)

        return self.write(request, handler)


class OrderView(OrderPathView):
    required_scopes = {"GET": ("orders",)}

    @extend_schema(
        operation_id="order_get",
        responses={200: s.OrderSerializer, **errors(401, 403, 404)},
        description="The order as recorded; `coupons_issued` lists the coupons it paid for.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        order = order_get(program=self.program, external_id=external_id)
        coupons = list(order.coupons_issued.select_related("member").order_by("pk"))
        body = s.OrderSerializer.present(
            order, balance=order.member.balance, coupons=coupons, pending=order_pending(order=order)
        )
        return Response(body)


class OrderRefundsView(OrderPathView):
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
            return Response(s.represent(s.RefundSerializer, body), status=code)

        return self.write(request, handler)


class ProgramView(LoyaltyView):
    required_scopes = {"GET": ("manage",), "PUT": ("manage",)}

    @staticmethod
    def present(program: Program) -> dict[str, Any]:
        context = {
            "thresholds": thresholds_describe(program=program),
            "earning_rules": rules_describe(program=program),
            "campaigns": campaigns_describe(program=program),
            "tiers": program_tiers(program),
        }
        return s.ProgramSerializer(program, context=context).data

    @extend_schema(
        operation_id="program_get",
        responses={200: s.ProgramSerializer, **errors(401, 403)},
        description="The program's settings, as `PUT /program` takes them.",
    )
    def get(self, request: Request) -> Response:
        return Response(self.present(self.program))

    @extend_schema(
        operation_id="program_put",
        request=s.ProgramInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: s.ProgramSerializer, **errors(400, 401, 403, 409, 422)},
        description=(
            "Change the program's settings; any subset of the fields may be sent. "
            "`thresholds`, when sent, replaces all reward thresholds (coupons already issued "
            "keep their terms); errors in them are named like `thresholds.0.coupon.value`. "
            "`earning_rules` and `campaigns`, when sent, replace all of them likewise "
            "(errors like `campaigns.0.segment`). "
            "`tiers`, when sent, replaces all tiers (a tier sent again under its name keeps "
            "its members; members of a removed tier are placed again by the daily job). "
            "Nothing changes unless everything is valid."
        ),
    )
    def put(self, request: Request) -> Response:
        def handler() -> Response:
            data = self.valid(s.ProgramInSerializer, request)
            key = request.auth
            program = program_configure(
                program=self.program,
                actor_name=f"API key {key.prefix}" if isinstance(key, ApiKey) else "API",
                **data,
            )
            return Response(self.present(program))

        return self.write(request, handler)
