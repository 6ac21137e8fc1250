"""API v1 views of the rewards: coupons at checkout, a member's coupons, claiming a reward.

Parse, call one service, present; the rules live in ``rewards.services``. Every
checkout call looks codes up through a ``LookupGuard``, so guesses of codes that
do not exist are limited per API key and per member (429 ``rate_limited``).
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.api import schema_examples as examples
from loyalty.api.base import CURSOR_PARAMETERS, READ_MEMBERS, LoyaltyView, MemberPathView
from loyalty.api.errors import fields_under
from loyalty.api.pagination import NewestFirstCursorPagination
from loyalty.api.schema import IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_IGNORED, errors
from loyalty.api.schema_errors import error_response
from loyalty.api.serializers.fields import amount_str, represent, validated
from loyalty.services.conversion import reward_claim
from loyalty.storage.members import member_get
from rewards.api.serializers import (
    CheckoutInSerializer,
    CheckoutRefusalSerializer,
    CouponIssueInSerializer,
    CouponListQuerySerializer,
    CouponPageSerializer,
    CouponRedemptionSerializer,
    CouponReleaseSerializer,
    CouponSerializer,
    CouponValidationSerializer,
    RedeemInSerializer,
    ReleaseInSerializer,
    RewardClaimInSerializer,
    RewardClaimSerializer,
)
from rewards.errors import CouponNotFound
from rewards.lines import Line
from rewards.ratelimit import LookupGuard
from rewards.selectors import member_coupons
from rewards.services.checkout import (
    CheckoutResult,
    coupon_redeem,
    coupon_release,
    coupon_validate,
)
from rewards.services.coupons import CouponTerms, coupon_issue_compensation
from rewards.services.thresholds import TERM_FIELDS

CODE = OpenApiParameter(
    "code",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The coupon's code, in any case, with or without separators (ABCDE-FGHJK-MNPQR).",
)
# The refusals of a real coupon at checkout (422), in the order a customer can act on them.
CHECKOUT_REFUSALS = (
    "coupon_expired",
    "coupon_not_yet_valid",
    "coupon_already_redeemed",
    "coupon_void",
    "coupon_wrong_member",
    "coupon_min_order_not_met",
    "currency_mismatch",
    "coupon_lines_required",
    "no_eligible_items",
    "coupon_member_required",
    "coupon_member_limit_reached",
    "coupon_allowance_used_up",
)
CHECKOUT_ERRORS = (
    "Refusals: 404 `coupon_not_found`; 422 `coupon_expired`, `coupon_not_yet_valid`, "
    "`coupon_already_redeemed`, `coupon_void`, `coupon_wrong_member`, "
    "`coupon_min_order_not_met`, `currency_mismatch`, `coupon_lines_required` (a free "
    "product or a scoped coupon without `lines`), `no_eligible_items` (no line qualifies; the "
    "body also has `lines` and the coupon's `scope`), `coupon_member_required` (a coupon "
    "limited per customer, or a promotion with an allowance per period, without `member`), "
    "`coupon_member_limit_reached`, `coupon_allowance_used_up` (a perk's uses of the current "
    "period: a promotion's are counted per customer); each `detail` tells "
    "the customer what to do. Codes that do not exist are limited per API key and per member: 429 "
    "`rate_limited` with a Retry-After header (refusals of real codes do not count)."
)


def basket(data: dict[str, Any]) -> dict[str, Any]:
    """The checkout body's order as the checkout services take it."""
    lines = data.get("lines")
    return {
        "order_amount": data["order_amount"],
        "currency": data["currency"],
        "member_external_id": data.get("member"),
        "lines": None if lines is None else [Line(**line) for line in lines],
        "shipping_amount": data.get("shipping_amount"),
    }


