"""Reward thresholds, coupon templates, coupons and their redemptions.

Invariants kept here with the database's help:
- a coupon's code is unique (stored normalised: upper case, no separators);
- a coupon is never used more often than it allows (``uses_count <= uses_allowed``; uses
  per member and per period are counted under the coupon's row lock at checkout);
- one order holds at most one live redemption of a coupon;
- an issued coupon carries its own terms, so editing a template never changes it.
"""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.content_fields import TranslationsField
from loyalty.models import Member, Order, Program, User, amount_field
from rewards.codes import code_display


class CouponKind(models.TextChoices):
    PERCENT = "percent", _("percent off")
    FIXED = "fixed", _("fixed amount off")
    FREE_PRODUCT = "free_product", _("free product")
    FREE_SHIPPING = "free_shipping", _("free shipping")


# Kinds whose ``value`` is not used (stored as 0): what they give is named by other fields.
VALUELESS_KINDS = (CouponKind.FREE_PRODUCT, CouponKind.FREE_SHIPPING)


class AllowancePeriod(models.TextChoices):
    MONTH = "month", _("month")
    QUARTER = "quarter", _("quarter")
    YEAR = "year", _("year")


class RewardTerms(models.Model):
    """The terms a template and the coupons issued from it share, beyond the money ones.

    ``scope`` lists what a percent, fixed or free-shipping coupon applies to:
    ``{"include_skus": [...], "include_categories": [...], "exclude_skus": [...],
    "exclude_categories": [...]}`` (empty: the whole order). A free product names its
    product by SKU or by category, with a quantity; ``max_discount`` caps its value.
    """

    product_sku = models.CharField(max_length=100, blank=True)
    product_category = models.CharField(max_length=100, blank=True)
    product_quantity = models.PositiveIntegerField(default=1)
    scope = models.JSONField(default=dict, blank=True)
    uses_per_member = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("How many orders of one customer may use it.")
    )
    allowance_uses = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Uses per period (a perk such as 2 a quarter).")
    )
    allowance_period = models.CharField(max_length=8, blank=True, choices=AllowancePeriod.choices)

    class Meta:
        abstract = True


