"""The program's settings in the API, read and changed as one document: earning, validity,
reward thresholds, earning rules and campaigns, tiers.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty import money
from loyalty.api.serializers.fields import (
    BoundedListField,
    DottedErrorsSerializer,
    MoneyOutField,
    TextField,
    TextRegexField,
    TimeZoneField,
    TranslationsField,
    amount_field,
    coupon_kind_field,
    currency_field,
    terms_out,
)
from loyalty.models import EarningRule, Program
from loyalty.rules.earning import SEGMENT_FIELDS, SEGMENT_LOOKUPS
from loyalty.services.earning import STACKING_RULE
from loyalty.services.tier_settings import tier_perk_describe
from rewards.api.serializers import CouponTermsInSerializer, ScopeSerializer, period_field
from rewards.lines import scope_clean
from rewards.services.reward_terms import REWARD_FIELDS


class ThresholdCouponSerializer(serializers.Serializer):
    kind = coupon_kind_field()
    value = TextField()
    max_discount = MoneyOutField(allow_null=True)
    min_order_amount = MoneyOutField()
    valid_days = serializers.IntegerField()
    uses = serializers.IntegerField()
    # The reward's other terms (``rewards.models.RewardTerms``): a free product, the scope,
    # uses per member and a perk's allowance per period.
    product_sku = TextField(max_length=100, allow_blank=True)
    product_category = TextField(max_length=100, allow_blank=True)
    product_quantity = serializers.IntegerField(min_value=1, max_value=100)
    scope = ScopeSerializer()
    uses_per_member = serializers.IntegerField(allow_null=True, min_value=1, max_value=1000)
    allowance_uses = serializers.IntegerField(allow_null=True, min_value=1, max_value=1000)
    allowance_period = period_field(allow_blank=True)


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
                **{name: terms[name] for name in REWARD_FIELDS},
                "scope": scope_clean(terms["scope"]),
            },
        }


# What the program's JSON fields take, as schemas (the services check the same: the shape of a
# rule's parameters by its kind, a campaign's member filter, texts per language).
def segment_schema() -> dict[str, Any]:
    """``loyalty.services.earning.segment_check``: ``{"field__lookup": value}``, at most 10."""
    value = {
        str: {"type": "string", "maxLength": 200, "pattern": r"^[^\x00]*$"},
        bool: {"type": "boolean"},
        date: {"type": "string", "format": "date"},
    }
    properties: dict[str, Any] = {}
    for name, kind in SEGMENT_FIELDS.items():
        lookups = ("exact",) if kind is bool else SEGMENT_LOOKUPS
        properties[name] = value[kind]
        for lookup in lookups:
            one = value[kind]
            properties[f"{name}__{lookup}"] = (
                {"type": "array", "items": one} if lookup == "in" else one
            )
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "maxProperties": 10,
        "description": 'A member filter: {"field__lookup": value}, all of them must hold (at '
        "most 10); fields external_id, email, name, locale, consent_email, consent_push, "
        "birth_date, created_at; lookups exact (the default), in (a list), startswith, "
        "endswith, gte, lte; yes/no fields only exact.",
    }


@extend_schema_field(segment_schema())
class SegmentField(serializers.JSONField):
    pass


class EarningRuleSerializer(serializers.Serializer):
    """An earning rule: what it gives or leaves out; its `parameters` take its `kind`'s shape."""

    # The schema has one shape a kind (``loyalty.api.schema.EarningRuleScheme``).

    kind = serializers.ChoiceField(choices=EarningRule.Kind.choices)
    name = TextField(max_length=100)
    active = serializers.BooleanField(default=True)
    parameters = serializers.JSONField(
        help_text='signup, birthday, cap_day, cap_month: {"points": n}; referral: '
        '{"referrer_points": n, "referred_points": n}; product_bonus: {"sku", '
        '"points_per_unit"?, "multiplier"?}; category_bonus: {"category", "points_per_unit"?, '
        '"multiplier"?}; exclusion: {"sku"} or {"category"}.'
    )


class CampaignSerializer(serializers.Serializer):
    name = TextField(max_length=100)
    active = serializers.BooleanField(default=True)
    start_date = serializers.DateField(help_text="First day, in the program's time zone.")
    end_date = serializers.DateField(
        help_text="Last day, included (until local midnight); not before `start_date`."
    )
    multiplier = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal(1), max_value=Decimal(100),
        default=Decimal(1),
        help_text="Points times this, from 1 to 100. A campaign gives something: a multiplier "
        "above 1, a `fixed_bonus`, or both (1 with no bonus: 400 validation_error).",
    )  # fmt: skip
    fixed_bonus = serializers.IntegerField(
        min_value=0, max_value=1_000_000, default=0, help_text="Points added to each order."
    )
    min_order_amount = amount_field(default=Decimal(0))
    tiers = serializers.ListField(
        child=TextField(max_length=100), default=list, help_text="Empty: everyone."
    )
    segment = SegmentField(default=dict)
    name_i18n = TranslationsField(
        text_length=100, required=False,
        help_text='The name per language members read, e.g. {"es": "Rebajas"}; `name` for '
        "the others. Not sent: a campaign sent again under its name keeps its own.",
    )  # fmt: skip


