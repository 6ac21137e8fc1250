"""Input and output shapes of the API (the schema integrators read is generated from these).

Inputs are validated here for type and form; business rules (currency, amounts
that fit the currency, refundable amount, balances, coupon terms) are the services'.
Amounts go out as decimal strings in the currency's minor unit ("12.50"); a
percentage as a plain decimal string ("10", "12.5").

Every external id an integrator sends in a body can be addressed in a URL later:
no '/', no control characters, not "." or "..".
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty import money
from loyalty.api.errors import dotted
from loyalty.ids import external_id_problem
from loyalty.models import LedgerEntry, Order, Program, Refund
from rewards.models import Coupon, CouponKind
from rewards.selectors import coupon_status
from rewards.terms import terms_text

LOCALES = [code for code, _name in settings.LANGUAGES]


def addressable(value: str) -> None:
    """The external id rule of ``loyalty.ids`` as a serializer validator."""
    problem = external_id_problem(value)
    if problem:
        raise serializers.ValidationError(problem, code="invalid")


def check_path_id(value: str, name: str = "external_id") -> None:
    """The same rule for an id that comes in the path and creates something."""
    try:
        addressable(value)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from exc


def external_id_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=191, trim_whitespace=False, validators=[addressable], **kwargs
    )


def currency_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3, **kwargs)


def amount_field(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=3, **kwargs)


def amount_str(value: Decimal, currency: str) -> str:
    return str(money.round_money(value, currency))


def percent_str(value: Decimal) -> str:
    """10.000 -> "10", 12.500 -> "12.5" (never exponent notation)."""
    return format(value.normalize(), "f")


def terms_out(
    *, kind: str, value: Decimal, max_discount: Decimal | None, min_order_amount: Decimal,
    currency: str,
) -> dict[str, Any]:  # fmt: skip
    """A coupon's or template's money terms as the API shows them."""
    return {
        "kind": kind,
        "value": percent_str(value) if kind == CouponKind.PERCENT else amount_str(value, currency),
        "max_discount": None if max_discount is None else amount_str(max_discount, currency),
        "min_order_amount": amount_str(min_order_amount, currency),
    }


class NamedChoiceField(serializers.ChoiceField):
    """A choice field documented as the named enum component ``enum_name``."""

    def __init__(self, *, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


def coupon_kind_field(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(enum_name="CouponKindEnum", choices=CouponKind.choices, **kwargs)


class DottedErrorsSerializer(serializers.Serializer):
    """Errors inside the ``dotted_fields`` come out under flat keys ("coupon.value",
    "thresholds.0.coupon.value"), the way the services name the same fields."""

    dotted_fields: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            detail: dict[str, Any] = dict(exc.detail)
            for name in self.dotted_fields:
                if name in detail:
                    detail.update(dotted(name, detail.pop(name)))
            raise serializers.ValidationError(detail) from exc


# --- coupons -------------------------------------------------------------------------------


class CouponSerializer(serializers.Serializer):
    """A coupon: its code, what it takes off which orders, when, its status and its owner."""

    code = serializers.CharField(
        help_text="Shown grouped (ABCDE-FGHJK-MNPQR); accepted in any case, with or without "
        "separators."
    )
    kind = coupon_kind_field()
    value = serializers.CharField(
        help_text='Percent off for `percent` ("10"); an amount in `currency` for `fixed` ("5.00").'
    )
    max_discount = serializers.CharField(
        allow_null=True, help_text="Cap on a percent discount; null for none."
    )
    min_order_amount = serializers.CharField()
    currency = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    status = serializers.ChoiceField(
        choices=Coupon.Status.choices,
        help_text="As of now: an active coupon past `valid_until` shows as expired.",
    )
    member = serializers.CharField(
        allow_null=True, help_text="The external id of the member it belongs to; null for anyone."
    )
    uses_allowed = serializers.IntegerField()
    uses_count = serializers.IntegerField()
    source = serializers.ChoiceField(choices=Coupon.Source.choices)  # type: ignore[assignment]
    terms = serializers.CharField(help_text="The terms in words, in the request's language.")

    @staticmethod
    def present(coupon: Coupon) -> dict[str, Any]:
        """The coupon's representation; ``coupon.member`` should be loaded with it."""
        currency = coupon.currency
        return {
            "code": coupon.display_code,
            **terms_out(
                kind=coupon.kind,
                value=coupon.value,
                max_discount=coupon.max_discount,
                min_order_amount=coupon.min_order_amount,
                currency=currency,
            ),
            "currency": currency,
            "valid_from": coupon.valid_from,
            "valid_until": coupon.valid_until,
            "status": coupon_status(coupon),
            "member": coupon.member.external_id if coupon.member is not None else None,
            "uses_allowed": coupon.uses_allowed,
            "uses_count": coupon.uses_count,
            "source": coupon.source,
            "terms": terms_text(coupon, currency=currency),
        }

    @staticmethod
    def present_all(coupons: list[Coupon]) -> list[dict[str, Any]]:
        return [CouponSerializer.present(coupon) for coupon in coupons]


