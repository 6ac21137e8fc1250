"""Orders and the points ledger.

The invariant this module keeps with the database's help: a member's
``balance`` equals the sum of its ledger entries, and each entry's
``balance_after`` equals the previous one plus its ``points``. Ledger rows are
never updated or deleted (a PostgreSQL trigger refuses it, see ``LedgerEntry``);
a mistake is corrected by a new entry.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.base import User, amount_field, append_only, where_set
from loyalty.models.members import Member
from loyalty.models.program import Program


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

    # The tenant, on every row the order path writes (not only through a join): the
    # dashboard and exports filter by it, and a PostgreSQL sharded by program takes the
    # table as it is (docs/architecture.md).
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", db_index=False)
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
        indexes = [models.Index(fields=["program", "created_at"], name="refund_program_idx")]

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

    # The tenant, on every row the order path writes (not only through a join): the
    # dashboard and exports filter by it, and a PostgreSQL sharded by program takes the
    # table as it is (docs/architecture.md).
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", db_index=False)
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
            models.Index(fields=["program", "created_at"], name="ledger_program_created_idx"),
            # A tier window's entries without an order (``storage.accounts``), by when written.
            models.Index(
                fields=["member", "created_at"],
                condition=Q(order__isnull=True),
                name="ledger_member_orderless_idx",
            ),
            *where_set("refund", "ledger_refund_idx"),
            *where_set("coupon", "ledger_coupon_idx"),
            *where_set("created_by", "ledger_created_by_idx"),
        ]
        # Corrections are new entries that point at what they correct.
        triggers = [append_only("; correct with a new entry")]

    def __str__(self) -> str:
        return f"{self.points:+d} {self.kind} ({self.member})"


# What counts toward tiers (``loyalty.rules.tiers``; the storage layer counts it in SQL): these
# kinds, and grants whose details carry the flag set to true.
TIER_COUNTING_KINDS = (LedgerEntry.Kind.EARN.value, LedgerEntry.Kind.REVERSAL.value)
TIER_COUNTING_GRANT_FLAG = "counts_for_tier"


class TierDay(models.Model):
    """A member's points that count toward tiers, summed by the UTC day they count from (an
    order's entries from its placing, others from their writing). ``ledger_append`` adds
    each counting entry to its day, so a tier window reads a row a day and only its first
    day entry by entry (``storage.accounts``), however many orders the member placed.

    Invariant: each row equals the sum of the member's counting entries of its day
    (``ledger_audit`` checks it).
    """

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    points = models.BigIntegerField()

    class Meta:
        # Led by the member and its days (the windows read a range of them); the program is
        # in the key as every sharded table's is (docs/architecture.md).
        constraints = [
            models.UniqueConstraint(fields=["member", "day", "program"], name="tier_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} on {self.day} ({self.member_id})"


class PointLot(models.Model):
    """Points of one earning with their own expiry date (programs whose orders do not reset
    the validity). Spending takes the lots that expire first; ``remaining`` is what is left.

    Invariant: the remaining points of a member's lots sum to max(balance, 0).
    """

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", db_index=False)
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

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", db_index=False)
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
