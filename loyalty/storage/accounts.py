"""A member's account: the locked member row and the facts the rules read of it.

Facts: the points of each tier window, the live point lots (per-earning validity), the
points earned by orders placed in a cap's day or month, whether the member has orders, and
whether a browser of theirs is subscribed to push. The writers keep them true in memory as
they write (a ledger entry adds to the windows, a spending takes from the lots...).

In the order path (``storage.unit.unit_of_work``) every account is loaded before anything is
written, all members at once, one query a fact (``accounts_load``); a fact it was not loaded
with is a programming error there, since rows wait unwritten and a query would miss them.
Elsewhere (a refund, a grant) a fact is read when first asked, from rows already written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from loyalty.models import (
    TIER_COUNTING_GRANT_FLAG,
    TIER_COUNTING_KINDS,
    LedgerEntry,
    Member,
    Order,
    PointLot,
)
from loyalty.storage import sql, unit
from notifications.models import PushSubscription

Period = tuple[datetime, datetime]
# An entry's order was placed a little before it was written (at most this much clock skew):
# entries written before a window's start cannot count in it.
SKEW = timedelta(minutes=5)


@dataclass(eq=False)
class Account:
    member: Member
    # Tier window sums {days: points} as of ``windows_at``.
    windows: dict[int, int] | None = None
    windows_at: datetime | None = None
    # Live lots (remaining > 0), each with ``order_id``: the order of the entry it came from.
    lots: list[PointLot] | None = None
    earned: dict[Period, int] = field(default_factory=dict)
    has_orders: bool | None = None
    push: bool | None = None


def account(member: Member) -> Account:
    """The member's account in this unit of work (a new, unloaded one outside of it)."""
    current = unit.current()
    if current is None:
        return Account(member)
    accounts: dict[int, Account] = current.memo.setdefault(Account, {})
    found = accounts.get(member.pk)
    if found is None:
        found = accounts[member.pk] = Account(member)
    elif found.member is not member:
        found.member = member  # the same row, loaded again: the newest object holds it
    return found


def _missing(fact: str) -> None:
    if unit.current() is not None:
        raise RuntimeError(
            f"the account's {fact} were not loaded before the unit of work wrote (accounts_load)"
        )


def windows(acc: Account, *, days: set[int], now: datetime) -> dict[int, int]:
    if acc.windows is None or not days <= acc.windows.keys():
        _missing("tier windows")
        acc.windows = window_sums(member_ids=[acc.member.pk], days=days, now=now)[acc.member.pk]
        acc.windows_at = now
    return acc.windows


def lots(acc: Account) -> list[PointLot]:
    if acc.lots is None:
        _missing("point lots")
        acc.lots = live_lots(member_ids=[acc.member.pk]).get(acc.member.pk, [])
    return acc.lots


def earned(acc: Account, period: Period) -> int:
    if period not in acc.earned:
        _missing("earnings of a cap's period")
        acc.earned |= earned_in(member_ids=[acc.member.pk], periods=[period])[acc.member.pk]
    return acc.earned[period]


def has_orders(acc: Account) -> bool:
    if acc.has_orders is None:
        _missing("orders")
        acc.has_orders = Order.objects.filter(member=acc.member).exists()
    return acc.has_orders


def push(acc: Account) -> bool:
    if acc.push is None:
        _missing("push subscriptions")
        acc.push = PushSubscription.objects.filter(member=acc.member).exists()
    return acc.push


def accounts_load(
    *,
    members: Iterable[Member],
    new: set[int],
    now: datetime,
    window_days: set[int],
    windows_for: set[int],
    periods: list[Period],
    with_lots: bool,
    with_orders: bool,
    with_push: bool,
) -> dict[int, Account]:
    """Load the accounts of these (locked) members into the current unit of work, with the
    facts asked for, one query a fact for all of them: the tier windows of ``window_days`` for
    the members of ``windows_for``. ``new``: members created by this unit, whose facts are
    known without asking (no points, no orders, no browser)."""
    loaded = {m.pk: account(m) for m in members}
    old = [pk for pk in loaded if pk not in new]
    counted = [pk for pk in old if pk in windows_for]
    sums = window_sums(member_ids=counted, days=window_days, now=now) if window_days else {}
    live = live_lots(member_ids=old) if with_lots else {}
    caps = earned_in(member_ids=old, periods=periods) if periods else {}
    ordered = _with_orders(old) if with_orders else set()
    pushing = _with_push(old) if with_push else set()
    for pk, acc in loaded.items():
        if window_days and pk in windows_for:
            acc.windows = sums.get(pk, dict.fromkeys(window_days, 0))
            acc.windows_at = now
        if with_lots:
            acc.lots = live.get(pk, [])
        acc.earned |= caps.get(pk, dict.fromkeys(periods, 0))
        if with_orders:
            acc.has_orders = pk in ordered
        if with_push:
            acc.push = pk in pushing
    return loaded


def _counting(member_ids: list[int]) -> Q:
    return Q(member_id__in=member_ids) & (
        Q(kind__in=TIER_COUNTING_KINDS)
        | Q(kind="grant", **{f"details__{TIER_COUNTING_GRANT_FLAG}": True})
    )