class CouponPageSerializer(serializers.Serializer):
    results = CouponSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class CouponListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Coupon.Status.choices,
        required=False,
        help_text="Only coupons with this status (as of now); all when left out.",
    )


class CheckoutInSerializer(serializers.Serializer):
    member = external_id_field(
        required=False,
        allow_null=True,
        help_text="The customer's external id, if signed in: a member's coupon works only "
        "for that member.",
    )
    order_amount = amount_field(help_text="The order total the coupon would apply to.")
    currency = currency_field()


class RedeemInSerializer(CheckoutInSerializer):
    order = serializers.CharField(
        max_length=191,
        trim_whitespace=False,
        help_text="Your order reference; the same order redeeming again gets the first answer, "
        "and release takes it.",
    )


class ReleaseInSerializer(serializers.Serializer):
    order = serializers.CharField(max_length=191, trim_whitespace=False)


class CouponValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    discount = serializers.CharField(help_text="What the coupon takes off this order.")
    coupon = CouponSerializer()


class CouponRedemptionSerializer(serializers.Serializer):
    discount = serializers.CharField(help_text="What the coupon takes off this order.")
    coupon = CouponSerializer()


class CouponReleaseSerializer(serializers.Serializer):
    coupon = CouponSerializer()


class CouponTermsInSerializer(serializers.Serializer):
    """The terms of a coupon: what it takes off, on which orders, for how long, how often."""

    # Type and form only; the services check ranges and the currency's decimals.

    kind = coupon_kind_field()
    value = amount_field(help_text='Percent off (e.g. "10") or an amount in the currency.')
    max_discount = amount_field(
        required=False, allow_null=True, help_text="Cap on a percent discount; null for none."
    )
    min_order_amount = amount_field(required=False)
    valid_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    uses = serializers.IntegerField(
        required=False, min_value=1, max_value=1000, help_text="How many orders may use it (1)."
    )


class CouponIssueInSerializer(DottedErrorsSerializer):
    """A coupon for one member, with the reason it is given (recorded with the coupon)."""

    dotted_fields = ("coupon",)

    reason = serializers.CharField(max_length=1000, help_text="Why; recorded with the coupon.")
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[
            (Coupon.Source.COMPENSATION.value, Coupon.Source.COMPENSATION.label),
            (Coupon.Source.PROMOTION.value, Coupon.Source.PROMOTION.label),
        ],
        default=Coupon.Source.COMPENSATION.value,
    )
    coupon = CouponTermsInSerializer()


class RewardClaimInSerializer(serializers.Serializer):
    threshold = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, help_text="The points of the reward to claim."
    )


class RewardClaimSerializer(serializers.Serializer):
    coupon = CouponSerializer()
    balance = serializers.IntegerField(help_text="The member's balance after the claim.")


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
    balance = serializers.IntegerField(help_text="Available points (pending ones not included).")
    pending_points = serializers.IntegerField(
        help_text="Points still in the program's return window: they count once it ends."
    )
    pending_until = serializers.DateTimeField(
        allow_null=True, help_text="When the next pending points become available."
    )
    tier = serializers.CharField(allow_null=True)
    points_expire_at = serializers.DateTimeField(
        allow_null=True, help_text="The next date on which any points expire."
    )
    points_expiring = serializers.IntegerField(help_text="How many points expire then.")
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
        """The display code of the coupon the entry is about (a reward, a voided coupon)."""
        return entry.coupon.display_code if entry.coupon is not None else None


class LedgerPageSerializer(serializers.Serializer):
    results = LedgerEntrySerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class GrantInSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=-100_000_000, max_value=100_000_000)
    reason = serializers.CharField(max_length=500)


