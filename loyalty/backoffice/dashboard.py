"""The dashboard's figures for one program and a date range.

Invariants: a constant number of queries whatever the range (one aggregate per source,
grouped by week in SQL), so a year of a big program costs the same round trips as a week.
Everything counts in the week it happened, not the week its row was written: points and
coupons that came with an order in the week the order was placed (an integrator may send
a year of orders in one afternoon), grants, expiry and the rest when they were made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DateField, DateTimeField, F, Q, Sum
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from loyalty.backoffice.sales import Sales, previous_range, sales_compared
from loyalty.csvfiles import csv_text
from loyalty.models import LedgerEntry, Member, Program
from rewards.models import Coupon

MAX_DAYS = 731
DEFAULT_DAYS = 83  # twelve weeks with today's
# The days a range may cover: none before any program ran, none over a year ahead.
EARLIEST_DAY = date(2000, 1, 1)
FUTURE_DAYS = 366
CENT = Decimal("0.01")
# Ledger kinds shown per week, and the sign that makes each a positive figure.
LEDGER_FIGURES: dict[str, str] = {
    LedgerEntry.Kind.EARN: "earned",
    LedgerEntry.Kind.REWARD: "converted",
    LedgerEntry.Kind.EXPIRE: "expired",
    LedgerEntry.Kind.GRANT: "granted",
    LedgerEntry.Kind.DEDUCT: "deducted",
}
WEEK_COLUMNS = (
    "earned",
    "converted",
    "expired",
    "granted",
    "deducted",
    "coupons_issued",
    "coupons_redeemed",
)


@dataclass
class Week:
    start: date
    earned: int = 0
    converted: int = 0
    expired: int = 0
    granted: int = 0
    deducted: int = 0
    coupons_issued: int = 0
    coupons_redeemed: int = 0


@dataclass
class Figures:
    program: Program
    start: date
    end: date
    weeks: list[Week]
    members: int = 0
    active_members: int = 0
    members_with_points: int = 0
    outstanding_points: int = 0
    liability: Decimal | None = None
    # (name, members); the name None: members without a tier. None: nobody holds a tier.
    tiers: list[tuple[str | None, int]] | None = None
    totals: dict[str, int] = field(default_factory=dict)
    sales: Sales = field(default_factory=Sales)
    previous_sales: Sales = field(default_factory=Sales)
    previous_start: date | None = None
    previous_end: date | None = None

    @property
    def redemption_rate(self) -> Decimal | None:
        issued = self.totals.get("coupons_issued", 0)
        if not issued:
            return None
        return (Decimal(self.totals.get("coupons_redeemed", 0)) * 100 / issued).quantize(
            Decimal("0.1")
        )


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def dashboard_range(start: str | None, end: str | None) -> tuple[date, date]:
    """The range asked (``YYYY-MM-DD``), or the last twelve weeks; at most two years, from
    ``EARLIEST_DAY`` to a year from today (a day outside is moved to the nearest of them, so
    date arithmetic never leaves the calendar)."""
    today = timezone.localdate()
    latest = today + timedelta(days=FUTURE_DAYS)

    def clamp(day: date) -> date:
        return min(max(day, EARLIEST_DAY), latest)

    end_day = clamp(_day(end) or today)
    asked = _day(start)
    start_day = clamp(asked) if asked else end_day - timedelta(days=DEFAULT_DAYS)
    if start_day > end_day:
        start_day, end_day = end_day, start_day
    if (end_day - start_day).days > MAX_DAYS:
        start_day = end_day - timedelta(days=MAX_DAYS)
    return max(start_day, EARLIEST_DAY), end_day


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _occurred() -> Coalesce:
    """When a ledger entry or a coupon happened: its order's placing, else its writing."""
    return Coalesce("order__placed_at", "created_at", output_field=DateTimeField())


