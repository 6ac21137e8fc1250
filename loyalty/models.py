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
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def amount_field(**kwargs: Any) -> models.DecimalField:
    """Money: exact Decimal, enough places for any currency's minor unit (at most 3)."""
    return models.DecimalField(max_digits=16, decimal_places=3, **kwargs)


def default_reminder_offsets() -> list[int]:
    return [60, 30, 14, 7]


class Merchant(models.Model):
    """A tenant: a shop with its own program, staff, members and API keys."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A login. Staff users belong to one merchant and see only its data; superusers see all."""

    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )


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
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(earn_rate__gte=0), name="program_earn_rate_gte_0"),
            models.CheckConstraint(
                condition=Q(points_validity_days__isnull=True) | Q(points_validity_days__gt=0),
                name="program_validity_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """A customer of one program, known to the integrator by ``external_id``."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="members")
    external_id = models.CharField(max_length=191)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=10, default="en")
    consent_email = models.BooleanField(default=False)
    consent_push = models.BooleanField(default=False)
    # Cached sum of the member's ledger entries; written only by loyalty.services.ledger.
    balance = models.BigIntegerField(default=0, editable=False)
    points_expire_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_order_at = models.DateTimeField(null=True, blank=True, editable=False)
    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="member"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"], name="member_external_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["program", "email"], name="member_email_idx"),
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


class Order(models.Model):
    """An integrator's paid order. Points are earned once, when it is recorded."""

    class Status(models.TextChoices):
        PAID = "paid", _("paid")
        PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
        REFUNDED = "refunded", _("refunded")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="orders")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=191)
    amount = amount_field()
    currency = models.CharField(max_length=3)
    discount = amount_field(default=Decimal(0))
    shipping = amount_field(default=Decimal(0))
    tax = amount_field(default=Decimal(0))
    paid_with_gift_card = amount_field(default=Decimal(0))
    points_base = amount_field()
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
    points_reversed = models.BigIntegerField(default=0)
    balance_after = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], name="refund_per_order_unique"
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

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    points = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reason = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    coupon = models.ForeignKey(
        "rewards.Coupon",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
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
                    Q(kind__in=["earn", "grant"], points__gt=0)
                    | Q(kind__in=["reward", "expire", "deduct", "reversal"], points__lt=0)
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
        indexes = [models.Index(fields=["member", "-id"], name="ledger_member_newest_idx")]

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
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key


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
