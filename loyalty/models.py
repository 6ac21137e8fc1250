"""Merchants, programs, members, orders and the points ledger.

The invariant this module keeps with the database's help: a member's
``balance`` equals the sum of its ledger entries, and each entry's
``balance_after`` equals the previous one plus its ``points``. Ledger rows are
never updated or deleted (a PostgreSQL trigger refuses it, see migration 0002);
a mistake is corrected by a new entry.
"""

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def amount_field(**kwargs: Any) -> models.DecimalField:
    """Money: exact Decimal, enough places for any currency's minor unit (at most 3)."""
    return models.DecimalField(max_digits=16, decimal_places=3, **kwargs)


def default_reminder_offsets() -> list[int]:
    return [60, 30, 14, 7]


DEFAULT_BRAND_COLOUR = "#0f766e"


class Merchant(models.Model):
    """A tenant: a shop with its own program, staff, members and API keys."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    brand_colour = models.CharField(
        max_length=7,
        default=DEFAULT_BRAND_COLOUR,
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour like #0f766e (# and six hex digits)."))
        ],
        help_text=_("The accent colour of the customer profile page, e.g. #0f766e."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A login. Staff users belong to one merchant and see only its data; superusers see all."""

    class Role(models.TextChoices):
        VIEWER = "viewer", _("viewer: reads only")
        SUPPORT = "support", _("support: grants up to the program's limit, compensation coupons")
        MANAGER = "manager", _("manager: everything of the merchant")

    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    # What a merchant's staff user may do in the backoffice (loyalty.services.roles).
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MANAGER)


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


def _where_set(field: str, name: str) -> list[models.Index]:
    """An index on a nullable foreign key over the rows that have it set: a look-up or a
    delete's check by that key uses it, and the many rows without one cost nothing."""
    return [models.Index(fields=[field], condition=Q(**{f"{field}__isnull": False}), name=name)]


class Member(models.Model):
    """A customer of one program, known to the integrator by ``external_id``.

    Every order rewrites its member's row, and with ``points_expire_at`` (indexed) changing
    each index gets a new entry: so no index here that another covers (``program``: the
    external-id key), and the foreign keys most members leave empty are indexed only where
    set.
    """

    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="members", db_index=False
    )
    external_id = models.CharField(max_length=191)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=10, default="en")
    consent_email = models.BooleanField(default=False)
    consent_push = models.BooleanField(default=False)
    # Cached sum of the member's ledger entries; written only by loyalty.services.ledger.
    balance = models.BigIntegerField(default=0, editable=False)
    # Cached sum of the member's pending earnings (not yet in the balance); written only by
    # loyalty.services.pending.
    pending = models.BigIntegerField(default=0, db_default=0, editable=False)
    points_expire_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_order_at = models.DateTimeField(null=True, blank=True, editable=False)
    birth_date = models.DateField(null=True, blank=True)
    # Who brought this member in; the referral bonus is paid on the member's first order.
    referred_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="referrals",
        db_index=False,
    )  # fmt: skip
    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="member"
    )
    # Tiers (loyalty.services.tiers writes these): the tier in force, an override by staff
    # (``tier`` is the override's tier while ``tier_override_until`` is ahead).
    tier = models.ForeignKey(
        "Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
        editable=False, db_index=False,
    )  # fmt: skip
    tier_since = models.DateTimeField(null=True, blank=True, editable=False)
    rating = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text=_("The member's rating as the shop sends it (a tier may require one)."),
    )  # fmt: skip
    tier_override = models.ForeignKey(
        "Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        editable=False, db_index=False,
    )  # fmt: skip
    tier_override_reason = models.TextField(blank=True, editable=False)
    tier_override_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The public badge card: an unguessable token, shown only while the member allows it.
    badge_token = models.CharField(max_length=43, null=True, blank=True, editable=False)
    badge_enabled = models.BooleanField(default=False, editable=False)
    # Raised when every way into the profile page must end (the email changed): a profile
    # session carries the value it was made with and is over once they differ.
    sign_in_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"], name="member_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(pending__gte=0), name="member_pending_gte_0"),
            models.UniqueConstraint(
                fields=["badge_token"],
                condition=Q(badge_token__isnull=False),
                name="member_badge_token_unique",
            ),  # fmt: skip
        ]
        indexes = [
            models.Index(fields=["program", "email"], name="member_email_idx"),
            *_where_set("referred_by", "member_referred_by_idx"),
            *_where_set("tier", "member_tier_idx"),
            *_where_set("tier_override", "member_tier_override_idx"),
            # The expiry job and reminders find due members through this (a partial index:
            # members without a date cost nothing).
            models.Index(
                fields=["points_expire_at", "id"],
                condition=Q(points_expire_at__isnull=False),
                name="member_expire_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.external_id


class Tier(models.Model):
    """A level of a program, reached by points earned in a rolling window (and a rating).

    Tiers rank by ``min_points``; a member holds the highest one it qualifies for.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=100)
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
    flags = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Names integrators read from the API to open features (e.g. early_access)."),
    )

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


class TierChange(models.Model):
    """One change of a member's tier: from what to what, why, when and by whom."""

    class Kind(models.TextChoices):
        UP = "up", _("up")
        DOWN = "down", _("down")
        OVERRIDE = "override", _("override by staff")
        OVERRIDE_END = "override_end", _("override ended")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    # The names as they were: a tier renamed or removed later does not rewrite history.
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_name = models.CharField(max_length=100, blank=True)
    to_name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    reason = models.TextField()
    until = models.DateTimeField(null=True, blank=True, help_text=_("An override's end."))
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="tier_changes"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["member", "-id"], name="tierchange_member_idx")]

    def __str__(self) -> str:
        return f"{self.from_name or '-'} -> {self.to_name or '-'} ({self.kind})"


