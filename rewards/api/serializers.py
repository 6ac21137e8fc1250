"""Coupons in the API: a coupon as integrators see it, checkout (validate, redeem, release),
a member's coupons, coupons issued by the shop, rewards claimed by the member.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from loyalty.api.serializers.fields import (
    BoundedListField,
    DottedErrorsSerializer,
    ErrorSerializer,
    MoneyOutField,
    NamedChoiceField,
    TextField,
    TranslationsField,
    amount_field,
    coupon_kind_field,
    currency_field,
    datetime_out,
    external_id_field,
    terms_out,
)
from rewards.lines import scope_of
from rewards.models import AllowancePeriod, Coupon
from rewards.selectors import allowance_of, coupon_status
from rewards.terms import terms_text


def period_field(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(
        enum_name="AllowancePeriodEnum", choices=AllowancePeriod.choices, **kwargs
    )


def name_field(**kwargs: Any) -> serializers.CharField:
    """A SKU or a category: 1 to 100 characters."""
    return TextField(max_length=100, min_length=1, **kwargs)


class ScopeSerializer(serializers.Serializer):
    """What a coupon applies to; a list left out is empty. An exclusion wins."""

    refuses_unknown_keys = True  # the schema says so (loyalty.api.schema)

    def to_internal_value(self, data: Any) -> Any:
        # A misspelt list ("include_sku") would otherwise be dropped: a coupon for everything.
        if isinstance(data, dict) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError(
                {name: [_("Unknown list; use %s.") % ", ".join(self.fields)] for name in unknown}
            )
        return super().to_internal_value(data)

    include_skus = serializers.ListField(
        child=name_field(),
        max_length=100,
        required=False,
        help_text="Only these SKUs (with the categories below); none listed: every item.",
    )
    include_categories = serializers.ListField(
        child=name_field(),
        max_length=100,
        required=False,
        help_text="Only these categories (with the SKUs above).",
    )
    exclude_skus = serializers.ListField(
        child=name_field(),
        max_length=100,
        required=False,
        help_text="Never these SKUs.",
    )
    exclude_categories = serializers.ListField(
        child=name_field(), max_length=100, required=False,
        help_text="Never these categories.",
    )  # fmt: skip


class ProductSerializer(serializers.Serializer):
    sku = TextField(help_text="The free product's SKU; empty when by category.")
    category = TextField(help_text="Any item of this category; empty when by SKU.")
    quantity = serializers.IntegerField(min_value=1, max_value=100)


class AllowanceSerializer(serializers.Serializer):
    uses = serializers.IntegerField(min_value=1, help_text="Uses allowed per period.")
    period = period_field()
    left = serializers.IntegerField(
        min_value=0,
        help_text="Uses left in the current period. A promotion coupon (`member` null) counts "
        "its allowance per customer: at validate and redeem, the `member` sent; elsewhere, "
        "what each customer starts the period with.",
    )
    resets_at = serializers.DateTimeField(help_text="When the next period starts.")


class CouponSerializer(serializers.Serializer):
    """A coupon: its code, what it takes off which orders, when, its status and its owner."""

    code = TextField(
        help_text="Shown grouped (ABCDE-FGHJK-MNPQR); accepted in any case, with or without "
        "separators."
    )
    kind = coupon_kind_field()
    value = TextField(
        help_text='Percent off for `percent` ("10"); an amount in `currency` for `fixed` ("5.00").'
    )
    max_discount = MoneyOutField(
        allow_null=True, help_text="Cap on a percent discount; null for none."
    )
    min_order_amount = MoneyOutField()
    currency = TextField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    status = serializers.ChoiceField(
        choices=Coupon.Status.choices,
        help_text="As of now: an active coupon past `valid_until` shows as expired.",
    )
    member = TextField(
        allow_null=True, help_text="The external id of the member it belongs to; null for anyone."
    )
    uses_allowed = serializers.IntegerField()
    uses_count = serializers.IntegerField()
    uses_left = serializers.IntegerField(
        min_value=0, help_text="Uses left in all (a member's coupon: within its uses per member)."
    )
    uses_per_member = serializers.IntegerField(
        allow_null=True, help_text="How many orders of one customer may use it; null: no limit."
    )
    allowance = AllowanceSerializer(
        allow_null=True, help_text="A perk's uses per period and what is left; null: none."
    )
    product = ProductSerializer(allow_null=True, help_text="The free product; null otherwise.")
    scope = ScopeSerializer(help_text="What it applies to; empty: the whole order.")
    source = serializers.ChoiceField(choices=Coupon.Source.choices)  # type: ignore[assignment]
    terms = TextField(help_text="The terms in words, in the request's language.")

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
            "uses_left": coupon.uses_left,
            "uses_per_member": coupon.uses_per_member,
            "allowance": _allowance_out(coupon),
            "product": _product_out(coupon),
            "scope": scope_of(coupon),
            "source": coupon.source,
            "terms": terms_text(coupon, currency=currency),
        }

    @staticmethod
    def present_all(coupons: list[Coupon]) -> list[dict[str, Any]]:
        return [CouponSerializer.present(coupon) for coupon in coupons]


def _allowance_out(coupon: Coupon) -> dict[str, Any] | None:
    allowance = allowance_of(coupon)
    if allowance is not None:
        allowance["resets_at"] = datetime_out(allowance["resets_at"])
    return allowance


def _product_out(coupon: Coupon) -> dict[str, Any] | None:
    if coupon.kind != "free_product":
        return None
    return {
        "sku": coupon.product_sku,
        "category": coupon.product_category,
        "quantity": coupon.product_quantity,
    }


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


class CheckoutLineSerializer(serializers.Serializer):
    sku = name_field()
    category = TextField(max_length=100, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    unit_price = amount_field(min_value=0, help_text="The price of one item, in the currency.")


class CheckoutInSerializer(DottedErrorsSerializer):
    dotted_fields = ("lines",)

    member = external_id_field(
        required=False,
        allow_null=True,
        help_text="The customer's external id, if signed in: a member's coupon works only "
        "for that member.",
    )
    order_amount = amount_field(
        above_zero=True, help_text="The order total the coupon would apply to."
    )
    currency = currency_field()
    lines = BoundedListField(
        child=CheckoutLineSerializer(),
        required=False,
        min_length=1,
        max_length=200,
        help_text="The order's lines: the discount is then answered line by line. Required "
        "for a free product and for a coupon scoped to SKUs or categories "
        "(`coupon_lines_required`).",
    )
    shipping_amount = amount_field(
        required=False,
        min_value=0,
        help_text="The order's shipping; required for a free-shipping coupon.",
    )


class RedeemInSerializer(CheckoutInSerializer):
    order = TextField(
        max_length=191,
        trim_whitespace=False,
        help_text="Your order reference; the same order redeeming again gets the first answer, "
        "and release takes it.",
    )


class ReleaseInSerializer(serializers.Serializer):
    order = TextField(max_length=191, trim_whitespace=False)


class LineDiscountSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0, help_text="The line's place in `lines`.")
    sku = TextField()
    eligible = serializers.BooleanField(help_text="Whether the coupon applies to this line.")
    discount = MoneyOutField(help_text="What the coupon takes off this line.")


DISCOUNT_HELP = "What the coupon takes off this order in all: the lines' and the shipping's."


class CheckoutRefusalSerializer(ErrorSerializer):
    """A checkout refusal; `no_eligible_items` also lists the lines and the coupon's scope."""

    lines = LineDiscountSerializer(
        many=True, required=False, help_text="`no_eligible_items`: each line, none eligible."
    )
    scope = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="`no_eligible_items`: what would qualify: the scope's lists, or a free "
        "product's `product_sku` / `product_category`.",
    )


