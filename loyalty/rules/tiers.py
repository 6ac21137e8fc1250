"""What counts for a tier, and which tier a member's points reach: plain functions.

- Only earned points count: order earnings from the moment the order was *placed*, less
  what refunds took back; grants only when sent with ``counts_for_tier: true``
  (``TIER_COUNTING_KINDS``, ``TIER_COUNTING_GRANT_FLAG``: the storage layer counts the same
  in SQL).
- A tier is reached by the points of its window (``window_days``), and a minimum rating
  where it asks for one; the highest tier reached wins.
- Up at once (an order, a grant); down only by the daily evaluation, which keeps tiers up
  to the one held with a grace period.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from loyalty.models import TIER_COUNTING_GRANT_FLAG, TIER_COUNTING_KINDS


class TierLike(Protocol):
    pk: Any
    name: str
    min_points: int
    window_days: int
    min_rating: Decimal | None
    earn_multiplier: Decimal


T = TypeVar("T", bound=TierLike)


# A tier's badge colour, as staff may give it (``#0f766e``); only such a colour reaches a page.
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")

# Flags with a meaning of their own (any other name is the integrator's to read). Only a tier
# with ``BADGE_CARD`` offers its members the public badge card on their profile page.
EARLY_ACCESS = "early_access"
FREE_SHIPPING = "free_shipping"
BADGE_CARD = "badge_card"
KNOWN_FLAGS = (EARLY_ACCESS, FREE_SHIPPING, BADGE_CARD)


def counts(kind: str, details: dict[str, Any]) -> bool:
    """Whether a ledger entry of this kind (and details) counts toward tiers."""
    return kind in TIER_COUNTING_KINDS or (
        kind == "grant" and details.get(TIER_COUNTING_GRANT_FLAG) is True
    )


def window_add(window: dict[int, int], *, points: int, at: datetime, now: datetime) -> None:
    """Add counting points dated ``at`` to window sums (``{days: points}`` as of ``now``)."""
    for days in window:
        if at >= now - timedelta(days=days):
            window[days] += points


def windows_of(tiers: Iterable[TierLike], *, grace: int = 0) -> set[int]:
    """The windows (in days) the tiers are judged on, with the grace period's too."""
    days = {t.window_days for t in tiers}
    return days | {d + grace for d in days} if grace else days


def rating_ok(tier: TierLike, rating: Decimal | None) -> bool:
    return tier.min_rating is None or (rating is not None and rating >= tier.min_rating)


def target(
    tiers: list[T], sums: dict[int, int], rating: Decimal | None, *, held: T | None, grace: int
) -> T | None:
    """The highest tier (``tiers`` lowest first) the member qualifies for. Tiers up to the one
    ``held`` are kept with the grace period; tiers above it must be reached in their window."""
    held_points = held.min_points if held is not None else -1
    for tier in reversed(tiers):
        days = tier.window_days + (grace if tier.min_points <= held_points else 0)
        if sums.get(days, 0) >= tier.min_points and rating_ok(tier, rating):
            return tier
    return None


def rank(tier: TierLike | None) -> int:
    return -1 if tier is None else tier.min_points


def up(tiers: list[T], sums: dict[int, int], rating: Decimal | None, current: T | None) -> T | None:
    """The tier an earning lifts the member to at once, or None: never down."""
    reached = target(tiers, sums, rating, held=None, grace=0)
    return reached if reached is not None and rank(reached) > rank(current) else None


def multiplier(tiers: list[T], tier_id: Any) -> tuple[Decimal, str | None]:
    """The earn multiplier and name of the tier ``tier_id`` ((1, None) without one)."""
    tier = next((t for t in tiers if t.pk == tier_id), None) if tier_id is not None else None
    return (tier.earn_multiplier, tier.name) if tier is not None else (Decimal(1), None)


def points_text(sums: dict[int, int], tier: TierLike) -> str:
    return f"{sums.get(tier.window_days, 0)} points in {tier.window_days} days"
