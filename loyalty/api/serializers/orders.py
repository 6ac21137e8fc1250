"""Orders in the API: an order in, the order with how its points were computed out; refunds; the
quote (what an order would earn, nothing written).
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from loyalty.api.serializers.fields import (
    BoundedListField,
    DottedErrorsSerializer,
    MoneyOutField,
    TextField,
    amount_field,
    amount_str,
    currency_field,
    datetime_out,
    external_id_field,
    represent,
)
from loyalty.api.serializers.program import ThresholdSerializer
from loyalty.models import Order, Refund
from rewards.api.serializers import CouponSerializer
from rewards.models import Coupon


class BreakdownSerializer(serializers.Serializer):
    discount = amount_field(default=Decimal(0))
    shipping = amount_field(default=Decimal(0))
    tax = amount_field(default=Decimal(0))
    paid_with_gift_card = amount_field(default=Decimal(0))


class BreakdownOutSerializer(serializers.Serializer):
    discount = MoneyOutField()
    shipping = MoneyOutField()
    tax = MoneyOutField()
    paid_with_gift_card = MoneyOutField()


class OrderLineSerializer(serializers.Serializer):
    sku = TextField(max_length=100)
    category = TextField(max_length=100, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    amount = amount_field(help_text="The line's total, in the order's currency.")


class OrderInSerializer(DottedErrorsSerializer):
    dotted_fields = ("lines",)

    external_id = external_id_field(order=True)
    member = external_id_field()
    amount = amount_field(above_zero=True)
    currency = currency_field()
    placed_at = serializers.DateTimeField(
        required=False,
        help_text="When the order was paid, with an offset; now when left out. Not in the "
        "future (5 minutes of clock skew allowed): 400 validation_error.",
    )
    breakdown = BreakdownSerializer(
        required=False,
        help_text="Parts of `amount` that may earn differently: `shipping`, `tax` and "
        "`paid_with_gift_card` together must not exceed `amount` (400 validation_error).",
    )
    lines = BoundedListField(
        child=OrderLineSerializer(),
        required=False,
        max_length=200,
        help_text="The order's lines, for product and category bonuses and exclusions.",
    )


class ExcludedSerializer(serializers.Serializer):
    amount = MoneyOutField()
    reason = TextField()


class LineEarningSerializer(serializers.Serializer):
    sku = TextField()
    category = TextField()
    quantity = serializers.IntegerField()
    amount = MoneyOutField()
    earns = serializers.BooleanField()
    excluded_reason = TextField(allow_null=True)
    bonus_points = serializers.IntegerField()
    bonus_reasons = serializers.ListField(child=TextField())


class MultiplierStepSerializer(serializers.Serializer):
    source = TextField()  # type: ignore[assignment]
    factor = TextField()
    points_after = serializers.IntegerField()


class RuleEarningSerializer(serializers.Serializer):
    rule = TextField()
    kind = TextField()
    points = serializers.IntegerField()
    reason = TextField()


class CampaignEarningSerializer(serializers.Serializer):
    campaign = TextField()
    name_i18n = serializers.DictField(
        child=TextField(),
        required=False,
        help_text="The campaign's name per language (those the merchant gave); `campaign` "
        "for the others.",
    )
    multiplier = TextField(allow_null=True)
    points = serializers.IntegerField()
    reason = TextField()


class CapAppliedSerializer(serializers.Serializer):
    rule = TextField()
    period = serializers.ChoiceField(choices=["day", "month"])
    limit = serializers.IntegerField()
    earned_before = serializers.IntegerField()
    cut = serializers.IntegerField()


def earning_out(earning: dict[str, Any]) -> dict[str, Any]:
    """A points breakdown (stored on the order, or a quote's) with its amounts in the
    currency's minor unit: stored, they carry the digits of the arithmetic ("129.900")."""
    currency = str(earning.get("currency") or "")

    def out(item: dict[str, Any], *names: str) -> dict[str, Any]:
        found = [name for name in names if isinstance(item.get(name), str | int)]
        return {**item, **{name: amount_str(Decimal(str(item[name])), currency) for name in found}}

    shown = out(earning, "amount", "points_base")
    for name in ("excluded", "lines"):
        if isinstance(earning.get(name), list):
            shown[name] = [out(item, "amount") for item in earning[name]]
    return shown


class EarnBreakdownSerializer(serializers.Serializer):
    """How the points were computed, step by step (see `stacking_rule`)."""

    amount = MoneyOutField()
    currency = TextField()
    points_base = MoneyOutField(help_text="The amount that earns, after exclusions.")
    earn_rate = TextField()
    base_points = serializers.IntegerField()
    excluded = ExcludedSerializer(many=True, help_text="Every amount left out, with why.")
    lines = LineEarningSerializer(many=True)
    multipliers = MultiplierStepSerializer(many=True)
    rules = RuleEarningSerializer(many=True, help_text="Product and category bonuses.")
    campaigns = CampaignEarningSerializer(many=True)
    cap = CapAppliedSerializer(allow_null=True)
    total = serializers.IntegerField()
    reason = TextField(help_text="The ledger entry's reason.")
    tier = TextField(allow_null=True)
    stacking_rule = TextField()


class OrderSerializer(serializers.Serializer):
    external_id = TextField()
    member = TextField()
    amount = MoneyOutField()
    currency = TextField()
    breakdown = BreakdownOutSerializer()
    points_base = MoneyOutField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    points_earned = serializers.IntegerField()
    refunded_amount = MoneyOutField()
    points_reversed = serializers.IntegerField()
    placed_at = serializers.DateTimeField()
    balance = serializers.IntegerField()
    pending_points = serializers.IntegerField(
        help_text="Of the points earned, those still in the program's return window."
    )
    pending_until = serializers.DateTimeField(
        allow_null=True, help_text="When the pending points become available."
    )
    coupons_issued = CouponSerializer(
        many=True, help_text="Coupons the order's points converted into (automatic programs)."
    )
    points_breakdown = EarnBreakdownSerializer(
        allow_null=True,
        help_text="How `points_earned` was computed (null for orders recorded before it).",
    )

    @staticmethod
    def present(
        order: Order,
        *,
        balance: int,
        coupons: list[Coupon],
        pending: tuple[int, datetime | None] = (0, None),
    ) -> dict[str, Any]:
        cur = order.currency
        return {
            "external_id": order.external_id,
            "member": order.member.external_id,
            "amount": amount_str(order.amount, cur),
            "currency": cur,
            "breakdown": {
                part: amount_str(getattr(order, part), cur)
                for part in ("discount", "shipping", "tax", "paid_with_gift_card")
            },
            "points_base": amount_str(order.points_base, cur),
            "status": order.status,
            "points_earned": order.points_earned,
            "refunded_amount": amount_str(order.refunded_amount, cur),
            "points_reversed": order.points_reversed,
            "placed_at": datetime_out(order.placed_at),
            "balance": balance,
            "pending_points": pending[0],
            "pending_until": datetime_out(pending[1]),
            "coupons_issued": CouponSerializer.present_all(coupons),
            "points_breakdown": represent(EarnBreakdownSerializer, earning_out(order.earning))
            if order.earning
            else None,
        }


class RefundInSerializer(serializers.Serializer):
    external_id = external_id_field()
    amount = amount_field(above_zero=True)
    currency = currency_field(required=False)


class RefundDetailSerializer(serializers.Serializer):
    external_id = TextField()
    order = TextField()
    amount = MoneyOutField()
    currency = TextField()
    points_reversed = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class RefundSerializer(serializers.Serializer):
    refund = RefundDetailSerializer()
    points_reversed = serializers.IntegerField()
    pending_cancelled = serializers.IntegerField(
        help_text="Of the points taken back, those still pending (the balance kept them out)."
    )
    balance = serializers.IntegerField()

    @staticmethod
    def present(refund: Refund, *, order: Order, balance: int) -> dict[str, Any]:
        return {
            "refund": {
                "external_id": refund.external_id,
                "order": order.external_id,
                "amount": amount_str(refund.amount, order.currency),
                "currency": order.currency,
                "points_reversed": refund.points_reversed,
                "created_at": refund.created_at,
            },
            "points_reversed": refund.points_reversed,
            "pending_cancelled": refund.pending_cancelled,
            "balance": balance,
        }


class QuoteBonusSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["signup", "referral"])
    points = serializers.IntegerField()
    reason = TextField()


class QuoteSerializer(serializers.Serializer):
    external_id = TextField()
    member = TextField()
    member_exists = serializers.BooleanField(help_text="False: the order would create it.")
    already_recorded = serializers.BooleanField(
        help_text="True: this external id was recorded; sending it again earns nothing."
    )
    points_earned = serializers.IntegerField()
    points_breakdown = EarnBreakdownSerializer()
    bonuses = QuoteBonusSerializer(
        many=True, help_text="Sign-up or referral bonuses the order would give the member."
    )
    balance = serializers.IntegerField(help_text="The balance now.")
    balance_after = serializers.IntegerField(help_text="Before any coupon conversion.")
    coupons_issued = ThresholdSerializer(
        many=True, help_text="The coupons the new balance would convert into (automatic programs)."
    )
    tier = TextField(allow_null=True, help_text="The tier it would reach.")