class CouponRedemptionSerializer(serializers.Serializer):
    discount = MoneyOutField(help_text=DISCOUNT_HELP)
    shipping_discount = MoneyOutField(help_text="The part taken off the shipping.")
    lines = LineDiscountSerializer(
        many=True, help_text="Line by line, when the lines were sent; empty otherwise."
    )
    coupon = CouponSerializer()


class CouponValidationSerializer(CouponRedemptionSerializer):
    valid = serializers.BooleanField()


class CouponReleaseSerializer(serializers.Serializer):
    coupon = CouponSerializer()


class CouponTermsInSerializer(serializers.Serializer):
    """The terms of a coupon: what it takes off, on which orders, for how long, how often."""

    # Type and form only; the services check ranges and the currency's decimals.

    kind = coupon_kind_field()
    value = amount_field(
        required=False,
        help_text='Percent off (e.g. "10", at most 100) or an amount in the currency; 0 or left '
        "out for a free product or free shipping.",
    )
    max_discount = amount_field(
        required=False,
        allow_null=True,
        help_text="Cap on a percent discount, the most a free product or free shipping is "
        "worth; null for none.",
    )
    min_order_amount = amount_field(required=False)
    valid_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    uses = serializers.IntegerField(
        required=False, min_value=1, max_value=1000, help_text="How many orders may use it (1)."
    )
    product_sku = TextField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="A free product's SKU (or give its category).",
    )
    product_category = TextField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="A free product: any item of this category (or give its SKU).",
    )
    product_quantity = serializers.IntegerField(
        required=False, min_value=1, max_value=100, help_text="How many items are free (1)."
    )
    scope = ScopeSerializer(required=False, help_text="What it applies to; left out: all.")
    uses_per_member = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1000,
        help_text="How many orders of one customer may use it; at most `uses`.",
    )
    allowance_uses = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1000,
        help_text="A perk: uses per `allowance_period` (e.g. 2 a quarter); at most `uses`. "
        "A member's coupon counts them for its member; a promotion coupon (for anyone) for "
        "each customer, so validate and redeem must send `member` (else "
        "`coupon_member_required`).",
    )
    allowance_period = period_field(
        required=False, allow_blank=True,
        help_text="The calendar period of `allowance_uses`, in the program's time zone.",
    )  # fmt: skip


class CouponIssueInSerializer(DottedErrorsSerializer):
    """A coupon for one member, with the reason it is given (recorded with the coupon)."""

    dotted_fields = ("coupon",)

    reason = TextField(max_length=1000, help_text="Why; recorded with the coupon.")
    reason_i18n = TranslationsField(
        text_length=500,
        required=False,
        help_text="The reason per language the member reads it in on the coupon, e.g. "
        '{"es": "Perdón por el retraso"}; `reason` for the others. Keys: en, es, ru, tr; at '
        "most 500 characters each.",
    )
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
