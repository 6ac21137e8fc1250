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
from datetime import UTC, datetime, time, timedelta
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
    TierDay,
)
from loyalty.storage import sql, unit
from notifications.models import PushSubscription

Period = tuple[datetime, datetime]


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


def window_sums(
    *, member_ids: list[int], days: set[int], now: datetime
) -> dict[int, dict[int, int]]:
    """Each member's counting points of the last ``d`` days, for every ``d`` in ``days``
    (``loyalty.rules.tiers``: an entry counts from when its order was placed). One kept
    statement for any number of members and windows (every order of a program with tiers
    runs it; the tier job, a thousand members at a time), reading the members' entries of
    the windows' first days and a ``TierDay`` row a day after them (``_window_rows``)."""
    if not member_ids or not days:
        return {}
    windows = sorted(days)
    starts = [now - timedelta(days=d) for d in windows]
    params = [*starts, *_window_rows_params(member_ids, starts)]
    found = {row[0]: dict(zip(windows, map(int, row[1:]), strict=True))
             for row in sql.run(_window_sums_sql(len(windows)), params)}  # fmt: skip
    return {pk: found.get(pk, dict.fromkeys(days, 0)) for pk in member_ids}


@lru_cache(maxsize=16)
def _window_sums_sql(windows: int) -> str:
    sums = ", ".join("COALESCE(SUM(CASE WHEN c.at >= %s THEN c.points ELSE 0 END), 0)"
                     for _ in range(windows))  # fmt: skip
    return f"SELECT c.member, {sums} FROM {_window_rows()} c GROUP BY 1"  # noqa: S608


def _window_rows_params(member_ids: list[int], starts: list[datetime]) -> list[Any]:
    """``_window_rows``'s parameters: entries from the earliest start up to the UTC
    midnight after the latest, days from that midnight on."""
    whole = datetime.combine(max(starts).astimezone(UTC).date() + timedelta(days=1), time(),
                             tzinfo=UTC)  # fmt: skip
    return [member_ids, min(starts), whole, member_ids, min(starts), whole, member_ids, whole]


@lru_cache(maxsize=1)
def _window_rows() -> str:
    """The members' counting points from a moment on, as rows ``(member, at, points,
    whole_day)`` (a subquery for FROM): the entries up to a UTC midnight one by one (the
    windows' first, partial days), then a ``TierDay`` row a day (``at``: its midnight)."""
    member, day, points = (sql.column(TierDay, n) for n in ("member", "day", "points"))
    return (
        f"(SELECT r.member, r.at, r.points, false AS whole_day "  # noqa: S608 - names from the models
        f"FROM {_counting_rows('ANY(%s)', '%s', '%s')} r "
        f"UNION ALL SELECT d.{member}, d.{day}::timestamp AT TIME ZONE 'UTC', d.{points}, true "
        f"FROM {sql.quote(TierDay._meta.db_table)} d "
        f"WHERE d.{member} = ANY(%s) AND d.{day} >= (%s AT TIME ZONE 'UTC')::date)"
    )


def counting_sql(entry: str) -> str:
    """Whether the ledger entry ``entry`` (an SQL alias) counts toward tiers, in SQL:
    ``loyalty.rules.tiers.counts`` (its kinds and flag are constants of the code)."""

    def col(name: str) -> str:
        return f"{entry}.{sql.column(LedgerEntry, name)}"

    kinds = ", ".join(f"'{kind}'" for kind in TIER_COUNTING_KINDS)
    return (
        f"({col('kind')} IN ({kinds}) OR ({col('kind')} = 'grant' AND "
        f"({col('details')} -> '{TIER_COUNTING_GRANT_FLAG}') = 'true'::jsonb))"
    )


def _counting_rows(member: str, start: str, end: str) -> str:
    """The counting entries of ``member`` (an SQL expression: ``m.member``, ``ANY(%s)``) that
    count from ``start`` up to ``end``, as rows ``(member, at, points)``: a subquery for
    FROM.

    An entry of an order counts from when the order was placed, any other from when it was
    written (``loyalty.rules.tiers.counts``). Each half reads only that span: the orders by
    ``(member, placed_at)`` then their entries by order, the entries without an order by
    their partial index.
    """
    entry, order = sql.quote(LedgerEntry._meta.db_table), sql.quote(Order._meta.db_table)

    def col(name: str) -> str:
        return f"e.{sql.column(LedgerEntry, name)}"

    counting = counting_sql("e")
    placed = f"o.{sql.column(Order, 'placed_at')}"
    return (
        f"(SELECT {col('member')} AS member, {placed} AS at, {col('points')} AS points "  # noqa: S608 - names from the models
        f"FROM {order} o JOIN {entry} e ON {col('order')} = o.{sql.column(Order, 'pk')} "
        f"WHERE o.{sql.column(Order, 'member')} = {member} AND {placed} >= {start} "
        f"AND {placed} < {end} AND {counting} "
        f"UNION ALL SELECT {col('member')}, {col('created_at')}, {col('points')} FROM {entry} e "
        f"WHERE {col('member')} = {member} AND {col('order')} IS NULL "
        f"AND {col('created_at')} >= {start} AND {col('created_at')} < {end} AND {counting})"
    )


