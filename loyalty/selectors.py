"""Reads shared by the API, the admin and the profile page."""

from typing import Any

from django.db.models import QuerySet

from loyalty.models import LedgerEntry, Member
from rewards.services.conversion import next_reward, thresholds_of


def member_summary(*, member: Member) -> dict[str, Any]:
    """What a member sees about their points: balance, expiry, what comes next."""
    thresholds = thresholds_of(member.program)
    return {
        "external_id": member.external_id,
        "email": member.email,
        "name": member.name,
        "locale": member.locale,
        "consent": {"email": member.consent_email, "push": member.consent_push},
        "balance": member.balance,
        "tier": None,
        "points_expire_at": member.points_expire_at if member.balance > 0 else None,
        "next_reward": next_reward(member=member, thresholds=thresholds),
        "next_tier": None,
        "created_at": member.created_at,
    }


def member_ledger(*, member: Member) -> QuerySet[LedgerEntry]:
    """The member's entries, newest first, with what each came from (one query a page)."""
    return (
        LedgerEntry.objects.filter(member=member)
        .select_related("order", "refund", "coupon")
        .order_by("-id")
    )