class Order(models.Model):
    """An integrator's paid order. Points are earned once, when it is recorded."""

    class Status(models.TextChoices):
        PAID = "paid", _("paid")
        PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
        REFUNDED = "refunded", _("refunded")

    # Not indexed alone: order_external_id_unique and order_member_placed_idx lead with them.
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    external_id = models.CharField(max_length=191)
    amount = amount_field()
    currency = models.CharField(max_length=3)
    discount = amount_field(default=Decimal(0))
    shipping = amount_field(default=Decimal(0))
    tax = amount_field(default=Decimal(0))
    paid_with_gift_card = amount_field(default=Decimal(0))
    points_base = amount_field()
    # [{sku, category, quantity, amount}] as sent; empty when the order carried no lines.
    lines = models.JSONField(default=list, blank=True)
    # How the points were computed (``loyalty.services.earning.EarnBreakdown.as_dict``).
    earning = models.JSONField(default=dict, blank=True, editable=False)
    # The rate in force when the order earned: refunds reverse at this rate, not today's.
    earn_rate = models.DecimalField(max_digits=10, decimal_places=4)
    points_earned = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PAID)
    refunded_amount = amount_field(default=Decimal(0))
    points_reversed = models.BigIntegerField(default=0)
    balance_after = models.BigIntegerField(
        help_text=_("The member's balance right after this order.")
    )
    placed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    # sha256 of the request's fields: the same external_id with other data is a conflict.
    fingerprint = models.CharField(max_length=64, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"], name="order_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_amount_positive"),
            models.CheckConstraint(condition=Q(points_base__gte=0), name="order_base_gte_0"),
            models.CheckConstraint(condition=Q(points_earned__gte=0), name="order_points_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("amount")),
                name="order_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(points_reversed__gte=0)
                & Q(points_reversed__lte=models.F("points_earned")),
                name="order_reversal_within_earned",
            ),
        ]
        indexes = [models.Index(fields=["member", "-placed_at"], name="order_member_placed_idx")]

    def __str__(self) -> str:
        return f"#{self.external_id}"

    @property
    def refundable_amount(self) -> Decimal:
        return self.amount - self.refunded_amount


