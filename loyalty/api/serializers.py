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
from functools import cache
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty import money
from loyalty.api.errors import dotted
from loyalty.ids import external_id_problem
from loyalty.models import EarningRule, LedgerEntry, Order, Program, Refund, TierChange
from loyalty.services.earning import STACKING_RULE
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


def datetime_out(value: datetime | None) -> str | None:
    """A date and time as DRF's DateTimeField shows it (ISO 8601 in the current time zone,
    UTC as "Z"), for ``present`` methods whose result is the representation already.
    Its own ``to_representation`` costs ten times more."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


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


# A serializer deep-copies its declared fields each time it is made, and each nested one
# again when first used: on the hot paths (an order, a checkout) that copying costs far more
# than the validation or the representation themselves. The fields keep no state between
# calls (messages stay lazy, so they follow each request's language), so one bound instance
# per class serves every request. No context: serializers that read one are made as usual.


@cache
def _bound(serializer_class: type[serializers.Serializer], many: bool = False) -> Any:
    return serializer_class(many=many)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """``serializer_class(data=data)``'s validated data after ``is_valid(raise_exception=True)``.

    Invalid input is checked again by a new instance, so the error is exactly DRF's.
    """
    try:
        return _bound(serializer_class).run_validation(data)
    except serializers.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def represent(
    serializer_class: type[serializers.Serializer], value: Any, many: bool = False
) -> Any:
    """``serializer_class(value, many=many).data``."""
    if value is None:  # DRF answers the initial (empty) representation
        return serializer_class(value, many=many).data
    return _bound(serializer_class, many).to_representation(value)


class NamedChoiceField(serializers.ChoiceField):
    """A choice field documented as the named enum component ``enum_name``."""

    def __init__(self, *, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


def coupon_kind_field(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(enum_name="CouponKindEnum", choices=CouponKind.choices, **kwargs)


class BoundedListField(serializers.ListField):
    """DRF's ListField with its ``max_length`` checked before any item is validated.

    DRF validates every item first and counts them after: an order with 50,000 lines
    took seconds to refuse. Here the refusal costs one ``len``, with DRF's own error.
    """

    def to_internal_value(self, data: Any) -> Any:
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


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
            "valid_from": datetime_out(coupon.valid_from),
            "valid_until": datetime_out(coupon.valid_until),
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
    birth_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="For the birthday bonus. Unchanged when left out; null clears it.",
    )
    referred_by = serializers.CharField(
        required=False,
        max_length=191,
        trim_whitespace=False,
        help_text="The external id of the member who referred this one; set once, before the "
        "first order; never the member themself nor a loop (400 validation_error).",
    )
    rating = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), allow_null=True, required=False,
        help_text="The member's rating (a tier may require a minimum). Left as it is when not "
        "sent; null clears it.",
    )  # fmt: skip


class NextRewardSerializer(serializers.Serializer):
    threshold = serializers.IntegerField()
    points_missing = serializers.IntegerField()


class NextTierSerializer(serializers.Serializer):
    name = serializers.CharField()
    points_missing = serializers.IntegerField(
        help_text="Points to earn within the tier's window to reach it."
    )
    min_points = serializers.IntegerField()
    window_points = serializers.IntegerField(help_text="Points earned in its window so far.")
    min_rating = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)


class TierKeepSerializer(serializers.Serializer):
    points_needed = serializers.IntegerField()
    by = serializers.DateField()


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
    tier = serializers.CharField(source="tier.name", allow_null=True, help_text="The tier's name.")
    tier_badge = serializers.CharField(source="tier.badge", allow_null=True)
    tier_since = serializers.DateTimeField(source="tier.since", allow_null=True)
    tier_safe_until = serializers.DateField(
        source="tier.safe_until",
        allow_null=True,
        help_text="The last day the tier is safe without new points (the override's end "
        "while staff hold the member at it); null when it cannot be lost.",
    )
    tier_keep = TierKeepSerializer(
        source="tier.keep",
        allow_null=True,
        help_text="What keeps the tier: earn `points_needed` points by `by`.",
    )
    tier_earn_multiplier = serializers.DecimalField(
        source="tier.earn_multiplier", max_digits=6, decimal_places=3, allow_null=True
    )
    tier_benefits = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()
    rating = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    points_expire_at = serializers.DateTimeField(
        allow_null=True, help_text="The next date on which any points expire."
    )
    points_expiring = serializers.IntegerField(help_text="How many points expire then.")
    next_reward = NextRewardSerializer(allow_null=True)
    next_tier = NextTierSerializer(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_tier_benefits(self, summary: dict[str, Any]) -> list[str]:
        """Texts shown to the member about its tier's perks."""
        return list(summary["tier"]["benefits"]) if summary.get("tier") else []

    def get_flags(self, summary: dict[str, Any]) -> list[str]:
        """The tier's named flags (e.g. ``early_access``) that open features in the shop."""
        return list(summary["tier"]["flags"]) if summary.get("tier") else []


class TierChangeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TierChange.Kind.choices)
    from_tier = serializers.CharField(source="from_name", allow_null=True)
    to_tier = serializers.CharField(source="to_name", allow_null=True)
    reason = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True, help_text="An override's end.")
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        for name in ("from_tier", "to_tier"):
            data[name] = data[name] or None
        return data


class TierChangePageSerializer(serializers.Serializer):
    results = TierChangeSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class BadgeCardSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    url = serializers.URLField(allow_null=True, help_text="The public card; null while off.")
    tier = serializers.CharField(allow_null=True)
    badge = serializers.CharField()
    orders = serializers.IntegerField()
    member_since = serializers.DateField()


class BadgeCardInSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


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
    counts_for_tier = serializers.BooleanField(
        default=False, help_text="The granted points count toward tiers like earned ones."
    )


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


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=100)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    amount = amount_field(help_text="The line's total, in the order's currency.")


class OrderInSerializer(DottedErrorsSerializer):
    dotted_fields = ("lines",)

    external_id = external_id_field()
    member = external_id_field()
    amount = amount_field()
    currency = currency_field()
    placed_at = serializers.DateTimeField(required=False)
    breakdown = BreakdownSerializer(required=False)
    lines = BoundedListField(
        child=OrderLineSerializer(),
        required=False,
        max_length=200,
        help_text="The order's lines, for product and category bonuses and exclusions.",
    )


class ExcludedSerializer(serializers.Serializer):
    amount = serializers.CharField()
    reason = serializers.CharField()


class LineEarningSerializer(serializers.Serializer):
    sku = serializers.CharField()
    category = serializers.CharField()
    quantity = serializers.IntegerField()
    amount = serializers.CharField()
    earns = serializers.BooleanField()
    excluded_reason = serializers.CharField(allow_null=True)
    bonus_points = serializers.IntegerField()
    bonus_reasons = serializers.ListField(child=serializers.CharField())


class MultiplierStepSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]
    factor = serializers.CharField()
    points_after = serializers.IntegerField()


class RuleEarningSerializer(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.CharField()
    points = serializers.IntegerField()
    reason = serializers.CharField()


class CampaignEarningSerializer(serializers.Serializer):
    campaign = serializers.CharField()
    multiplier = serializers.CharField(allow_null=True)
    points = serializers.IntegerField()
    reason = serializers.CharField()


class CapAppliedSerializer(serializers.Serializer):
    rule = serializers.CharField()
    period = serializers.ChoiceField(choices=["day", "month"])
    limit = serializers.IntegerField()
    earned_before = serializers.IntegerField()
    cut = serializers.IntegerField()


class EarnBreakdownSerializer(serializers.Serializer):
    """How the points were computed, step by step (see `stacking_rule`)."""

    amount = serializers.CharField()
    currency = serializers.CharField()
    points_base = serializers.CharField(help_text="The amount that earns, after exclusions.")
    earn_rate = serializers.CharField()
    base_points = serializers.IntegerField()
    excluded = ExcludedSerializer(many=True, help_text="Every amount left out, with why.")
    lines = LineEarningSerializer(many=True)
    multipliers = MultiplierStepSerializer(many=True)
    rules = RuleEarningSerializer(many=True, help_text="Product and category bonuses.")
    campaigns = CampaignEarningSerializer(many=True)
    cap = CapAppliedSerializer(allow_null=True)
    total = serializers.IntegerField()
    reason = serializers.CharField(help_text="The ledger entry's reason.")
    tier = serializers.CharField(allow_null=True)
    stacking_rule = serializers.CharField()


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
            "points_breakdown": represent(EarnBreakdownSerializer, order.earning)
            if order.earning
            else None,
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


class EarningRuleSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EarningRule.Kind.choices)
    name = serializers.CharField(max_length=100)
    active = serializers.BooleanField(default=True)
    parameters = serializers.JSONField(
        help_text='signup, birthday, cap_day, cap_month: {"points": n}; referral: '
        '{"referrer_points": n, "referred_points": n}; product_bonus: {"sku", '
        '"points_per_unit"?, "multiplier"?}; category_bonus: {"category", "points_per_unit"?, '
        '"multiplier"?}; exclusion: {"sku"} or {"category"}.'
    )


class CampaignSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    active = serializers.BooleanField(default=True)
    start_date = serializers.DateField(help_text="First day, in the program's time zone.")
    end_date = serializers.DateField(help_text="Last day, included (until local midnight).")
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=2, default=Decimal(1))
    fixed_bonus = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
    min_order_amount = amount_field(default=Decimal(0))
    tiers = serializers.ListField(
        child=serializers.CharField(max_length=100), default=list, help_text="Empty: everyone."
    )
    segment = serializers.JSONField(
        default=dict,
        help_text='A member filter: {"field__lookup": value}; fields external_id, email, name, '
        "locale, consent_email, consent_push, birth_date, created_at; lookups exact, in, "
        "startswith, endswith, gte, lte.",
    )


class TierSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    min_points = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, help_text="Points earned within the window to reach it."
    )
    window_days = serializers.IntegerField(min_value=1, max_value=3650, default=90)
    earn_multiplier = serializers.DecimalField(
        max_digits=6, decimal_places=3, min_value=Decimal(1), max_value=Decimal(100),
        default=Decimal(1), help_text="Future orders earn this many times the points.",
    )  # fmt: skip
    min_rating = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), allow_null=True, default=None,
        help_text="Optional: the member's rating must reach this.",
    )  # fmt: skip
    badge = serializers.CharField(max_length=50, allow_blank=True, default="")
    benefits = BoundedListField(
        child=serializers.CharField(max_length=200), max_length=20, default=list,
        help_text="Texts shown to the member.",
    )  # fmt: skip
    flags = BoundedListField(
        child=serializers.RegexField(r"^[a-z0-9_-]{1,50}$"), max_length=20, default=list,
        help_text="Names integrators read from the member to open features (early_access).",
    )  # fmt: skip


class ProgramSerializer(serializers.ModelSerializer):
    """The program's settings, reward thresholds included (the same settings the admin edits)."""

    # context["thresholds"]: thresholds_describe's list, presented by get_thresholds.

    thresholds = serializers.SerializerMethodField()
    tiers = serializers.SerializerMethodField()

    class Meta:
        model = Program
        fields = [
            "name", "currency", "earn_rate", "points_validity_days", "reset_validity_on_order",
            "reminder_offsets_days", "pending_days", "conversion_mode", "refund_after_conversion",
            "earn_on_discount", "earn_on_shipping", "earn_on_tax", "earn_on_gift_card",
            "thresholds", "time_zone", "transfers_enabled", "transfer_min_points",
            "transfer_monthly_limit", "earning_rules", "campaigns", "stacking_rule",
            "tier_grace_days", "tier_notice_days", "tiers",
        ]  # fmt: skip

    earning_rules = serializers.SerializerMethodField()
    campaigns = serializers.SerializerMethodField()
    stacking_rule = serializers.SerializerMethodField()

    @extend_schema_field(EarningRuleSerializer(many=True))
    def get_earning_rules(self, program: Program) -> list[dict[str, Any]]:
        return list(self.context.get("earning_rules", []))

    @extend_schema_field(CampaignSerializer(many=True))
    def get_campaigns(self, program: Program) -> list[dict[str, Any]]:
        return list(CampaignSerializer(self.context.get("campaigns", []), many=True).data)

    def get_stacking_rule(self, program: Program) -> str:
        return str(STACKING_RULE)

    @extend_schema_field(TierSerializer(many=True))
    def get_tiers(self, program: Program) -> list[dict[str, Any]]:
        return [TierSerializer(tier).data for tier in self.context.get("tiers", [])]

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

    dotted_fields = ("thresholds", "earning_rules", "campaigns", "tiers")

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
    reminder_offsets_days = BoundedListField(
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
    thresholds = BoundedListField(
        child=ThresholdInSerializer(),
        max_length=50,
        required=False,
        help_text="Replaces all thresholds; coupons already issued keep their terms.",
    )
    time_zone = serializers.CharField(max_length=64, required=False)
    transfers_enabled = serializers.BooleanField(required=False)
    transfer_min_points = serializers.IntegerField(min_value=1, max_value=10**8, required=False)
    transfer_monthly_limit = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    earning_rules = BoundedListField(
        child=EarningRuleSerializer(), max_length=100, required=False,
        help_text="Replaces all earning rules.",
    )  # fmt: skip
    campaigns = BoundedListField(
        child=CampaignSerializer(), max_length=100, required=False,
        help_text="Replaces all campaigns.",
    )  # fmt: skip
    tier_grace_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    tier_notice_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    tiers = BoundedListField(
        child=TierSerializer(),
        max_length=20,
        required=False,
        help_text="Replaces all tiers; a tier sent again under its name keeps its members.",
    )


class QuoteBonusSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["signup", "referral"])
    points = serializers.IntegerField()
    reason = serializers.CharField()


class QuoteSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    member = serializers.CharField()
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
    tier = serializers.CharField(allow_null=True, help_text="The tier it would reach.")


class TransferInSerializer(serializers.Serializer):
    to = external_id_field(help_text="The external id of the member who receives the points.")
    points = serializers.IntegerField(min_value=1, max_value=100_000_000)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class TransferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member = serializers.CharField(help_text="Who gave.")
    to = serializers.CharField()
    points = serializers.IntegerField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    balance = serializers.IntegerField(help_text="The giver's balance after the transfer.")
    recipient_balance = serializers.IntegerField()


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]


class ProfileLinkSerializer(serializers.Serializer):
    url = serializers.URLField(
        help_text="Redirect the customer here: it signs them in to their profile page once."
    )
    expires_at = serializers.DateTimeField(help_text="The link stops working after this.")