@dataclass(frozen=True)
class KeepStanding:
    """Where a member stands in its tiers' windows (``tier_job.tier_keep``): the points
    counting in the keep window now; the first moment at which those left fall below the
    tier's points, with how many are left then (None: they never do); and the points of a
    second window (the next tier's, ``counted``)."""

    points: int
    falls_at: datetime | None = None
    left: int = 0
    counted: int = 0


@dataclass(frozen=True)
class StandingAsk:
    """What to sum for one member: the keep window's start and the points it needs, and
    the start of the window whose points to count (the next tier's); None: no such window
    (nothing read for it)."""

    keep_from: datetime | None
    need: int
    count_from: datetime | None


def keep_standings(*, asks: dict[int, StandingAsk]) -> dict[int, KeepStanding]:
    """Each member's ``KeepStanding``, summed by PostgreSQL: one statement, one row a
    member, reading the entries of the windows' first days and of the day the points fall
    short, and a ``TierDay`` row for every other day (``_window_rows``): the profile page
    asks this for a member with thousands of orders, the tier job for a batch of members."""
    if not asks:
        return {}
    ids = list(asks)
    keep_from = [asks[pk].keep_from for pk in ids]
    count_from = [asks[pk].count_from for pk in ids]
    starts = [start for start in keep_from + count_from if start is not None]
    if not starts:
        return dict.fromkeys(ids, KeepStanding(points=0))
    params = [ids, keep_from, [asks[pk].need for pk in ids], count_from,
              *_window_rows_params(ids, starts)]  # fmt: skip
    found = {
        pk: KeepStanding(
            points=int(points), falls_at=falls_at, left=int(left or 0), counted=int(counted)
        )
        for pk, points, falls_at, left, counted in sql.run(_keep_sql(), params)
    }
    return {pk: found.get(pk, KeepStanding(points=0)) for pk in ids}


@lru_cache(maxsize=1)
def _keep_sql() -> str:
    """For each member: its contributions to the keep window oldest first with their
    running total; the first one after which the points left (the window's total less the
    running one) fall below what the member needs; when that one is a whole day, the moment
    within it, from that day's entries; and the total of the counted window."""
    that_day = _counting_rows("f.member", "f.at", "f.at + interval '1 day'")
    return (
        "WITH m AS (SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[], "  # noqa: S608 - names from the models
        "%s::timestamptz[]) AS t(member, start, need, count_from)), "
        "c AS (SELECT x.member, x.at, SUM(x.points) AS points, bool_or(x.whole_day) AS whole_day "
        f"FROM {_window_rows()} x GROUP BY 1, 2), "
        "k AS (SELECT c.*, SUM(c.points) OVER (PARTITION BY c.member) AS total, "
        "SUM(c.points) OVER (PARTITION BY c.member ORDER BY c.at) AS running "
        "FROM c JOIN m ON m.member = c.member AND c.at >= m.start), "
        "f AS (SELECT DISTINCT ON (k.member) k.* FROM k JOIN m ON m.member = k.member "
        "WHERE k.total - k.running < m.need ORDER BY k.member, k.at), "
        "n AS (SELECT c.member, SUM(c.points) AS counted FROM c "
        "JOIN m ON m.member = c.member AND c.at >= m.count_from GROUP BY 1) "
        "SELECT m.member, COALESCE(t.total, 0), COALESCE(w.at, f.at), "
        "COALESCE(w.remaining, f.total - f.running), COALESCE(n.counted, 0) FROM m "
        "LEFT JOIN (SELECT DISTINCT k.member, k.total FROM k) t ON t.member = m.member "
        "LEFT JOIN f ON f.member = m.member LEFT JOIN n ON n.member = m.member "
        # Within the whole day where the points fall short: the moment, entry by entry.
        "LEFT JOIN LATERAL (SELECT y.at, y.remaining FROM (SELECT r.at, "
        "f.total - (f.running - f.points) - SUM(SUM(r.points)) OVER (ORDER BY r.at) "
        f"AS remaining FROM {that_day} r GROUP BY r.at) y "
        "WHERE f.whole_day AND y.remaining < m.need ORDER BY y.at LIMIT 1) w ON true"
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
