"""API v1 views of members and the program: parse, call one service, present. No business
rule lives here (orders have their own module, `loyalty.api.orders`)."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty import metrics
from loyalty.api import schema_examples as examples
from loyalty.api.base import (
    CURSOR_PARAMETERS,
    READ_MEMBERS,
    LoyaltyView,
    MemberPathView,
)
from loyalty.api.pagination import NewestFirstCursorPagination
from loyalty.api.schema import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_NOT_KEPT,
    NEW_EXTERNAL_ID,
    errors,
)
from loyalty.api.serializers.fields import check_path_id, represent
from loyalty.api.serializers.members import (
    BadgeCardInSerializer,
    BadgeCardSerializer,
    GrantInSerializer,
    GrantSerializer,
    LedgerEntrySerializer,
    LedgerPageSerializer,
    MemberInSerializer,
    MemberSerializer,
    ProfileLinkSerializer,
    TierChangePageSerializer,
    TierChangeSerializer,
    TransferInSerializer,
    TransferSerializer,
)
from loyalty.api.serializers.program import (
    ProgramInSerializer,
    ProgramSerializer,
)
from loyalty.models import ApiKey, Member, Program
from loyalty.selectors import campaigns_describe, member_ledger, member_summary, rules_describe
from loyalty.selectors.tiers import badge_card, tier_history
from loyalty.services.members import member_upsert
from loyalty.services.points import points_grant
from loyalty.services.profile_access import profile_link_create
from loyalty.services.program_config import program_configure
from loyalty.services.tiers import badge_card_set, program_tiers
from loyalty.services.transfers import transfer_create
from loyalty.storage.members import member_get
from rewards.api.serializers import CouponSerializer
from rewards.services.thresholds import thresholds_describe


class MemberView(MemberPathView):
    required_scopes = {"GET": READ_MEMBERS, "PUT": ("orders", "manage")}

    def unknown_path_id(self, value: str) -> Exception:
        if self.request.method == "PUT":  # creating one with this id: the id is the problem
            try:
                check_path_id(value)
            except ValidationError as exc:
                return exc
        return super().unknown_path_id(value)

    @extend_schema(
        operation_id="member_get",
        summary="Read a member",
        responses={200: MemberSerializer, **errors(401, 403, 404, not_found=("member_not_found",))},
        description=(
            "The member's profile, balance, tier, when points expire and the progress to the "
            "next reward and tier."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = member_get(program=self.program, external_id=external_id)
        return Response(represent(MemberSerializer, member_summary(member=member)))

    @extend_schema(
        operation_id="member_put",
        examples=examples.MEMBER_PUT,
        summary="Create or update a member",
        request=MemberInSerializer,
        parameters=[NEW_EXTERNAL_ID, IDEMPOTENCY_KEY],
        responses={
            200: MemberSerializer,
            201: MemberSerializer,
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
            check_path_id(external_id)
            data = self.valid(MemberInSerializer, request)
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
                represent(MemberSerializer, member_summary(member=member)),
                status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            )

        return self.write(request, handler)


class MemberLedgerView(MemberPathView):
    required_scopes = {"GET": ("orders", "manage")}

    @extend_schema(
        operation_id="member_ledger",
        summary="List a member's ledger entries",
        responses={
            200: LedgerPageSerializer,
            **errors(
                400, 401, 403, 404, invalid=("invalid_cursor",), not_found=("member_not_found",)
            ),
        },
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
        return paginator.get_paginated_response(represent(LedgerEntrySerializer, page, many=True))


class MemberGrantsView(MemberPathView):
    required_scopes = {"POST": ("manage",)}

    @extend_schema(
        operation_id="member_grant",
        examples=examples.MEMBER_GRANT,
        summary="Grant or deduct points",
        request=GrantInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: GrantSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                422,
                not_found=("member_not_found",),
                refused=("insufficient_points",),
            ),
        },
        description=(
            "Grant (points > 0) or deduct (points < 0) points with a reason. "
            "A deduction never takes the balance below zero: 422 insufficient_points. "
            "In an automatic program a grant that reaches a reward threshold converts the "
            "points into coupons at once (`coupons_issued`). The second confirmation the "
            "backoffice asks of staff above the program's confirmation amount does not apply "
            "here: the amount sent is applied."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(GrantInSerializer, request)
            result = points_grant(
                program=self.program,
                member_external_id=external_id,
                points=data["points"],
                reason=data["reason"],
                reason_i18n=data.get("reason_i18n"),
                counts_for_tier=data["counts_for_tier"],
                idempotency_key=request.headers.get("Idempotency-Key"),
                # API keys are exempt from the backoffice's second confirmation above the
                # program's grant_confirmation_points: an integrator's amount is computed
                # by its system and sent on purpose, not typed into a form, and the contract
                # (API.md: {points, reason}) has no confirmation to send. Asking for one
                # would refuse, from the day it shipped, every existing integration that
                # grants above the amount; an optional `confirm` would guard nothing.
                confirmed=True,
            )
            if data["points"] > 0:
                metrics.POINTS_ISSUED.inc(data["points"])
            body = {
                "entry": result.entry,
                "balance": result.balance,
                "coupons_issued": CouponSerializer.present_all(result.coupons_issued),
            }
            return Response(represent(GrantSerializer, body), status=status.HTTP_201_CREATED)

        return self.write(request, handler)


class MemberTierHistoryView(MemberPathView):
    required_scopes = {"GET": READ_MEMBERS}

    @extend_schema(
        operation_id="member_tier_history",
        summary="List a member's tier changes",
        responses={
            200: TierChangePageSerializer,
            **errors(
                400, 401, 403, 404, invalid=("invalid_cursor",), not_found=("member_not_found",)
            ),
        },
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
        return paginator.get_paginated_response(represent(TierChangeSerializer, page, many=True))


class MemberBadgeView(MemberPathView):
    required_scopes = {"GET": READ_MEMBERS, "PUT": ("orders", "manage")}

    @staticmethod
    def present(request: Request, member: Member) -> dict[str, Any]:
        card = badge_card(member=member)
        url = None
        if card["token"]:
            url = request.build_absolute_uri(reverse("badge-card", args=[card["token"]]))
        return represent(BadgeCardSerializer, {**card, "url": url})

    @extend_schema(
        operation_id="member_badge_get",
        summary="Read a member's badge card",
        responses={
            200: BadgeCardSerializer,
            **errors(401, 403, 404, not_found=("member_not_found",)),
        },
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
        summary="Turn a member's badge card on or off",
        request=BadgeCardInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: BadgeCardSerializer,
            **errors(400, 401, 403, 404, 409, not_found=("member_not_found",)),
        },
        description="Turn the public badge card on or off (the member's choice).",
    )
    def put(self, request: Request, external_id: str) -> Response:
        def handler() -> Response:
            data = self.valid(BadgeCardInSerializer, request)
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
        summary="Create a one-time profile sign-in link",
        request=None,
        parameters=[IDEMPOTENCY_KEY_NOT_KEPT],
        responses={
            201: ProfileLinkSerializer,
            **errors(401, 403, 404, 429, not_found=("member_not_found",)),
        },
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
        return Response(represent(ProfileLinkSerializer, body), status=status.HTTP_201_CREATED)


class MemberTransfersView(MemberPathView):
    required_scopes = {"POST": ("orders",)}

    @extend_schema(
        operation_id="member_transfer",
        summary="Transfer points to another member",
        request=TransferInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: TransferSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                422,
                429,
                not_found=("member_not_found",),
                refused=("transfers_disabled", "insufficient_points", "transfer_limit_exceeded"),
            ),
        },
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
            data = self.valid(TransferInSerializer, request)
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
            return Response(represent(TransferSerializer, body), status=status.HTTP_201_CREATED)

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
        return ProgramSerializer(program, context=context).data

    @extend_schema(
        operation_id="program_get",
        summary="Read the program's settings",
        responses={200: ProgramSerializer, **errors(401, 403)},
        description="The program's settings, as `PUT /program` takes them.",
    )
    def get(self, request: Request) -> Response:
        return Response(self.present(self.program))

    @extend_schema(
        operation_id="program_put",
        summary="Change the program's settings",
        request=ProgramInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: ProgramSerializer,
            **errors(400, 401, 403, 409, 422, refused=("validity_mode_locked", "currency_locked")),
        },  # fmt: skip
        description=(
            "Change the program's settings; any subset of the fields may be sent. "
            "`thresholds`, when sent, replaces all reward thresholds (coupons already issued "
            "keep their terms); errors in them are named like `thresholds.0.coupon.value`. "
            "`earning_rules` and `campaigns`, when sent, replace all of them likewise "
            "(errors like `campaigns.0.segment`). "
            "`tiers`, when sent, replaces all tiers (a tier sent again under its name keeps "
            "its members; members of a removed tier are placed again by the daily job). "
            "Nothing changes unless everything is valid. Once members hold points, "
            "`reset_validity_on_order` can no longer change (422 `validity_mode_locked`); once "
            "the program has orders, neither can `currency` (422 `currency_locked`)."
        ),
    )
    def put(self, request: Request) -> Response:
        def handler() -> Response:
            data = self.valid(ProgramInSerializer, request)
            key = request.auth
            program = program_configure(
                program=self.program,
                actor_name=f"API key {key.prefix}" if isinstance(key, ApiKey) else "API",
                **data,
            )
            return Response(self.present(program))

        return self.write(request, handler)
