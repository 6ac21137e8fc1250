"""A merchant's program and its settings: earning rules, campaigns, tiers."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.content_fields import TranslationsField
from loyalty.models.base import Merchant, amount_field, default_reminder_offsets


class Program(models.Model):
    """A merchant's rules: how points are earned, how long they last, when customers are told."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="program")
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="EUR")
    earn_rate = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal(10),
        help_text=_("Points per 1.00 of the currency, rounded down per order."),
    )
    points_validity_days = models.PositiveIntegerField(
        null=True, blank=True, default=365, help_text=_("Empty: points never expire.")
    )
    reset_validity_on_order = models.BooleanField(
        default=True,
        help_text=_(
            "Yes: all points expire together, a validity after the last order (each order "
            "resets it). No: each earning expires on its own date, oldest points spent first."
        ),
    )
    reminder_offsets_days = models.JSONField(
        default=default_reminder_offsets, help_text=_("Days before expiry to remind members.")
    )
    pending_days = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text=_(
            "Return window: points from an order stay pending this many days before they "
            "count. 0: points count at once."
        ),
    )

    class ConversionMode(models.TextChoices):
        AUTOMATIC = "automatic", _("automatic: points turn into a coupon at the threshold")
        CHOICE = "choice", _("customer's choice: the customer claims a reward")

    class RefundAfterConversion(models.TextChoices):
        NEGATIVE_BALANCE = "negative_balance", _("book the shortfall as a negative balance")
        VOID_COUPON = "void_coupon", _("void the unused coupon, book only the rest")

    conversion_mode = models.CharField(
        max_length=10, choices=ConversionMode.choices, default=ConversionMode.AUTOMATIC
    )
    refund_after_conversion = models.CharField(
        max_length=16,
        choices=RefundAfterConversion.choices,
        default=RefundAfterConversion.NEGATIVE_BALANCE,
        help_text=_("When a refund takes back points already converted into a coupon."),
    )
    # Which parts of an order's breakdown earn points. The default base is the
    # amount after discounts, with tax, without shipping and gift-card payments.
    earn_on_discount = models.BooleanField(default=False)
    earn_on_shipping = models.BooleanField(default=False)
    earn_on_tax = models.BooleanField(default=True)
    earn_on_gift_card = models.BooleanField(default=False)
    # The merchant's local time: campaign dates, earning caps per day and month,
    # birthdays and transfer limits per month are counted in it.
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text=_("IANA name, e.g. Europe/Madrid.")
    )
    transfers_enabled = models.BooleanField(
        default=False, help_text=_("Members may give points to other members of the program.")
    )
    transfer_min_points = models.PositiveIntegerField(
        default=1, help_text=_("The fewest points one transfer may move.")
    )
    transfer_monthly_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("The most points a member may give away in a calendar month; empty: no limit."),
    )
    tier_grace_days = models.PositiveIntegerField(
        default=0,
        help_text=_(
            "Days a member keeps a tier after falling below it: points earned within the "
            "window plus these days still count toward keeping it."
        ),
    )
    tier_notice_days = models.PositiveIntegerField(
        default=14,
        help_text=_(
            "Days before a tier would be lost to tell the member what keeps it (0: never)."
        ),
    )
    point_value = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_(
            "What one point is worth in the currency; the dashboard shows the liability "
            "of outstanding points with it."
        ),
    )
    support_grant_limit = models.PositiveIntegerField(
        default=1000,
        help_text=_("The most points a support user may grant or deduct at once."),
    )
    # A typo of a few zeros is easy and costly to undo: above this the admin asks again.
    grant_confirmation_points = models.PositiveIntegerField(
        default=10_000,
        db_default=10_000,
        help_text=_(
            "Grants and deductions of more points than this are confirmed a second time "
            "in the backoffice."
        ),
    )
    # A compensation coupon a support user issues (one, or each of a batch) stays within
    # these; above them a manager issues it (rewards.services.coupons.coupon_limit_check).
    support_coupon_max_amount = amount_field(
        default=Decimal(50),
        db_default=Decimal(50),
        help_text=_(
            "The most a coupon issued by a support user may take off in all, in the "
            "program's currency: its value (a percent coupon: its maximum discount) times "
            "its uses."
        ),
    )
    support_coupon_max_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(20),
        db_default=Decimal(20),
        help_text=_(
            "The highest percentage a support user's coupon may take off; such a coupon "
            "needs a maximum discount."
        ),
    )
    support_coupon_max_days = models.PositiveIntegerField(
        default=90,
        db_default=90,
        help_text=_("The longest a coupon issued by a support user may stay valid, in days."),
    )
    support_daily_member_limit = models.PositiveIntegerField(
        default=2000,
        help_text=_(
            "The most points support users together may grant or deduct for one member in a "
            "day (the program's time zone), single changes and bulk rows alike."
        ),
    )
    support_job_limit = models.PositiveIntegerField(
        default=20_000,
        help_text=_(
            "The most points (granted and deducted together) one bulk job may move when a "
            "support user previews or starts it."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Raised by PostgreSQL triggers (migration 0014) in the same transaction as any change
    # to the program's earning rules, campaigns, tiers, reward thresholds or their coupon
    # templates; never lowered. ``loyalty.snapshot`` keys its cache on it.
    settings_version = models.BigIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(earn_rate__gte=0), name="program_earn_rate_gte_0"),
            models.CheckConstraint(
                condition=Q(transfer_min_points__gte=1), name="program_transfer_min_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(points_validity_days__isnull=True) | Q(points_validity_days__gt=0),
                name="program_validity_positive",
            ),
            models.CheckConstraint(
                condition=Q(support_coupon_max_amount__gte=0)
                & Q(support_coupon_max_percent__gte=0)
                & Q(support_coupon_max_percent__lte=100)
                & Q(support_coupon_max_days__gte=1),
                name="program_support_coupon_limits",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    """A level of a program, reached by points earned in a rolling window (and a rating).

    Tiers rank by ``min_points``; a member holds the highest one it qualifies for.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=100)
    name_i18n = TranslationsField(max_length=100, verbose_name=_("name per language"))
    min_points = models.PositiveIntegerField(
        help_text=_("Points earned within the window needed to reach this tier.")
    )
    window_days = models.PositiveIntegerField(default=90)
    min_rating = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text=_("Optional: the member's rating must be at least this."),
    )  # fmt: skip
    earn_multiplier = models.DecimalField(
        max_digits=6, decimal_places=3, default=Decimal(1),
        help_text=_("Points of future orders are multiplied by this."),
    )  # fmt: skip
    badge = models.CharField(
        max_length=50, blank=True, help_text=_("A short label or CSS colour for the badge.")
    )
    benefits = models.JSONField(
        default=list, blank=True, help_text=_("Texts shown to the member, one per benefit.")
    )
    benefits_i18n = TranslationsField(
        max_length=200, lines=True, verbose_name=_("benefits per language"),
        help_text=_("One per line, in the member's language; empty: the benefits above."),
    )  # fmt: skip
    flags = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Names integrators read from the API to open features (e.g. early_access)."),
    )
    # A coupon template of the same program: each member reaching the tier gets one coupon
    # from it, bound to them, ended when they leave (``rewards.services.perks``).
    perk = models.ForeignKey(
        "rewards.CouponTemplate", null=True, blank=True, on_delete=models.PROTECT,
        related_name="perk_tiers", verbose_name=_("perk coupon"),
        help_text=_("Members who reach this tier get a coupon from this template (for example "
                    "free shipping, 2 uses a quarter); it ends when they leave the tier."),
    )  # fmt: skip

    class Meta:
        ordering = ["program", "min_points"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="tier_name_unique"),
            models.UniqueConstraint(fields=["program", "min_points"], name="tier_points_unique"),
            models.CheckConstraint(condition=Q(window_days__gt=0), name="tier_window_positive"),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gte=1), name="tier_multiplier_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EarningRule(models.Model):
    """A way to earn beyond the earn rate, or a limit on it; ``parameters`` by ``kind``
    (checked by ``loyalty.services.earning.rule_parameters``)."""

    class Kind(models.TextChoices):
        SIGNUP = "signup", _("sign-up bonus")
        BIRTHDAY = "birthday", _("birthday bonus")
        REFERRAL = "referral", _("referral bonus")
        PRODUCT_BONUS = "product_bonus", _("product bonus")
        CATEGORY_BONUS = "category_bonus", _("category bonus")
        EXCLUSION = "exclusion", _("exclusion")
        CAP_DAY = "cap_day", _("cap per day")
        CAP_MONTH = "cap_month", _("cap per month")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="earning_rules")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    parameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "pk"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    """A time-boxed multiplier or fixed bonus on orders, dates in the program's time zone
    (both days included)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=100)
    name_i18n = TranslationsField(max_length=100, verbose_name=_("name per language"))
    active = models.BooleanField(default=True)
    start_date = models.DateField()
    end_date = models.DateField(help_text=_("The last day, included (until midnight)."))
    multiplier = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal(1))
    fixed_bonus = models.PositiveIntegerField(default=0, help_text=_("Points added per order."))
    min_order_amount = amount_field(default=Decimal(0))
    tiers = models.JSONField(
        default=list, blank=True, help_text=_("Tier names it is limited to; empty: everyone.")
    )
    segment = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('Member filter, e.g. {"locale": "es"} or {"email__endswith": "@acme.com"}.'),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-start_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="campaign_dates_ordered"
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gte=1), name="campaign_multiplier_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name
