"""When points expire, and when pending points count: plain functions.

Two validity modes, by ``Program.reset_validity_on_order``:
- reset (default): all of a member's points expire together, ``points_validity_days`` after
  the last paid order; each order moves the date (``Member.points_expire_at``). Points that
  arrive before any order (a grant) start the clock from their arrival.
- per earning: each earning is a lot with its own date; spending takes the lots that expire
  first (a refund takes its own order's lot first); ``points_expire_at`` is the date of the
  next lot to expire. Points that pay back a debt (a negative balance) never form a lot.
Programs without a validity keep points forever.

Pending points: inside the program's return window (``pending_days``) an order's points wait
before they count.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from loyalty.models import Member, Program


class LotLike(Protocol):
    """A lot of points (``PointLot``), with ``order_id``: the order it came from, if any."""

    remaining: int
    expires_at: datetime | None

    @property
    def pk(self) -> Any: ...


L = TypeVar("L", bound=LotLike)


def per_earning(program: Program) -> bool:
    return bool(program.points_validity_days) and not program.reset_validity_on_order


def on_order(*, member: Member, program: Program, placed_at: datetime) -> dict[str, Any]:
    """What a paid order changes on its member: the last order date and, in reset mode, the
    expiry date of all the member's points."""
    updates: dict[str, Any] = {}
    if member.last_order_at is None or placed_at > member.last_order_at:
        updates["last_order_at"] = placed_at
    if program.points_validity_days and program.reset_validity_on_order:
        expire_at = placed_at + timedelta(days=program.points_validity_days)
        if member.points_expire_at is None or expire_at > member.points_expire_at:
            updates["points_expire_at"] = expire_at
    return updates


def earning_expiry(*, program: Program, placed_at: datetime) -> datetime | None:
    """An order's earning's own expiry: a validity from when the order was placed, also when
    its points arrive later (pending points released after the window)."""
    days = program.points_validity_days
    return placed_at + timedelta(days=days) if days else None


def lot_points(*, points: int, balance_before: int) -> int:
    """What of a positive entry forms a lot: the part that does not pay back a debt."""
    return points + min(balance_before, 0)


def consume(lots: Iterable[L], *, points: int, order_id: int | None) -> list[L]:
    """Take ``points`` from the lots (the order's own lot first, then the ones that expire
    first; a lot without a date last); returns the lots changed. Whatever the lots cannot
    cover is debt (a negative balance)."""

    def first(lot: L) -> tuple[bool, bool, float, Any]:
        own = order_id is not None and getattr(lot, "order_id", None) == order_id
        at = lot.expires_at.timestamp() if lot.expires_at is not None else 0.0
        return (not own, lot.expires_at is None, at, lot.pk)

    changed = []
    for lot in sorted(lots, key=first):
        if points <= 0:
            break
        taken = min(lot.remaining, points)
        lot.remaining -= taken
        points -= taken
        changed.append(lot)
    return changed


def next_expiry(lots: Iterable[LotLike]) -> datetime | None:
    dates = [lot.expires_at for lot in lots if lot.remaining > 0 and lot.expires_at is not None]
    return min(dates) if dates else None


def pending_until(
    *, program: Program, placed_at: datetime, points: int, now: datetime
) -> datetime | None:
    """When an order's points become available, or None when they count at once (no window,
    nothing earned, or an order sent in after its window had already ended)."""
    if not program.pending_days or points <= 0:
        return None
    available_at = placed_at + timedelta(days=program.pending_days)
    return available_at if available_at > now else None
