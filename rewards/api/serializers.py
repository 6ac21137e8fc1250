"""Coupons in the API: a coupon as integrators see it, checkout (validate, redeem, release),
a member's coupons, coupons issued by the shop, rewards claimed by the member.
"""

from typing import Any

from rest_framework import serializers

from loyalty.api.serializers.fields import (
    DottedErrorsSerializer,
    amount_field,
    coupon_kind_field,
    currency_field,
    datetime_out,
    external_id_field,
    terms_out,
)
from rewards.models import Coupon
from rewards.selectors import coupon_status
from rewards.terms import terms_text


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
    order_amount = amount_field(
        above_zero=True, help_text="The order total the coupon would apply to."
    )
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
    value = amount_field(
        above_zero=True,
        help_text='Percent off (e.g. "10", at most 100) or an amount in the currency.',
    )
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