class CouponTemplate(RewardTerms):
    """The terms of coupons to issue: what they take off, on which orders, for how long."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="coupon_templates")
    # The reward's name as members read it (profile page, notifications).
    name = models.CharField(max_length=200)
    name_i18n = TranslationsField(max_length=200, verbose_name=_("name per language"))
    kind = models.CharField(max_length=16, choices=CouponKind.choices, default=CouponKind.PERCENT)
    value = amount_field(help_text=_("Percent (e.g. 10) or an amount in the program's currency."))
    max_discount = amount_field(
        null=True, blank=True, help_text=_("Cap on the discount; empty for none.")
    )
    min_order_amount = amount_field(default=Decimal(0))
    valid_days = models.PositiveIntegerField(default=30)
    uses = models.PositiveIntegerField(default=1, help_text=_("How many orders may use a coupon."))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gt=0) | Q(kind__in=VALUELESS_KINDS, value=0),
                name="template_value_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100), name="template_percent_lte_100"
            ),
            models.CheckConstraint(condition=Q(valid_days__gt=0), name="template_valid_days"),
            models.CheckConstraint(condition=Q(uses__gt=0), name="template_uses_positive"),
            models.CheckConstraint(
                condition=Q(min_order_amount__gte=0), name="template_min_order_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RewardThreshold(models.Model):
    """ "At N points, issue a coupon from this template"."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="thresholds")
    points = models.PositiveIntegerField()
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="thresholds"
    )

    class Meta:
        ordering = ["points"]
        constraints = [
            models.UniqueConstraint(fields=["program", "points"], name="threshold_points_unique"),
            models.CheckConstraint(condition=Q(points__gt=0), name="threshold_points_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.points} points: {self.template}"


class Coupon(RewardTerms):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        REDEEMED = "redeemed", _("redeemed")
        EXPIRED = "expired", _("expired")
        VOID = "void", _("void")

    class Source(models.TextChoices):
        REWARD = "reward", _("reward for points")
        COMPENSATION = "compensation", _("compensation")
        PROMOTION = "promotion", _("promotion")
        PERK = "perk", _("tier perk")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="coupons")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="coupons"
    )
    # Normalised: upper case, no separators. Shown grouped ("ABCDE-FGHJK-MNPQR").
    code = models.CharField(max_length=32, unique=True, editable=False)
    template = models.ForeignKey(
        CouponTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="coupons"
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.REWARD)
    kind = models.CharField(max_length=16, choices=CouponKind.choices)
    value = amount_field()
    max_discount = amount_field(null=True, blank=True)
    min_order_amount = amount_field(default=Decimal(0))
    currency = models.CharField(max_length=3)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()
    uses_allowed = models.PositiveIntegerField(default=1)
    uses_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    points_spent = models.BigIntegerField(default=0, help_text=_("Points converted into it."))
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="coupons_issued",
        help_text=_("The order whose points paid for it."),
    )  # fmt: skip
    reason = models.TextField(blank=True)
    # The reason per language (``loyalty.content``; ``reason`` the fallback): a compensation
    # or promotion coupon's card tells its member why, in the member's language.
    reason_i18n = TranslationsField(max_length=500, verbose_name=_("reason per language"))
    issued_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A perk coupon: the tier whose perk it is (``rewards.services.perks``). One per member and
    # tier, ever: re-reaching the tier reactivates it.
    perk_tier = models.ForeignKey(
        "loyalty.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(uses_count__lte=F("uses_allowed")), name="coupon_uses_within_allowed"
            ),
            models.UniqueConstraint(
                fields=["member", "perk_tier"],
                condition=Q(perk_tier__isnull=False),
                name="one_perk_coupon_per_member_tier",
            ),
            models.CheckConstraint(
                condition=Q(value__gt=0) | Q(kind__in=VALUELESS_KINDS, value=0),
                name="coupon_value_positive",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gt=F("valid_from")), name="coupon_window_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "status"], name="coupon_member_status_idx"),
            models.Index(fields=["status", "valid_until"], name="coupon_status_until_idx"),
        ]

    def __str__(self) -> str:
        return self.display_code

    @property
    def display_code(self) -> str:
        return code_display(self.code)

    @property
    def uses_left(self) -> int:
        """Uses left in all; for a member's coupon, within its uses per member too."""
        left = self.uses_allowed - self.uses_count
        if self.member_id is not None and self.uses_per_member is not None:
            left = min(left, self.uses_per_member - self.uses_count)
        return max(left, 0)

    @property
    def allowance_left(self) -> int | None:
        """Uses left in the current period, when counted (``allowance_used``: set by
        ``rewards.selectors`` and checkout); None without an allowance."""
        used = getattr(self, "allowance_used", None)
        if self.allowance_uses is None or used is None:
            return None
        return max(min(self.allowance_uses - used, self.uses_left), 0)


class Redemption(models.Model):
    """A coupon used on an order at checkout; released if the order is cancelled."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    # The integrator's order reference: at checkout the order is not recorded yet.
    order_reference = models.CharField(max_length=191)
    order_amount = amount_field()
    discount = amount_field()
    # Part of ``discount`` taken off the shipping; the line-by-line answer (``rewards.lines``).
    shipping_discount = amount_field(default=Decimal(0))
    lines = models.JSONField(default=list, blank=True)
    # The customer's external id given at checkout: uses per member are counted by it.
    member_reference = models.CharField(max_length=191, blank=True)
    redeemed_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "order_reference"],
                condition=Q(released_at__isnull=True),
                name="one_live_redemption_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon} on {self.order_reference}"


class CouponEvent(models.Model):
    """A coupon's history: issued, redeemed, released, voided, expired; who and why."""

    class Kind(models.TextChoices):
        ISSUED = "issued", _("issued")
        REDEEMED = "redeemed", _("redeemed")
        RELEASED = "released", _("released")
        VOIDED = "voided", _("voided")
        EXPIRED = "expired", _("expired")
        REACTIVATED = "reactivated", _("reactivated")

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    reason = models.TextField(blank=True)
    # Staff's reason per language (issued, voided), as the member reads it.
    reason_i18n = TranslationsField(max_length=500, verbose_name=_("reason per language"))
    order_reference = models.CharField(max_length=191, blank=True)
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["coupon", "id"], name="coupon_event_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.coupon}"