class Refund(models.Model):
    """A (partial) refund of an order; it takes back the proportional share of its points."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    external_id = models.CharField(max_length=191)
    amount = amount_field()
    # All the points this refund took back: ``pending_cancelled`` of them were still pending
    # (they never reached the balance), the rest came off the balance as a reversal entry.
    points_reversed = models.BigIntegerField(default=0)
    pending_cancelled = models.BigIntegerField(default=0, db_default=0)
    balance_after = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], name="refund_per_order_unique"
            ),
            models.CheckConstraint(
                condition=Q(pending_cancelled__gte=0)
                & Q(pending_cancelled__lte=models.F("points_reversed")),
                name="refund_pending_within_reversed",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=Q(points_reversed__gte=0), name="refund_points_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.order})"


class LedgerEntry(models.Model):
    """One change of a member's points, with the reason a person can read. Append-only."""

    class Kind(models.TextChoices):
        EARN = "earn", _("earned")
        REWARD = "reward", _("converted into a reward")
        EXPIRE = "expire", _("expired")
        GRANT = "grant", _("granted")
        DEDUCT = "deduct", _("deducted")
        REVERSAL = "reversal", _("reversed by a refund")
        ADJUSTMENT = "adjustment", _("adjustment")
        BONUS = "bonus", _("bonus")
        TRANSFER_IN = "transfer_in", _("transfer received")
        TRANSFER_OUT = "transfer_out", _("transfer given")

    # Not indexed alone: ledger_key_per_member_unique and ledger_member_newest_idx lead with it.
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="ledger", db_index=False
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    points = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reason = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    # Set on few entries: indexed only where set (ledger_*_idx below).
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries",
        db_index=False,
    )  # fmt: skip
    coupon = models.ForeignKey(
        "rewards.Coupon", null=True, blank=True, on_delete=models.PROTECT,
        related_name="ledger_entries", db_index=False,
    )  # fmt: skip
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries",
        db_index=False,
    )  # fmt: skip
    # Room for a prefix such as "grant:" before a client's 255-character Idempotency-Key.
    idempotency_key = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["member", "idempotency_key"], name="ledger_key_per_member_unique"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["earn", "grant", "bonus", "transfer_in"], points__gt=0)
                    | Q(
                        kind__in=["reward", "expire", "deduct", "reversal", "transfer_out"],
                        points__lt=0,
                    )
                    | (Q(kind="adjustment") & ~Q(points=0))
                ),
                name="ledger_points_sign_by_kind",
            ),
            # Only a refund may push a balance below zero (it takes back points already
            # spent); any other entry that removes points must leave the balance >= 0.
            models.CheckConstraint(
                condition=Q(balance_after__gte=0) | Q(points__gt=0) | Q(kind="reversal"),
                name="ledger_balance_never_below_zero",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="ledger_reason_required"),
        ]
        indexes = [
            models.Index(fields=["member", "-id"], name="ledger_member_newest_idx"),
            *_where_set("refund", "ledger_refund_idx"),
            *_where_set("coupon", "ledger_coupon_idx"),
            *_where_set("created_by", "ledger_created_by_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} {self.kind} ({self.member})"


class PointLot(models.Model):
    """Points of one earning with their own expiry date (programs whose orders do not reset
    the validity). Spending takes the lots that expire first; ``remaining`` is what is left.

    Invariant: the remaining points of a member's lots sum to max(balance, 0).
    """

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="lots")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="lot")
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("points")),
                name="lot_remaining_within_points",
            ),
        ]
        indexes = [
            models.Index(
                fields=["member", "expires_at", "id"],
                condition=Q(remaining__gt=0),
                name="lot_live_idx",
            ),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="lot_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} until {self.expires_at}"


class PendingEarning(models.Model):
    """An order's points during the program's return window: not in the balance yet.

    ``points`` is what is still pending (a refund inside the window lowers it); when the
    window ends the release job writes them as the order's ``earn`` entry (``entry``) and
    the row becomes released. Rows change only with their member locked.

    Invariant: ``member.pending`` is the sum of ``points`` of the member's pending rows.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RELEASED = "released", _("released")
        CANCELLED = "cancelled", _("cancelled by refunds")

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="pending_earnings")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="pending_earning")
    points = models.BigIntegerField()
    # Taken off by refunds inside the window (they never reached the balance).
    cancelled = models.BigIntegerField(default=0)
    available_at = models.DateTimeField()
    # How the order earned them, for the ledger entry the release writes.
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="pending"
    )
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=0) & Q(cancelled__gte=0), name="pending_points_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(status="released", entry__isnull=False, points__gt=0)
                | (~Q(status="released") & Q(entry__isnull=True)),
                name="pending_released_has_entry",
            ),
        ]
        indexes = [
            # The release job finds due rows through this; released ones cost nothing.
            models.Index(
                fields=["available_at", "member"],
                condition=Q(status="pending"),
                name="pending_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points} pending until {self.available_at} ({self.order})"


class ApiKey(models.Model):
    """An integrator's key. Only its sha256 is stored; the key itself is shown once."""

    class Scope(models.TextChoices):
        ORDERS = "orders", _("orders, refunds, member reads")
        CHECKOUT = "checkout", _("coupon validate, redeem, release")
        MANAGE = "manage", _("program configuration, grants")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False, help_text=_("To recognise the key."))
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an Idempotency-Key, replayed to its retries."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    # JSON as text, not jsonb: an answer may echo what it refused, NUL characters included,
    # and jsonb cannot hold "\u0000".
    response = models.TextField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key


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