def window_sums(
    *, member_ids: list[int], days: set[int], now: datetime
) -> dict[int, dict[int, int]]:
    """Each member's counting points of the last ``d`` days, for every ``d`` in ``days``
    (``loyalty.rules.tiers``: an entry counts from when its order was placed). One kept
    statement for any number of members (every order of a program with tiers runs it)."""
    if not member_ids or not days:
        return {}
    windows = sorted(days)
    longest = max(windows)
    starts = [now - timedelta(days=d) for d in windows]
    params = [
        *starts,
        member_ids,
        list(TIER_COUNTING_KINDS),
        # created_at >= placed_at - skew, so this bound only trims, never loses an entry.
        now - timedelta(days=longest) - SKEW,
        now - timedelta(days=longest),
    ]
    found = {row[0]: dict(zip(windows, map(int, row[1:]), strict=True))
             for row in sql.run(_window_sums_sql(len(windows)), params)}  # fmt: skip
    return {pk: found.get(pk, dict.fromkeys(days, 0)) for pk in member_ids}


@lru_cache(maxsize=16)
def _window_sums_sql(windows: int) -> str:
    sums = ", ".join(
        f"COALESCE(SUM(CASE WHEN {_AT} >= %s THEN e.{sql.column(LedgerEntry, 'points')} "
        "ELSE 0 END), 0)"
        for _ in range(windows)
    )
    return f"SELECT e.{sql.column(LedgerEntry, 'member')}, {sums} {_counting_entries()} GROUP BY 1"


# When an entry counts for a tier: its order's placing, else its writing.
_AT = f"COALESCE(o.{sql.column(Order, 'placed_at')}, e.{sql.column(LedgerEntry, 'created_at')})"


@lru_cache(maxsize=1)
def _counting_entries() -> str:
    """FROM and WHERE of the members' counting entries (``_counting``'s rule) in a window;
    the parameters: member ids, counting kinds, the window's start less ``SKEW`` (only
    trims), the window's start."""
    entry, order = sql.quote(LedgerEntry._meta.db_table), sql.quote(Order._meta.db_table)

    def col(name: str) -> str:
        return f"e.{sql.column(LedgerEntry, name)}"

    return (
        f"FROM {entry} e "  # noqa: S608 - names from the models
        f"LEFT OUTER JOIN {order} o ON o.{sql.column(Order, 'pk')} = {col('order')} "
        f"WHERE {col('member')} = ANY(%s) AND ({col('kind')} = ANY(%s) OR ("
        f"({col('details')} -> '{TIER_COUNTING_GRANT_FLAG}') = 'true'::jsonb "
        f"AND {col('kind')} = 'grant')) AND {col('created_at')} >= %s AND {_AT} >= %s"
    )


def window_contributions(
    *, member_ids: list[int], days: int, now: datetime
) -> dict[int, list[tuple[datetime, int]]]:
    """Each member's counting points of the last ``days`` days by moment, oldest first. One
    kept statement, its rows as tuples: a member with thousands of orders in the window (the
    profile page's tier progress reads this) costs no model or dict per row."""
    found: dict[int, list[tuple[datetime, int]]] = {pk: [] for pk in member_ids}
    if not member_ids:
        return found
    params = [
        member_ids,
        list(TIER_COUNTING_KINDS),
        now - timedelta(days=days) - SKEW,  # only trims (see ``window_sums``)
        now - timedelta(days=days),
    ]
    for member_id, micros, points in sql.run(_contributions_sql(), params):
        found[member_id].append((EPOCH + timedelta(microseconds=micros), int(points)))
    return found


# The moments come as microseconds since the epoch: a timestamp parsed from its text costs
# ten times more, and a member's window can hold thousands of them.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def _contributions_sql() -> str:
    """``_window_sums_sql``'s entries, summed by member and moment instead of by window."""
    member, points = sql.column(LedgerEntry, "member"), sql.column(LedgerEntry, "points")
    return (
        f"SELECT e.{member}, (EXTRACT(EPOCH FROM {_AT}) * 1000000)::bigint, SUM(e.{points}) "  # noqa: S608
        f"{_counting_entries()} GROUP BY 1, 2 ORDER BY 1, 2"
    )


def live_lots(*, member_ids: list[int]) -> dict[int, list[PointLot]]:
    """Each member's lots with points left, with the order of the entry each came from."""
    found: dict[int, list[PointLot]] = {}
    if not member_ids:
        return found
    rows = (
        PointLot.objects.filter(member_id__in=member_ids, remaining__gt=0)
        .annotate(order_id=F("entry__order_id"))
        .order_by("member_id", "id")
    )
    for lot in rows:
        found.setdefault(lot.member_id, []).append(lot)
    return found


def earned_in(*, member_ids: list[int], periods: list[Period]) -> dict[int, dict[Period, int]]:
    """The points each member's orders placed in each period earned (caps count them)."""
    if not member_ids or not periods:
        return {}
    sums = {
        f"p{n}": Coalesce(
            Sum("points_earned", filter=Q(placed_at__gte=start, placed_at__lt=end)), 0
        )
        for n, (start, end) in enumerate(periods)
    }
    rows = (
        Order.objects.filter(
            member_id__in=member_ids,
            placed_at__gte=min(start for start, _ in periods),
            placed_at__lt=max(end for _, end in periods),
        )
        .values("member_id")
        .annotate(**sums)
        .order_by()
    )
    found = {
        row["member_id"]: {period: int(row[f"p{n}"]) for n, period in enumerate(periods)}
        for row in cast(list[dict[str, Any]], list(rows))
    }
    return {pk: found.get(pk, dict.fromkeys(periods, 0)) for pk in member_ids}


def _with_orders(member_ids: list[int]) -> set[int]:
    if not member_ids:
        return set()
    return set(
        Order.objects.filter(member_id__in=member_ids)
        .values_list("member_id", flat=True)
        .distinct()
    )


def _with_push(member_ids: list[int]) -> set[int]:
    if not member_ids:
        return set()
    return set(
        PushSubscription.objects.filter(member_id__in=member_ids)
        .values_list("member_id", flat=True)
        .distinct()
    )