def answer_body(result: CheckoutResult) -> dict[str, Any]:
    """The discount, its shipping part and the lines' answer, with the coupon."""
    currency = result.coupon.currency
    return {
        "discount": amount_str(result.discount, currency),
        "shipping_discount": amount_str(result.shipping_discount, currency),
        "lines": [
            {
                "index": row.index,
                "sku": row.sku,
                "eligible": row.eligible,
                "discount": amount_str(row.discount, currency),
            }
            for row in result.lines
        ],
        "coupon": CouponSerializer.present(result.coupon),
    }


# The coupon does not apply to this order: ``code`` says why; ``no_eligible_items`` also
# carries the lines and the coupon's scope.
CHECKOUT_REFUSAL = {
    422: error_response(422, CHECKOUT_REFUSALS, serializer=CheckoutRefusalSerializer)
}


class CheckoutView(LoyaltyView):
    required_scopes = {"POST": ("checkout",)}

    def unknown_path_id(self, value: str) -> Exception:
        return CouponNotFound()

    def guard(self, member: str | None) -> LookupGuard:
        return LookupGuard.for_checkout(
            api_key_id=self.request.auth.pk,
            program_id=self.program.pk,
            member=member,
        )


class CouponValidateView(CheckoutView):
    @extend_schema(
        operation_id="coupon_validate",
        examples=examples.COUPON_VALIDATE,
        summary="Check a coupon against an order",
        parameters=[CODE, IDEMPOTENCY_KEY_IGNORED],
        request=CheckoutInSerializer,
        responses={
            200: CouponValidationSerializer,
            **errors(400, 401, 403, 404, 429, not_found=("coupon_not_found",)),
            **CHECKOUT_REFUSAL,
        },
        description="Would this coupon apply to this order, and for what discount? Changes "
        "nothing. " + CHECKOUT_ERRORS,
    )
    def post(self, request: Request, code: str) -> Response:
        data = self.valid(CheckoutInSerializer, request)
        result = coupon_validate(
            program=self.program, code=code, guard=self.guard(data.get("member")), **basket(data)
        )
        body = {"valid": True, **answer_body(result)}
        return Response(represent(CouponValidationSerializer, body))


class CouponRedeemView(CheckoutView):
    @extend_schema(
        operation_id="coupon_redeem",
        examples=examples.COUPON_REDEEM,
        summary="Redeem a coupon on an order",
        parameters=[CODE, IDEMPOTENCY_KEY],
        request=RedeemInSerializer,
        responses={
            200: CouponRedemptionSerializer,
            **errors(400, 401, 403, 404, 409, 429, not_found=("coupon_not_found",)),
            **CHECKOUT_REFUSAL,
        },
        description="Use the coupon on an order, with the same checks as validate. Of any "
        "number of concurrent redemptions of a single-use coupon exactly one succeeds; the "
        "others get `coupon_already_redeemed`. The same order redeeming again gets its first "
        "discount. " + CHECKOUT_ERRORS,
    )
    def post(self, request: Request, code: str) -> Response:
        def handler() -> Response:
            data = self.valid(RedeemInSerializer, request)
            result = coupon_redeem(
                program=self.program,
                code=code,
                order_reference=data["order"],
                guard=self.guard(data.get("member")),
                **basket(data),
            )
            body = answer_body(result)
            return Response(represent(CouponRedemptionSerializer, body))

        return self.write(request, handler)


class CouponReleaseView(CheckoutView):
    @extend_schema(
        operation_id="coupon_release",
        examples=examples.COUPON_RELEASE,
        summary="Release a cancelled order's coupon",
        parameters=[CODE, IDEMPOTENCY_KEY],
        request=ReleaseInSerializer,
        responses={
            200: CouponReleaseSerializer,
            **errors(
                400, 401, 403, 404, 409, 429, not_found=("coupon_not_found", "redemption_not_found")
            ),
        },
        description="Undo the redemption of a cancelled order: the coupon is active again, "
        "unless it expired meanwhile. Releasing again changes nothing more. 404 "
        "`redemption_not_found` when the coupon was not used on that order.",
    )
    def post(self, request: Request, code: str) -> Response:
        def handler() -> Response:
            data = self.valid(ReleaseInSerializer, request)
            coupon = coupon_release(
                program=self.program,
                code=code,
                order_reference=data["order"],
                guard=self.guard(None),
            )
            body = {"coupon": CouponSerializer.present(coupon)}
            return Response(represent(CouponReleaseSerializer, body))

        return self.write(request, handler)