class Transfer(models.Model):
    """Points given by one member to another of the same program, once per ``key``."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="transfers")
    sender = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="transfers_out")
    recipient = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="transfers_in")
    points = models.BigIntegerField()
    note = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="transfer_key_unique"),
            models.CheckConstraint(condition=Q(points__gt=0), name="transfer_points_positive"),
            models.CheckConstraint(
                condition=~Q(sender=models.F("recipient")), name="transfer_not_to_self"
            ),
        ]
        indexes = [models.Index(fields=["sender", "created_at"], name="transfer_sender_idx")]

    def __str__(self) -> str:
        return f"{self.points} {self.sender} -> {self.recipient}"


class Feedback(models.Model):
    """A member's rating of the program and the rewards they would value."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="feedback")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField()
    wanted_rewards = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 {self.member}"


class ProfileToken(models.Model):
    """A one-time sign-in to the profile page: an emailed link or a shop's deep link.

    Only the sha256 of the secret is stored. A token signs in once: it is spent by a
    single conditional UPDATE (``used_at IS NULL AND expires_at > now``), so of any
    number of concurrent uses exactly one succeeds.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("email link")
        LINK = "link", _("shop deep link")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="profile_tokens")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="profile_token_expires_idx")]

    def __str__(self) -> str:
        return f"{self.kind} token of {self.member_id}"


class AuditEntry(models.Model):
    """A staff action that changed money-like data: who, when, what changed, why.

    Append-only like the ledger: PostgreSQL refuses UPDATE and DELETE (migration 0010).
    ``actor_name`` keeps the username readable even if the login is renamed.
    """

    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="audit_merchant_newest_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_repr} by {self.actor_name or '-'}"


class BulkJob(models.Model):
    """A bulk operation from a CSV: previewed, then run by a Celery task with progress.

    Each row is a ``BulkRow``; a row is done in the same transaction as its effect,
    so running the job again (a retry, a second worker) carries on where it stopped.
    """

    class Kind(models.TextChoices):
        POINTS = "points", _("grant or deduct points")
        COUPONS = "coupons", _("issue compensation coupons")
        MEMBERS = "members", _("import members")

    class Status(models.TextChoices):
        PREVIEW = "preview", _("preview")
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="bulk_jobs")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="bulk_jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    file_name = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Who previewed it (uploaded the file), and who started it: the rows run as the one who
    # started the job last, with that person's role and limits.
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="bulk_jobs"
    )
    started_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bulk job")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.processed * 100 / self.total)


class BulkRow(models.Model):
    """One line of a bulk job's CSV, with what happened to it."""

    class Status(models.TextChoices):
        READY = "ready", _("ready")
        INVALID = "invalid", _("invalid")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()
    external_id = models.CharField(max_length=191, blank=True)
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    code = models.CharField(max_length=40, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "line"], name="bulk_row_line_unique"),
        ]
        indexes = [models.Index(fields=["job", "status", "line"], name="bulk_row_todo_idx")]

    def __str__(self) -> str:
        return f"{self.line}: {self.external_id} ({self.status})"


class OpsAlert(models.Model):
    """Something wrong with how a merchant's program runs (not with one customer), seen by the
    scheduled check: the ledger disagrees with a balance, or the outboxes are not draining.

    At most one open alert per merchant and kind; the check closes it when the problem is
    gone, and a new one opens (and emails again) if it comes back.
    """

    class Kind(models.TextChoices):
        LEDGER_MISMATCH = "ledger_mismatch", _("ledger mismatch")
        OUTBOX_BACKLOG = "outbox_backlog", _("outbox backlog")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="ops_alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    count = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="ops_alert_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.count})"