class TierSerializer(serializers.Serializer):
    name = TextField(max_length=100, help_text="Unique among the program's tiers, in any case.")
    min_points = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1,
        help_text="Points earned within the window to reach it; no two tiers at the same points.",
    )  # fmt: skip
    window_days = serializers.IntegerField(min_value=1, max_value=3650, default=90)
    earn_multiplier = serializers.DecimalField(
        max_digits=6, decimal_places=3, min_value=Decimal(1), max_value=Decimal(100),
        default=Decimal(1), help_text="Future orders earn this many times the points.",
    )  # fmt: skip
    min_rating = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), allow_null=True, default=None,
        help_text="Optional: the member's rating must reach this.",
    )  # fmt: skip
    badge = TextField(max_length=50, allow_blank=True, default="")
    benefits = BoundedListField(
        child=TextField(max_length=200), max_length=20, default=list,
        help_text="Texts shown to the member.",
    )  # fmt: skip
    flags = BoundedListField(
        child=TextRegexField(r"^[a-z0-9_-]{1,50}$"), max_length=20, default=list,
        help_text="Names integrators read from the member to open features (early_access).",
    )  # fmt: skip
    name_i18n = TranslationsField(
        text_length=100, required=False,
        help_text='The name per language members read, e.g. {"es": "Oro"}; `name` for the '
        "others. Not sent: one sent again under its name keeps its own.",
    )  # fmt: skip
    benefits_i18n = TranslationsField(
        text_length=200, lines=True, required=False,
        help_text='The benefits per language, e.g. {"es": ["Envío gratis"]}; `benefits` for '
        "the others. Not sent: a tier sent again keeps its own.",
    )  # fmt: skip
    perk = CouponTermsInSerializer(
        required=False, allow_null=True, write_only=True,
        help_text="The tier's perk, as coupon terms: each member who reaches the tier gets one "
        "coupon with them, bound to them (for example free shipping, 2 uses a quarter: "
        "`allowance_uses` 2, `allowance_period` quarter), voided when they leave the tier and "
        "reactivated (same code) when they reach it again. null: no perk. Not sent: a tier "
        "sent again keeps its own.",
    )  # fmt: skip


class TierPerkSerializer(ThresholdCouponSerializer):
    id = serializers.IntegerField(help_text="The coupon template's id.")
    name = serializers.CharField()


class TierOutSerializer(TierSerializer):
    perk = TierPerkSerializer(  # type: ignore[assignment]
        allow_null=True, help_text="The tier's perk (a coupon template's terms); null: none."
    )

    @staticmethod
    def present(tier: Any, *, currency: str) -> dict[str, Any]:
        data = dict(TierSerializer(tier).data)
        perk = tier_perk_describe(tier)
        if perk is not None:
            shown = ThresholdSerializer.present({"points": 0, "coupon": perk}, currency=currency)
            perk = {"id": perk["id"], "name": perk["name"], **shown["coupon"]}
        return {**data, "perk": perk}


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
        # Its minimum in the program's currency's decimals (the field itself writes 3).
        return [
            {**item, "min_order_amount": money.money_str(Decimal(item["min_order_amount"]),
                                                         program.currency)}
            for item in CampaignSerializer(self.context.get("campaigns", []), many=True).data
        ]  # fmt: skip

    def get_stacking_rule(self, program: Program) -> str:
        return str(STACKING_RULE)

    @extend_schema_field(TierOutSerializer(many=True))
    def get_tiers(self, program: Program) -> list[dict[str, Any]]:
        return [
            TierOutSerializer.present(tier, currency=program.currency)
            for tier in self.context.get("tiers", [])
        ]

    @extend_schema_field(ThresholdSerializer(many=True))
    def get_thresholds(self, program: Program) -> list[dict[str, Any]]:
        return [
            ThresholdSerializer.present(threshold, currency=program.currency)
            for threshold in self.context.get("thresholds", [])
        ]


class ThresholdInSerializer(serializers.Serializer):
    points = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1,
        help_text="The balance that gives the coupon; no two thresholds at the same points.",
    )  # fmt: skip
    coupon = CouponTermsInSerializer()


class ProgramInSerializer(DottedErrorsSerializer):
    """A change of the program's settings: any subset of the fields.

    `thresholds`, when sent, replaces all the program's thresholds.
    """

    dotted_fields = ("thresholds", "earning_rules", "campaigns", "tiers")

    name = TextField(max_length=200, required=False)
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
    time_zone = TimeZoneField(required=False)
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
