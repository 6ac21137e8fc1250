"""The only writer of ledger entries and member balances.

Invariant: ``member.balance`` equals the sum of the member's entries, and each
entry's ``balance_after`` is the previous entry's plus its points. Points still in a
return window are not entries yet (``member.pending``, see ``pending``); the audit
checks them too. Callers hold the member's row lock for the whole transaction, so
entries of one member are appended one at a time. An entry keeps the member's account
true (``storage.accounts``): its point lots in per-earning programs, its tier windows and
the tier points of each day (``TierDay``).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from loyalty.models import (
    LedgerEntry,
    Member,
    Order,
    PendingEarning,
    PointLot,
    Refund,
    TierDay,
    User,
)
from loyalty.rules import tiers as tier_rules
from loyalty.rules import validity
from loyalty.storage import accounts, unit

if TYPE_CHECKING:
    from rewards.models import Coupon


def ledger_append(
    *,
    member: Member,
    kind: str,
    points: int,
    reason: str,
    key: str,
    order: Order | None = None,
    refund: Refund | None = None,
    coupon: "Coupon | None" = None,
    created_by: User | None = None,
    details: dict[str, Any] | None = None,
    member_updates: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> LedgerEntry:
    """Append one entry and move the cached balance with it. The member must be locked.

    ``member_updates`` are other member columns to set with the balance (one write).
    ``expires_at`` dates positive points that do not follow the program's default validity.
    """
    account = accounts.account(member)
    balance_before = member.balance
    entry = LedgerEntry(
        program_id=member.program_id,
        member=member,
        kind=kind,
        points=points,
        balance_after=balance_before + points,
        reason=reason,
        idempotency_key=key,
        order=order,
        refund=refund,
        coupon=coupon,
        created_by=created_by,
        details=details or {},
    )
    unit.add(entry)
    if tier_rules.counts(kind, entry.details):
        at = order.placed_at if order is not None else entry.created_at
        day = {"member": member.pk, "day": at.astimezone(UTC).date(), "program": member.program_id}
        unit.add_to(TierDay, day, "points", points)
        if account.windows is not None:
            assert account.windows_at is not None
            tier_rules.window_add(account.windows, points=points, at=at, now=account.windows_at)
    updates = {
        **_expiry(account, entry=entry, balance_before=balance_before, expires_at=expires_at),
        # The caller's word last: an order's own expiry date (placed_at + validity) beats
        # the "from now" a first earning would otherwise get.
        **(member_updates or {}),
    }
    unit.member_update(member, deltas={"balance": points}, **updates)
    return entry


def _expiry(
    account: accounts.Account, *, entry: LedgerEntry, balance_before: int,
    expires_at: datetime | None,
) -> dict[str, Any]:  # fmt: skip
    """Keep the member's lots and next expiry date in step with a new entry
    (``loyalty.rules.validity``); the member columns to set."""
    member = account.member
    program = member.program
    days = program.points_validity_days
    if not days:
        return {}
    if not validity.per_earning(program):
        if entry.points > 0 and member.points_expire_at is None:
            return {"points_expire_at": expires_at or timezone.now() + timedelta(days=days)}
        return {}
    live = accounts.lots(account)
    if entry.points > 0:
        remaining = validity.lot_points(points=entry.points, balance_before=balance_before)
        if remaining > 0:
            lot = PointLot(
                program_id=member.program_id,
                member=member,
                entry=entry,
                points=entry.points,
                remaining=remaining,
                expires_at=expires_at or entry.created_at + timedelta(days=days),
            )
            lot.order_id = entry.order_id  # type: ignore[attr-defined]  # the spending order
            unit.add(lot)
            live.append(lot)
    elif entry.kind != LedgerEntry.Kind.EXPIRE:  # expiry takes its own lots, see expiry.py
        order_id = entry.order_id
        for lot in validity.consume(live, points=-entry.points, order_id=order_id):
            unit.changed(lot, "remaining")
        live[:] = [lot for lot in live if lot.remaining > 0]
    return {"points_expire_at": validity.next_expiry(live)}


@dataclass(frozen=True)
class LedgerMismatch:
    member_id: int
    external_id: str
    problem: str


def ledger_audit() -> list[LedgerMismatch]:
    """Every member whose balance is not the sum of its entries, or whose chain is broken.

    Also every member whose cached pending points are not the sum of its pending
    earnings, every released earning whose entry does not carry exactly its points, and
    every day whose tier points (``TierDay``) are not the sum of its counting entries.
    Set-based queries, so it runs over millions of entries without loading them.
    """
    # In this order: the ops alert details only the first few findings (``ops_check``),
    # and a wrong balance, the one a member sees, must be among them.
    with connection.cursor() as cursor:
        return [
            *_balance_mismatches(cursor),
            *_chain_mismatches(cursor),
            *_pending_mismatches(cursor),
            *_release_mismatches(cursor),
            *_tier_day_mismatches(cursor),
        ]


def _balance_mismatches(cursor: CursorWrapper) -> list[LedgerMismatch]:
    """Cached balance against the sum of the member's entries."""
    member_table = Member._meta.db_table
    entry_table = LedgerEntry._meta.db_table
    cursor.execute(
        f"""
        SELECT m.id, m.external_id, m.balance, COALESCE(s.total, 0)
        FROM {member_table} m
        LEFT JOIN (
            SELECT member_id, SUM(points) AS total FROM {entry_table} GROUP BY member_id
        ) s ON s.member_id = m.id
        WHERE m.balance <> COALESCE(s.total, 0)
        ORDER BY m.id
        """  # noqa: S608 - table names come from the models, not from input
    )
    return [
        LedgerMismatch(member_id, external_id, f"balance {balance} but entries sum to {total}")
        for member_id, external_id, balance, total in cursor.fetchall()
    ]


