"""What a member sees of tiers: where they stand, what keeps their tier, their history, and
the public badge card."""

from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from loyalty.models import Member, Order, Tier, TierChange
from loyalty.rules import tiers as tier_rules
from loyalty.services.tier_job import keep_ask, tier_keep
from loyalty.services.tiers import program_tiers
from loyalty.storage import accounts


def tier_status(*, member: Member, now: datetime | None = None) -> dict[str, Any]:
    """``{"tier": ..., "next_tier": ...}`` as ``member_summary`` shows them (INTERFACES.md).

    Two queries: the program's tiers, then the member's standing in the current tier's keep
    window and the points of the next tier's window, summed by PostgreSQL (one row however
    many orders the windows hold).
    """
    now = now or timezone.now()
    tiers = program_tiers(member.program)
    if not tiers:
        return {"tier": None, "next_tier": None}
    grace = member.program.tier_grace_days
    current = next((t for t in tiers if t.pk == member.tier_id), None)
    above = [t for t in tiers if t.min_points > tier_rules.rank(current)]
    nxt = above[0] if above else None
    overridden = member.tier_override_until is not None and member.tier_override_until > now
    ask = keep_ask(tier=None if overridden else current, grace=grace, now=now, count=nxt)
    standing = accounts.keep_standings(asks={member.pk: ask})[member.pk]
    tier: dict[str, Any] | None = None
    if current is not None:
        if overridden:
            assert member.tier_override_until is not None
            safe_until: date | None = timezone.localdate(member.tier_override_until)
            keep = None
        else:
            safe_until, keep = tier_keep(tier=current, standing=standing, grace=grace, now=now)
        tier = {
            "name": current.name,
            # Per language beside the base values (``loyalty.content.localized_attr``).
            "name_i18n": dict(current.name_i18n),
            "badge": current.badge,
            "benefits": list(current.benefits),
            "benefits_i18n": dict(current.benefits_i18n),
            "flags": list(current.flags),
            "earn_multiplier": current.earn_multiplier,
            "since": member.tier_since,
            "safe_until": safe_until,
            "keep": {"points_needed": keep.points_needed, "by": keep.by} if keep else None,
            "override_until": member.tier_override_until if overridden else None,
        }
    next_tier = None
    if nxt is not None:
        points = standing.counted
        next_tier = {
            "name": nxt.name,
            "name_i18n": dict(nxt.name_i18n),
            "min_points": nxt.min_points,
            "points_missing": max(nxt.min_points - points, 0),
            "window_points": points,
            "min_rating": nxt.min_rating,
        }
    return {"tier": tier, "next_tier": next_tier}


def tier_history(*, member: Member) -> QuerySet[TierChange]:
    return TierChange.objects.filter(member=member).select_related("created_by").order_by("-id")


# --- the badge card -----------------------------------------------------------------------


def badge_card(*, member: Member) -> dict[str, Any]:
    """What the public card shows: the tier, how many orders, member since. No name, no
    contact, no points."""
    tier = Tier.objects.filter(pk=member.tier_id).first() if member.tier_id else None
    orders = Order.objects.filter(member=member).exclude(status=Order.Status.REFUNDED).count()
    return {
        "enabled": member.badge_enabled,
        "token": member.badge_token if member.badge_enabled else None,
        "tier": tier.name if tier else None,
        # The tier's name in the reader's language (the page's ``localized`` filter).
        "tier_i18n": dict(tier.name_i18n) if tier else {},
        "badge": tier.badge if tier else "",
        # Only a real colour reaches the page's style attribute.
        "colour": tier.badge if tier and tier_rules.COLOUR.fullmatch(tier.badge) else None,
        "orders": orders,
        "member_since": timezone.localdate(_member_since(member)),
        "merchant": member.program.merchant.name,
    }


def _member_since(member: Member) -> datetime:
    """The member's first order or the row's creation, whichever is earlier: a shop that
    sends its past orders later still shows when the customer began (one index read)."""
    first = (
        Order.objects.filter(member=member)
        .order_by("placed_at")
        .values_list("placed_at", flat=True)
        .first()
    )
    return min(first, member.created_at) if first is not None else member.created_at


def badge_card_member(*, token: str) -> Member | None:
    """The member whose card this is, if it is turned on."""
    if not token or len(token) > 43:
        return None
    return (
        Member.objects.select_related("program__merchant")
        .filter(badge_token=token, badge_enabled=True)
        .first()
    )


# --- definitions --------------------------------------------------------------------------