def _weekly(program: Program, start: date, end: date) -> list[Week]:
    """The weeks from ``start`` to ``end``: ledger points by kind, coupons issued and used
    (two grouped queries)."""
    since, until = _bounds(start, end)
    first_week = start - timedelta(days=start.weekday())
    weeks = {
        first_week + timedelta(weeks=n): Week(first_week + timedelta(weeks=n))
        for n in range((end - first_week).days // 7 + 1)
    }
    week = TruncWeek("occurred", output_field=DateField())

    ledger = (
        LedgerEntry.objects.filter(
            program=program,
            # An entry is written when (or after) its order was placed: this bound keeps
            # the (program, created_at) index in play for the usual recent range.
            created_at__gte=since,
            kind__in=list(LEDGER_FIGURES),
        )
        .annotate(occurred=_occurred())
        .filter(occurred__gte=since, occurred__lt=until)
        .annotate(week=week)
        .values("week", "kind")
        .annotate(points=Sum("points"))
        .order_by()
    )
    for row in ledger:
        bucket = weeks.get(row["week"])
        if bucket is not None:
            setattr(bucket, LEDGER_FIGURES[row["kind"]], abs(int(row["points"] or 0)))

    coupons = (
        Coupon.objects.filter(program=program, created_at__gte=since)
        .annotate(occurred=_occurred())
        .filter(occurred__gte=since, occurred__lt=until)
        .annotate(week=week)
        .values("week")
        .annotate(issued=Count("pk"), redeemed=Count("pk", filter=Q(uses_count__gt=0)))
        .order_by()
    )
    for counted in coupons:
        bucket = weeks.get(counted["week"])
        if bucket is not None:
            bucket.coupons_issued = counted["issued"]
            bucket.coupons_redeemed = counted["redeemed"]
    return sorted(weeks.values(), key=lambda w: w.start)


def _tiers(program: Program) -> list[tuple[str | None, int]] | None:
    """Members per tier, lowest first (None: no tier); None when nobody holds a tier (the
    program has none, or none reached yet)."""
    per_tier: list[tuple[str | None, int]] = [
        (row["tier__name"], row["count"])
        for row in Member.objects.filter(program=program)
        .values("tier__name", "tier__min_points")
        .annotate(count=Count("pk"))
        .order_by(F("tier__min_points").asc(nulls_first=True))
    ]
    if not any(name for name, _count in per_tier):
        return None
    return per_tier


def dashboard_figures(*, program: Program, start: date, end: date) -> Figures:
    """Points earned, converted, expired, granted per week; coupons issued and redeemed;
    members, active members, tiers; outstanding points and their liability."""
    members = Member.objects.filter(program=program).aggregate(
        members=Count("pk"),
        with_points=Count("pk", filter=Q(balance__gt=0)),
        outstanding=Sum("balance", filter=Q(balance__gt=0)),
    )
    sales, previous_sales = sales_compared(program=program, start=start, end=end)
    previous_start, previous_end = previous_range(start, end)
    outstanding = int(members["outstanding"] or 0)
    weeks = _weekly(program, start, end)
    return Figures(
        program=program,
        start=start,
        end=end,
        weeks=weeks,
        members=members["members"],
        active_members=sales.buyers,
        members_with_points=members["with_points"],
        outstanding_points=outstanding,
        liability=(outstanding * program.point_value).quantize(CENT)
        if program.point_value is not None
        else None,
        tiers=_tiers(program),
        totals={name: sum(getattr(w, name) for w in weeks) for name in WEEK_COLUMNS},
        sales=sales,
        previous_sales=previous_sales,
        previous_start=previous_start,
        previous_end=previous_end,
    )


def figures_csv(figures: Figures) -> str:
    """The same figures as CSV: one line per week, then the totals and the snapshot."""
    rows: list[list[Any]] = [["week", *WEEK_COLUMNS]]
    for week in figures.weeks:
        rows.append([week.start.isoformat(), *(getattr(week, c) for c in WEEK_COLUMNS)])
    rows.append(["total", *(figures.totals[c] for c in WEEK_COLUMNS)])
    rows.append([])
    summary: list[tuple[str, Any]] = [
        ("from", figures.start.isoformat()),
        ("to", figures.end.isoformat()),
        ("previous_from", _blank(figures.previous_start)),
        ("previous_to", _blank(figures.previous_end)),
        ("members", figures.members),
        ("active_members", figures.active_members),
        ("members_with_points", figures.members_with_points),
        ("outstanding_points", figures.outstanding_points),
        ("liability", "" if figures.liability is None else figures.liability),
        ("currency", figures.program.currency),
        ("redemption_rate_percent", _blank(figures.redemption_rate)),
    ]
    for label, sales in (("", figures.sales), ("previous_", figures.previous_sales)):
        summary.extend(
            [
                (f"{label}orders", sales.orders),
                (f"{label}ordered", sales.ordered),
                (f"{label}revenue", sales.revenue),
                (f"{label}revenue_share_percent", _blank(sales.revenue_share)),
                (f"{label}repeat_purchase_rate_percent", _blank(sales.repeat_rate)),
                (f"{label}average_order", _blank(sales.average_order)),
            ]
        )
    for name, count in figures.tiers or []:
        summary.append((f"tier:{name}" if name else "no_tier", count))
    rows.extend([name, value] for name, value in summary)
    return csv_text(rows)


def _blank(value: Any) -> Any:
    return "" if value is None else value