class GrantSerializer(serializers.Serializer):
    entry = LedgerEntrySerializer()
    balance = serializers.IntegerField()
    coupons_issued = CouponSerializer(
        many=True, help_text="Coupons the new balance converted into (automatic programs)."
    )


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
    currency = currency_field()
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
    pending_points = serializers.IntegerField(
        help_text="Of the points earned, those still in the program's return window."
    )
    pending_until = serializers.DateTimeField(
        allow_null=True, help_text="When the pending points become available."
    )
    coupons_issued = CouponSerializer(
        many=True, help_text="Coupons the order's points converted into (automatic programs)."
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
            "placed_at": order.placed_at,
            "balance": balance,
            "pending_points": pending[0],
            "pending_until": pending[1],
            "coupons_issued": CouponSerializer.present_all(coupons),
        }


class RefundInSerializer(serializers.Serializer):
    external_id = external_id_field()
    amount = amount_field()
    currency = currency_field(required=False)


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


class ThresholdCouponSerializer(serializers.Serializer):
    kind = coupon_kind_field()
    value = serializers.CharField()
    max_discount = serializers.CharField(allow_null=True)
    min_order_amount = serializers.CharField()
    valid_days = serializers.IntegerField()
    uses = serializers.IntegerField()


class ThresholdSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    coupon = ThresholdCouponSerializer()

    @staticmethod
    def present(threshold: dict[str, Any], *, currency: str) -> dict[str, Any]:
        """One item of ``thresholds_describe`` with its amounts as decimal strings."""
        terms = threshold["coupon"]
        return {
            "points": threshold["points"],
            "coupon": {
                **terms_out(
                    kind=terms["kind"],
                    value=terms["value"],
                    max_discount=terms["max_discount"],
                    min_order_amount=terms["min_order_amount"],
                    currency=currency,
                ),
                "valid_days": terms["valid_days"],
                "uses": terms["uses"],
            },
        }


class ProgramSerializer(serializers.ModelSerializer):
    """The program's settings, reward thresholds included (the same settings the admin edits)."""

    # context["thresholds"]: thresholds_describe's list, presented by get_thresholds.

    thresholds = serializers.SerializerMethodField()

    class Meta:
        model = Program
        fields = [
            "name", "currency", "earn_rate", "points_validity_days", "reset_validity_on_order",
            "reminder_offsets_days", "pending_days", "conversion_mode", "refund_after_conversion",
            "earn_on_discount", "earn_on_shipping", "earn_on_tax", "earn_on_gift_card",
            "thresholds",
        ]  # fmt: skip

    @extend_schema_field(ThresholdSerializer(many=True))
    def get_thresholds(self, program: Program) -> list[dict[str, Any]]:
        return [
            ThresholdSerializer.present(threshold, currency=program.currency)
            for threshold in self.context.get("thresholds", [])
        ]


class ThresholdInSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    coupon = CouponTermsInSerializer()


class ProgramInSerializer(DottedErrorsSerializer):
    """A change of the program's settings: any subset of the fields.

    ``thresholds``, when sent, replaces all the program's thresholds.
    """

    dotted_fields = ("thresholds",)

    name = serializers.CharField(max_length=200, required=False)
    currency = currency_field(required=False)
    earn_rate = serializers.DecimalField(
        max_digits=10, decimal_places=4, min_value=Decimal(0), max_value=Decimal(100000),
        required=False,
    )  # fmt: skip
    points_validity_days = serializers.IntegerField(
        min_value=1, max_value=36500, allow_null=True, required=False
    )
    reset_validity_on_order = serializers.BooleanField(required=False)
    reminder_offsets_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=3650), max_length=12, required=False
    )
    pending_days = serializers.IntegerField(
        min_value=0,
        max_value=365,
        required=False,
        help_text="Return window: days an order's points stay pending. 0: they count at once.",
    )
    conversion_mode = serializers.ChoiceField(
        choices=Program.ConversionMode.choices, required=False
    )
    refund_after_conversion = serializers.ChoiceField(
        choices=Program.RefundAfterConversion.choices, required=False
    )
    earn_on_discount = serializers.BooleanField(required=False)
    earn_on_shipping = serializers.BooleanField(required=False)
    earn_on_tax = serializers.BooleanField(required=False)
    earn_on_gift_card = serializers.BooleanField(required=False)
    thresholds = serializers.ListField(
        child=ThresholdInSerializer(),
        max_length=50,
        required=False,
        help_text="Replaces all thresholds; coupons already issued keep their terms.",
    )


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]