def _chain_mismatches(cursor: CursorWrapper) -> list[LedgerMismatch]:
    """Each entry's ``balance_after`` against the running sum up to it: a balance can be
    right while an entry in the middle is wrong, which only the chain shows."""
    member_table = Member._meta.db_table
    entry_table = LedgerEntry._meta.db_table
    cursor.execute(
        f"""
        SELECT t.member_id, m.external_id, t.id, t.balance_after, t.running
        FROM (
            SELECT member_id, id, balance_after,
                   SUM(points) OVER (PARTITION BY member_id ORDER BY id) AS running
            FROM {entry_table}
        ) t JOIN {member_table} m ON m.id = t.member_id
        WHERE t.balance_after <> t.running
        ORDER BY t.member_id, t.id
        """  # noqa: S608
    )
    return [
        LedgerMismatch(
            member_id,
            external_id,
            f"entry {entry_id} says balance {balance_after} but the entries "
            f"up to it sum to {running}",
        )
        for member_id, external_id, entry_id, balance_after, running in cursor.fetchall()
    ]


def _pending_mismatches(cursor: CursorWrapper) -> list[LedgerMismatch]:
    """Cached pending points against the member's earnings still pending."""
    member_table = Member._meta.db_table
    pending_table = PendingEarning._meta.db_table
    cursor.execute(
        f"""
        SELECT m.id, m.external_id, m.pending, COALESCE(s.total, 0)
        FROM {member_table} m
        LEFT JOIN (
            SELECT member_id, SUM(points) AS total FROM {pending_table}
            WHERE status = 'pending' GROUP BY member_id
        ) s ON s.member_id = m.id
        WHERE m.pending <> COALESCE(s.total, 0)
        ORDER BY m.id
        """  # noqa: S608
    )
    return [
        LedgerMismatch(
            member_id, external_id, f"pending {pending} but pending earnings sum to {total}"
        )
        for member_id, external_id, pending, total in cursor.fetchall()
    ]


def _release_mismatches(cursor: CursorWrapper) -> list[LedgerMismatch]:
    """Released earnings whose entry is missing, another member's, or of other points: the
    hand-over from pending to the ledger must move the points exactly once."""
    member_table = Member._meta.db_table
    entry_table = LedgerEntry._meta.db_table
    pending_table = PendingEarning._meta.db_table
    cursor.execute(
        f"""
        SELECT p.member_id, m.external_id, p.order_id, p.points, e.points
        FROM {pending_table} p
        JOIN {member_table} m ON m.id = p.member_id
        LEFT JOIN {entry_table} e ON e.id = p.entry_id
        WHERE p.status = 'released'
          AND (e.id IS NULL OR e.points <> p.points OR e.member_id <> p.member_id)
        ORDER BY p.member_id, p.id
        """  # noqa: S608
    )
    return [
        LedgerMismatch(
            member_id,
            external_id,
            f"order {order_id} released {points} pending points but its entry "
            f"carries {entry_points}",
        )
        for member_id, external_id, order_id, points, entry_points in cursor.fetchall()
    ]


def _tier_day_mismatches(cursor: CursorWrapper) -> list[LedgerMismatch]:
    """Each member's tier points by day (``TierDay``, what the tier windows read) against
    the counting entries of that day (``loyalty.rules.tiers``), both ways."""
    member_table, order_table = Member._meta.db_table, Order._meta.db_table
    entry_table, day_table = LedgerEntry._meta.db_table, TierDay._meta.db_table
    cursor.execute(
        f"""
        SELECT m.id, m.external_id, COALESCE(d.day, s.day), COALESCE(d.points, 0),
               COALESCE(s.total, 0)
        FROM {day_table} d
        FULL OUTER JOIN (
            SELECT e.member_id, (COALESCE(o.placed_at, e.created_at) AT TIME ZONE 'UTC')::date
                   AS day, SUM(e.points) AS total
            FROM {entry_table} e LEFT JOIN {order_table} o ON o.id = e.order_id
            WHERE {accounts.counting_sql("e")}
            GROUP BY 1, 2
        ) s ON s.member_id = d.member_id AND s.day = d.day
        JOIN {member_table} m ON m.id = COALESCE(d.member_id, s.member_id)
        WHERE COALESCE(d.points, 0) <> COALESCE(s.total, 0)
        ORDER BY 1, 3
        """  # noqa: S608
    )
    return [
        LedgerMismatch(
            member_id, external_id, f"tier points of {day}: {kept} kept but entries sum to {total}"
        )
        for member_id, external_id, day, kept, total in cursor.fetchall()
    ]
