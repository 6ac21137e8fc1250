"""Members in the API: profile, balance and tier, ledger, grants, transfers, badge card,
profile link.
"""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.api.serializers.fields import (
    LOCALES,
    TextField,
    TranslationsField,
    external_id_field,
)
from loyalty.content import REASON_KEY
from loyalty.models import LedgerEntry, TierChange
from rewards.api.serializers import CouponSerializer


class ConsentSerializer(serializers.Serializer):
    email = serializers.BooleanField(default=False)
    push = serializers.BooleanField(default=False)


class MemberInSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    name = TextField(required=False, allow_blank=True, default="", max_length=200)
    locale = serializers.ChoiceField(choices=LOCALES, default="en")
    consent = ConsentSerializer(required=False)
    birth_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="For the birthday bonus. Unchanged when left out; null clears it.",
    )
    referred_by = TextField(
        required=False,
        max_length=191,
        trim_whitespace=False,
        help_text="The external id of an existing member of the program who referred this "
        "one; set once, before the first order; never the member themself nor a loop (400 "
        "validation_error).",
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
    name = TextField()
    name_i18n = serializers.DictField(
        child=TextField(),
        required=False,
        help_text="The name per language (only those the merchant gave); `name` for the others.",
    )
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
    external_id = TextField()
    email = TextField()
    name = TextField()
    locale = TextField()
    consent = ConsentSerializer()
    balance = serializers.IntegerField(help_text="Available points (pending ones not included).")
    pending_points = serializers.IntegerField(
        help_text="Points still in the program's return window: they count once it ends."
    )
    pending_until = serializers.DateTimeField(
        allow_null=True, help_text="When the next pending points become available."
    )
    tier = TextField(source="tier.name", allow_null=True, help_text="The tier's name.")
    tier_badge = TextField(source="tier.badge", allow_null=True)
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
    tier_name_i18n = serializers.SerializerMethodField()
    tier_benefits_i18n = serializers.SerializerMethodField()
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

    def get_tier_name_i18n(self, summary: dict[str, Any]) -> dict[str, str]:
        """The tier's name per language (only those the merchant gave; `tier` else)."""
        return dict(summary["tier"].get("name_i18n") or {}) if summary.get("tier") else {}

    def get_tier_benefits_i18n(self, summary: dict[str, Any]) -> dict[str, list[str]]:
        """The benefits per language (only those the merchant gave; `tier_benefits` else)."""
        return dict(summary["tier"].get("benefits_i18n") or {}) if summary.get("tier") else {}

    def get_flags(self, summary: dict[str, Any]) -> list[str]:
        """The tier's named flags (e.g. `early_access`) that open features in the shop."""
        return list(summary["tier"]["flags"]) if summary.get("tier") else []


class TierChangeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TierChange.Kind.choices)
    from_tier = TextField(source="from_name", allow_null=True)
    to_tier = TextField(source="to_name", allow_null=True)
    reason = TextField()
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
    tier = TextField(allow_null=True)
    badge = TextField()
    orders = serializers.IntegerField()
    member_since = serializers.DateField()


class BadgeCardInSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class LedgerEntrySerializer(serializers.ModelSerializer):
    order = serializers.SerializerMethodField()
    coupon = serializers.SerializerMethodField()
    refund = serializers.SerializerMethodField()
    reason_i18n = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = [
            "id", "kind", "points", "balance_after", "reason", "reason_i18n", "order", "refund",
            "coupon", "created_at",
        ]  # fmt: skip

    def get_reason_i18n(self, entry: LedgerEntry) -> dict[str, str]:
        """A grant's or deduction's reason per language, as staff gave it (`reason` else)."""
        details = entry.details if isinstance(entry.details, dict) else {}
        return dict(details.get(REASON_KEY) or {})

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


@extend_schema_field(
    {"type": "integer", "minimum": -100_000_000, "maximum": 100_000_000, "not": {"enum": [0]},
     "example": 250,
     "description": "Points to add (more than 0) or take off (less than 0); never 0."}
)  # fmt: skip
class GrantPointsField(serializers.IntegerField):
    """Points of a grant: -100000000 to 100000000 but not 0 (the service says why)."""


class GrantInSerializer(serializers.Serializer):
    points = GrantPointsField(min_value=-100_000_000, max_value=100_000_000)
    reason = TextField(max_length=500)
    reason_i18n = TranslationsField(
        text_length=500,
        required=False,
        help_text='The reason per language the member may read it in, e.g. {"es": "Regalo"}; '
        "`reason` for the others. Keys: en, es, ru, tr; at most 500 characters each.",
    )
    counts_for_tier = serializers.BooleanField(
        default=False,
        help_text="The granted points count toward tiers like earned ones; only for a grant "
        "(points > 0), else 400 validation_error.",
    )


class GrantSerializer(serializers.Serializer):
    entry = LedgerEntrySerializer()
    balance = serializers.IntegerField()
    coupons_issued = CouponSerializer(
        many=True, help_text="Coupons the new balance converted into (automatic programs)."
    )


class TransferInSerializer(serializers.Serializer):
    to = external_id_field(help_text="The external id of the member who receives the points.")
    points = serializers.IntegerField(min_value=1, max_value=100_000_000)
    note = TextField(max_length=200, required=False, allow_blank=True, default="")


class TransferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member = TextField(help_text="Who gave.")
    to = TextField()
    points = serializers.IntegerField()
    note = TextField()
    created_at = serializers.DateTimeField()
    balance = serializers.IntegerField(help_text="The giver's balance after the transfer.")
    recipient_balance = serializers.IntegerField()


class ProfileLinkSerializer(serializers.Serializer):
    url = serializers.URLField(
        help_text="Redirect the customer here: it signs them in to their profile page once."
    )
    expires_at = serializers.DateTimeField(help_text="The link stops working after this.")
