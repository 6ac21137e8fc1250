"""When points expire: the one place for the program's validity rules.

Two modes, by ``Program.reset_validity_on_order``:
- reset (default): all of a member's points expire together, ``points_validity_days``
  after the last paid order; each order moves the date (``Member.points_expire_at``).
  Points that arrive before any order (a grant) start the clock from their arrival.
- per earning: each earning is a ``PointLot`` with its own date; spending takes the lots
  that expire first (a refund takes its own order's lot first); ``points_expire_at``
  is the date of the next lot to expire.
Programs without a validity keep points forever.

Every function here runs inside the writer's transaction, with the member locked.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, F, Min, Value, When
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Order, PointLot, Program


def per_earning(program: Program) -> bool:
    return bool(program.points_validity_days) and not program.reset_validity_on_order


def validity_on_order(*, member: Member, program: Program, placed_at: datetime) -> dict[str, Any]:
    """What a paid order changes on its member: the last order date and, in reset mode,
    the expiry date of all the member's points."""
    updates: dict[str, Any] = {}
    if member.last_order_at is None or placed_at > member.last_order_at:
        updates["last_order_at"] = placed_at
    if program.points_validity_days and program.reset_validity_on_order:
        expire_at = placed_at + timedelta(days=program.points_validity_days)
        if member.points_expire_at is None or expire_at > member.points_expire_at:
            updates["points_expire_at"] = expire_at
    return updates


def validity_on_append(
    *,
    member: Member,
    entry: LedgerEntry,
    balance_before: int,
    expires_at: datetime | None,
    order: Order | None,
) -> dict[str, Any]:
    """Keep lots and the member's next expiry date in step with a new entry.

    Returns member columns to update (the caller writes them with the balance).
    """
    program = member.program
    days = program.points_validity_days
    if not days:
        return {}
    if not per_earning(program):
        if entry.points > 0 and member.points_expire_at is None:
            return {"points_expire_at": expires_at or timezone.now() + timedelta(days=days)}
        return {}

    if entry.points > 0:
        # Points that pay back a debt (a negative balance) never form a lot.
        remaining = entry.points + min(balance_before, 0)
        if remaining > 0:
            PointLot.objects.create(
                program_id=member.program_id,
                member=member,
                entry=entry,
                points=entry.points,
                remaining=remaining,
                expires_at=expires_at or entry.created_at + timedelta(days=days),
            )
    elif entry.kind != LedgerEntry.Kind.EXPIRE:  # expiry takes its own lots, see expiry.py
        _consume(member=member, points=-entry.points, order=order)
    return {"points_expire_at": next_expiry(member=member)}


def _consume(*, member: Member, points: int, order: Order | None) -> None:
    """Take ``points`` from the member's lots, the order's own lot first, then the lots
    that expire first. Whatever the lots cannot cover is debt (a negative balance)."""
    lots = PointLot.objects.filter(member=member, remaining__gt=0)
    ordering: list[Any] = [F("expires_at").asc(nulls_last=True), "id"]
    if order is not None:
        ordering.insert(0, Case(When(entry__order=order, then=Value(0)), default=Value(1)))
    changed = []
    for lot in lots.order_by(*ordering):
        if points <= 0:
            break
        taken = min(lot.remaining, points)
        lot.remaining -= taken
        points -= taken
        changed.append(lot)
    PointLot.objects.bulk_update(changed, ["remaining"])


def next_expiry(*, member: Member) -> datetime | None:
    return PointLot.objects.filter(member=member, remaining__gt=0).aggregate(at=Min("expires_at"))[
        "at"
    ]


def earning_expiry(*, program: Program, placed_at: datetime) -> datetime | None:
    """An order's earning's own expiry (per-earning mode): a validity from when the order was
    placed, also when its points arrive later (pending points released after the window)."""
    days = program.points_validity_days
    return placed_at + timedelta(days=days) if days else None