class MemberCouponsView(MemberPathView):
    required_scopes = {"GET": READ_MEMBERS, "POST": ("manage",)}

    @extend_schema(
        operation_id="member_coupons",
        summary="List a member's coupons",
        parameters=[CouponListQuerySerializer, *CURSOR_PARAMETERS],
        responses={
            200: CouponPageSerializer,
            **errors(
                400, 401, 403, 404, invalid=("invalid_cursor",), not_found=("member_not_found",)
            ),
        },
        description="The member's coupons, newest first, as a cursor page "
        "`{results, next, previous}`; `status` filters them.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        query = validated(CouponListQuerySerializer, request.query_params)
        member = member_get(program=self.program, external_id=external_id)
        paginator = NewestFirstCursorPagination()
        page: list[Any] | None = paginator.paginate_queryset(
            member_coupons(member=member, status=query.get("status")),
            request,
            view=self,
        )
        return paginator.get_paginated_response(CouponSerializer.present_all(page or []))

    @extend_schema(
        operation_id="member_coupon_issue",
        summary="Give a member a coupon",
        parameters=[IDEMPOTENCY_KEY],
        request=CouponIssueInSerializer,
        responses={
            201: CouponSerializer,
            **errors(400, 401, 403, 404, 409, not_found=("member_not_found",)),
        },
        description="Give the member a compensation or promotion coupon, with a reason that is "
        "recorded. Errors in the terms are named like `coupon.value`. Send an Idempotency-Key "
        "to make retries safe: without one, each call issues another coupon.",
    )
    def post(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(CouponIssueInSerializer, request)
            terms = {name: value for name, value in data["coupon"].items() if value is not None}
            with fields_under("coupon", TERM_FIELDS):
                coupon = coupon_issue_compensation(
                    program=self.program,
                    member_external_id=external_id,
                    terms=CouponTerms(**terms),
                    reason=data["reason"],
                    reason_i18n=data.get("reason_i18n"),
                    source=data["source"],
                )
            body = CouponSerializer.present(coupon)
            return Response(represent(CouponSerializer, body), status=status.HTTP_201_CREATED)

        return self.write(request, handler)


class MemberRewardsView(MemberPathView):
    required_scopes = {"POST": ("orders", "manage")}

    @extend_schema(
        operation_id="member_reward_claim",
        summary="Claim a reward with points",
        parameters=[IDEMPOTENCY_KEY],
        request=RewardClaimInSerializer,
        responses={
            201: RewardClaimSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                422,
                not_found=("member_not_found", "reward_not_found"),
                refused=("rewards_automatic", "insufficient_points"),
            ),
        },
        description="In a customer's-choice program, convert the member's points into the "
        "reward at `threshold` points: 201 with the coupon and the new balance. 422 "
        "`rewards_automatic` in an automatic program, 404 `reward_not_found` for a threshold "
        "the program does not have, 422 `insufficient_points`.",
    )
    def post(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(RewardClaimInSerializer, request)
            coupon = reward_claim(
                program=self.program, member_external_id=external_id, points=data["threshold"]
            )
            assert coupon.member is not None  # a reward always belongs to the claiming member
            body = {
                "coupon": CouponSerializer.present(coupon),
                "balance": coupon.member.balance,
            }
            return Response(represent(RewardClaimSerializer, body), status=status.HTTP_201_CREATED)

        return self.write(request, handler)
