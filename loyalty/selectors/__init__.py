"""Reads shared by the API, the admin and the profile page."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, QuerySet, Sum

from loyalty.errors import OrderNotFound
from loyalty.models import (
    BulkJob,
    BulkRow,
    Campaign,
    EarningRule,
    Feedback,
    LedgerEntry,
    Member,
    Merchant,
    OpsAlert,
    Order,
    PointLot,
    Program,
)
from loyalty.rules.conversion import next_reward
from loyalty.rules.validity import per_earning
from loyalty.selectors.tiers import tier_status
from loyalty.services.pending import member_pending_until
from rewards.selectors import thresholds_of


def points_expiring(*, member: Member) -> tuple[datetime | None, int]:
    """The next date on which any of the member's points expire, and how many then."""
    if member.balance <= 0 or member.points_expire_at is None:
        return None, 0
    if not per_earning(member.program):
        return member.points_expire_at, member.balance
    due = PointLot.objects.filter(
        member=member, remaining__gt=0, expires_at=member.points_expire_at
    ).aggregate(points=Sum("remaining"))["points"]
    return member.points_expire_at, due or 0


def member_summary(*, member: Member) -> dict[str, Any]:
    """What a member sees about their points: balance, expiry, what comes next."""
    thresholds = thresholds_of(member.program)
    tiers = tier_status(member=member)
    return {
        "external_id": member.external_id,
        "email": member.email,
        "name": member.name,
        "locale": member.locale,
        "consent": {"email": member.consent_email, "push": member.consent_push},
        "balance": member.balance,
        "pending_points": member.pending,
        "pending_until": member_pending_until(member=member),
        "tier": tiers["tier"],
        "rating": member.rating,
        **dict(
            zip(
                ("points_expire_at", "points_expiring"), points_expiring(member=member), strict=True
            )
        ),
        "next_reward": next_reward(balance=member.balance, thresholds=thresholds),
        "next_tier": tiers["next_tier"],
        "created_at": member.created_at,
    }


def member_ledger(*, member: Member) -> QuerySet[LedgerEntry]:
    """The member's entries, newest first, with what each came from (one query a page)."""
    return (
        LedgerEntry.objects.filter(member=member)
        .select_related("order", "refund", "coupon")
        .order_by("-id")
    )


def rules_describe(*, program: Program) -> list[dict[str, Any]]:
    """The program's earning rules as the API shows them (and the audit trail records)."""
    return [
        {"kind": r.kind, "name": r.name, "active": r.active, "parameters": r.parameters}
        for r in EarningRule.objects.filter(program=program).order_by("kind", "pk")
    ]


def campaigns_describe(*, program: Program) -> list[dict[str, Any]]:
    """The program's campaigns as the API shows them (and the audit trail records)."""
    return [
        {
            "name": c.name,
            "active": c.active,
            "start_date": c.start_date,
            "end_date": c.end_date,
            "multiplier": c.multiplier,
            "fixed_bonus": c.fixed_bonus,
            "min_order_amount": c.min_order_amount,
            "tiers": c.tiers,
            "segment": c.segment,
            "name_i18n": c.name_i18n,
        }
        for c in Campaign.objects.filter(program=program).order_by("start_date", "pk")
    ]


@dataclass(frozen=True)
class FeedbackSummary:
    count: int
    average: Decimal | None


def feedback_summary(*, program: Program | None = None) -> FeedbackSummary:
    """How many answers and their average rating (one decimal); all programs when None."""
    rows = Feedback.objects.all() if program is None else Feedback.objects.filter(program=program)
    found = rows.aggregate(count=Count("pk"), average=Avg("rating"))
    average = found["average"]
    return FeedbackSummary(
        count=found["count"],
        average=None if average is None else Decimal(str(average)).quantize(Decimal("0.1")),
    )


def ops_alerts(*, merchant: Merchant | None) -> QuerySet[OpsAlert]:
    """The open alerts to show on the dashboard: the merchant's, or all (superuser: None)."""
    alerts = OpsAlert.objects.filter(resolved_at__isnull=True).select_related("merchant")
    if merchant is not None:
        alerts = alerts.filter(merchant=merchant)
    return alerts.order_by("-opened_at")


def bulk_report_rows(*, job: BulkJob) -> Iterator[list[Any]]:
    """The per-row report, in line order, as CSV cells (streamed)."""
    yield ["line", "external_id", "status", "code", "detail"]
    rows = (
        BulkRow.objects.filter(job=job)
        .order_by("line")
        .values_list("line", "external_id", "status", "code", "detail")
    )
    for row in rows.iterator(chunk_size=2000):
        yield list(row)


def order_get(*, program: Program, external_id: str) -> Order:
    """The program's order of this external id, with its member, or ``OrderNotFound``."""
    order = (
        Order.objects.select_related("member")
        .filter(program=program, external_id=external_id)
        .first()
    )
    if order is None:
        raise OrderNotFound(external_id=external_id)
    return order
