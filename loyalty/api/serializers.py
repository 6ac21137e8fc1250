"""Input and output shapes of the API (the schema integrators read is generated from these).

Inputs are validated here for type and form; business rules (currency, amounts
that fit the currency, refundable amount, balances) are the services'.
Amounts go out as decimal strings in the currency's minor unit ("12.50").
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import serializers

from loyalty import money
from loyalty.models import LedgerEntry, Order, Program, Refund

LOCALES = [code for code, _name in settings.LANGUAGES]


def external_id_field() -> serializers.CharField:
    return serializers.CharField(max_length=191, trim_whitespace=False)


def amount_field(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=3, **kwargs)


def amount_str(value: Decimal, currency: str) -> str:
    return str(money.round_money(value, currency))


class ConsentSerializer(serializers.Serializer):
    email = serializers.BooleanField(default=False)
    push = serializers.BooleanField(default=False)


class MemberInSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    locale = serializers.ChoiceField(choices=LOCALES, default="en")
    consent = ConsentSerializer(required=False)


class NextRewardSerializer(serializers.Serializer):
    threshold = serializers.IntegerField()
    points_missing = serializers.IntegerField()


class NextTierSerializer(serializers.Serializer):
    name = serializers.CharField()
    points_missing = serializers.IntegerField()


class MemberSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    email = serializers.CharField()
    name = serializers.CharField()
    locale = serializers.CharField()
    consent = ConsentSerializer()
    balance = serializers.IntegerField()
    tier = serializers.CharField(allow_null=True)
    points_expire_at = serializers.DateTimeField(allow_null=True)
    next_reward = NextRewardSerializer(allow_null=True)
    next_tier = NextTierSerializer(allow_null=True)
    created_at = serializers.DateTimeField()


class LedgerEntrySerializer(serializers.ModelSerializer):
    order = serializers.SerializerMethodField()
    coupon = serializers.SerializerMethodField()
    refund = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = [
            "id", "kind", "points", "balance_after", "reason", "order", "refund", "coupon",
            "created_at",
        ]  # fmt: skip

    def get_order(self, entry: LedgerEntry) -> str | None:
        return entry.order.external_id if entry.order else None

    def get_refund(self, entry: LedgerEntry) -> str | None:
        return entry.refund.external_id if entry.refund else None

    def get_coupon(self, entry: LedgerEntry) -> str | None:
        return None


class GrantInSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=-100_000_000, max_value=100_000_000)
    reason = serializers.CharField(max_length=500)


class GrantSerializer(serializers.Serializer):
    entry = LedgerEntrySerializer()
    balance = serializers.IntegerField()


class BreakdownSerializer(serializers.Serializer):
    discount = amount_field(default=Decimal(0))
    shipping = amount_field(default=Decimal(0))
    tax = amount_field(default=Decimal(0))
    paid_with_gift_card = amount_field(default=Decimal(0))


class BreakdownOutSerializer(serializers.Serializer):
    discount = serializers.CharField()
    shipping = serializers.CharField()
    tax = serializers.CharField()
    paid_with_gift_card = serializers.CharField()


class OrderInSerializer(serializers.Serializer):
    external_id = external_id_field()
    member = external_id_field()
    amount = amount_field()
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3)
    placed_at = serializers.DateTimeField(required=False)
    breakdown = BreakdownSerializer(required=False)


class OrderSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    member = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    breakdown = BreakdownOutSerializer()
    points_base = serializers.CharField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    points_earned = serializers.IntegerField()
    refunded_amount = serializers.CharField()
    points_reversed = serializers.IntegerField()
    placed_at = serializers.DateTimeField()
    balance = serializers.IntegerField()
    coupons_issued = serializers.ListField(child=serializers.DictField())

    @staticmethod
    def present(order: Order, *, balance: int, coupons: list[Any]) -> dict[str, Any]:
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
            "placed_at": order.placed_at,
            "balance": balance,
            "coupons_issued": coupons,
        }


class RefundInSerializer(serializers.Serializer):
    external_id = external_id_field()
    amount = amount_field()
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3, required=False)


class RefundDetailSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    order = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    points_reversed = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class RefundSerializer(serializers.Serializer):
    refund = RefundDetailSerializer()
    points_reversed = serializers.IntegerField()
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
            "balance": balance,
        }


class ProgramSerializer(serializers.ModelSerializer):
    """The program's settings; PUT accepts any subset of them."""

    currency = serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3)
    earn_rate = serializers.DecimalField(
        max_digits=10, decimal_places=4, min_value=Decimal(0), max_value=Decimal(100000)
    )
    points_validity_days = serializers.IntegerField(
        min_value=1, max_value=36500, allow_null=True, required=False
    )
    reminder_offsets_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=3650), max_length=12
    )

    class Meta:
        model = Program
        fields = [
            "name", "currency", "earn_rate", "points_validity_days", "reset_validity_on_order",
            "reminder_offsets_days", "earn_on_discount", "earn_on_shipping", "earn_on_tax",
            "earn_on_gift_card",
        ]  # fmt: skip


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]
