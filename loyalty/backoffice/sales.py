"""What members bought in a date range and the range before it, for the dashboard.

Invariant: one query for both periods, whatever their length (orders grouped per member in
SQL, then counted), so the figures cost the same round trip for a week as for two years.
Every order the integrator sends belongs to a member (the API has no guest orders): the
share is what members kept of what they ordered, after refunds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.models import Order, Program

CENT = Decimal("0.01")
PERCENT = Decimal("0.1")
ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=2))


@dataclass(frozen=True)
class Sales:
    """One period's orders: how many, what they came to, and who placed them."""

    orders: int = 0
    ordered: Decimal = Decimal(0)  # the amounts sent, before refunds
    revenue: Decimal = Decimal(0)  # after refunds
    buyers: int = 0  # members with an order in the period
    repeat_buyers: int = 0  # members with two or more

    @property
    def revenue_share(self) -> Decimal | None:
        """Percent of the amounts sent that stayed after refunds."""
        if not self.ordered:
            return None
        return (self.revenue * 100 / self.ordered).quantize(PERCENT)

    @property
    def repeat_rate(self) -> Decimal | None:
        """Percent of the members who ordered that ordered again in the same period."""
        if not self.buyers:
            return None
        return (Decimal(self.repeat_buyers) * 100 / self.buyers).quantize(PERCENT)

    @property
    def average_order(self) -> Decimal | None:
        if not self.orders:
            return None
        return (self.ordered / self.orders).quantize(CENT)


def previous_range(start: date, end: date) -> tuple[date, date]:
    """The range of the same length that ends the day before ``start``."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def _moment(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def sales_compared(*, program: Program, start: date, end: date) -> tuple[Sales, Sales]:
    """This range's sales and the previous range's, in one query."""
    previous_start, _previous_end = previous_range(start, end)
    since, until, before = _moment(start), _moment(end + timedelta(days=1)), _moment(previous_start)
    now = Q(placed_at__gte=since)
    then = Q(placed_at__lt=since)
    net = F("amount") - F("refunded_amount")
    per_member = (
        Order.objects.filter(program=program, placed_at__gte=before, placed_at__lt=until)
        .values("member")
        .annotate(
            n_now=Count("pk", filter=now),
            n_then=Count("pk", filter=then),
            sent_now=Coalesce(Sum("amount", filter=now), ZERO),
            sent_then=Coalesce(Sum("amount", filter=then), ZERO),
            kept_now=Coalesce(Sum(net, filter=now), ZERO),
            kept_then=Coalesce(Sum(net, filter=then), ZERO),
        )
        .order_by()
    )
    # Aggregating over the per-member annotations makes Django wrap them in a subquery.
    row = per_member.aggregate(
        orders_now=Sum("n_now"),
        orders_then=Sum("n_then"),
        ordered_now=Sum("sent_now"),
        ordered_then=Sum("sent_then"),
        revenue_now=Sum("kept_now"),
        revenue_then=Sum("kept_then"),
        buyers_now=Count("member", filter=Q(n_now__gt=0)),
        buyers_then=Count("member", filter=Q(n_then__gt=0)),
        repeat_now=Count("member", filter=Q(n_now__gt=1)),
        repeat_then=Count("member", filter=Q(n_then__gt=1)),
    )

    def period(suffix: str) -> Sales:
        return Sales(
            orders=int(row[f"orders_{suffix}"] or 0),
            ordered=Decimal(row[f"ordered_{suffix}"] or 0).quantize(CENT),
            revenue=Decimal(row[f"revenue_{suffix}"] or 0).quantize(CENT),
            buyers=row[f"buyers_{suffix}"] or 0,
            repeat_buyers=row[f"repeat_{suffix}"] or 0,
        )

    return period("now"), period("then")
