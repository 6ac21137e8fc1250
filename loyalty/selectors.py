"""Reads shared by the API, the admin and the profile page."""

from datetime import datetime
from typing import Any

from django.db.models import QuerySet, Sum

from loyalty.models import LedgerEntry, Member, PointLot
from loyalty.rules.conversion import next_reward
from loyalty.rules.validity import per_earning
from loyalty.services.pending import member_pending_until
from loyalty.services.tiers import tier_status
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
