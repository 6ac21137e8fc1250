"""Deferred writes for a batch of orders: rows numbered up front, inserted together.

A batch of orders (``order_batch``) holds every member it writes for locked for its whole
transaction, so nobody else reads or writes their rows meanwhile. Inside
``deferred_writes()``:
- new orders, ledger entries, coupons and webhook deliveries (``deferred_insert``) take
  their ids from a block of their table's sequence, fetched in one query, and wait in
  memory instead of being inserted one by one; a member's balance and dates are changed on
  the locked object and marked (``deferred_member_update``) instead of being updated row
  by row;
- ``deferred_flush()`` inserts what waits (one COPY a table) and writes the marked members
  (one UPDATE, with the absolute values of the locked objects). Whoever reads such rows back
  calls it first (see ``earning._earned_between``); the batch calls it before it commits.
- A tier needs the points of the member's window after every order: ``deferred_window_sums``
  counts them once a batch and adds each waiting entry (``tiers.window_add``), so the check
  costs no query.
Ids are handed out in the order rows are added, so a member's entries keep the order they
were appended in (the ledger's chain is checked in id order). Foreign keys between waiting and
written rows (a coupon issued for a waiting order) are checked at commit: Django makes them
DEFERRABLE INITIALLY DEFERRED on PostgreSQL, the only database this runs on.

Outside ``deferred_writes()`` every function here writes at once, so the single-order path and
the batch share every line that decides what is written.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

from loyalty import sql
from loyalty.models import LedgerEntry, Member, Order
from notifications.models import WebhookDelivery
from rewards.models import Coupon, CouponEvent

# In the order they are inserted (any order would do: the keys between them are deferred).
DEFERRED_MODELS: tuple[type[Model], ...] = (
    Order, Coupon, CouponEvent, LedgerEntry, WebhookDelivery,
)  # fmt: skip


class _Writes:
    def __init__(self, *, expected: int) -> None:
        # Ids to fetch at a time: about one order and one entry for each order of the batch.
        self.block = max(expected, 16)
        self.ids: dict[type[Model], list[int]] = {model: [] for model in DEFERRED_MODELS}
        self.rows: dict[type[Model], dict[int, Model]] = {model: {} for model in DEFERRED_MODELS}
        self.members: dict[int, Member] = {}
        self.fields: set[str] = set()
        self.windows: dict[int, dict[int, int]] | None = None
        self.windows_at: datetime | None = None

    def next_id(self, model: type[Model]) -> int:
        free = self.ids[model]
        if not free:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [model._meta.db_table, self.block],
                )
                free.extend(row[0] for row in reversed(cursor.fetchall()))
        return free.pop()

    def flush(self) -> None:
        for model in DEFERRED_MODELS:
            rows, self.rows[model] = self.rows[model], {}
            if not rows:
                continue
            if model is WebhookDelivery:
                # As webhook_enqueue: an event already written for an endpoint (its dedupe
                # key) is kept once; the rest go to a worker when the batch commits.
                from notifications.services.webhooks import webhooks_hand_off

                deliveries = [row for row in rows.values() if isinstance(row, WebhookDelivery)]
                WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
                transaction.on_commit(partial(webhooks_hand_off, list(rows)))
                continue
            _copy(model, list(rows.values()))
        if self.members:
            members, self.members = list(self.members.values()), {}
            fields, self.fields = sorted(self.fields), set()
            _members_update(members, fields)


def _copy(model: type[Model], rows: list[Model]) -> None:
    """Insert rows that have their ids with COPY: ``bulk_create`` quotes every value into
    the statement's text in Python, which cost a batch more than all its queries."""
    copy_sql = sql.copy_sql(model)
    fields = sql.prepared_fields(model, with_pk=True)
    with sql.cursor(f"{copy_sql} ({len(rows)} rows)") as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(sql.values(row, fields))


def _members_update(members: list[Member], names: list[str]) -> None:
    """One UPDATE ... FROM (VALUES ...) setting these columns to the objects' values
    (``bulk_update``'s CASE per row costs far more, in Python and in the database)."""
    fields = [field for field in Member._meta.concrete_fields if field.name in names]
    quote = connection.ops.quote_name
    row = "(%s::bigint" + "".join(f", %s::{f.db_type(connection)}" for f in fields) + ")"
    params: list[Any] = []
    for member in members:
        params.append(member.pk)
        params.extend(f.get_db_prep_save(getattr(member, f.attname), connection) for f in fields)
    columns = [quote(str(f.column)) for f in fields]
    statement = (
        f"UPDATE {quote(Member._meta.db_table)} AS m "  # noqa: S608 - names from the model
        f"SET {', '.join(f'{c} = v.{c}' for c in columns)} "
        f"FROM (VALUES {', '.join([row] * len(members))}) AS v(id, {', '.join(columns)}) "
        "WHERE m.id = v.id"
    )
    sql.run(statement, params)


_writes: ContextVar[_Writes | None] = ContextVar("deferred_writes", default=None)


@contextmanager
def deferred_writes(*, expected: int) -> Iterator[None]:
    """Defer the order path's inserts and member updates to ``deferred_flush`` (called on
    the way out too). ``expected``: about how many orders will be written."""
    writes = _Writes(expected=expected)
    token = _writes.set(writes)
    try:
        yield
        writes.flush()
    finally:
        _writes.reset(token)


def deferred_active() -> bool:
    """Whether writes wait for a flush here (inside a batch's ``deferred_writes``)."""
    return _writes.get() is not None


def deferred_flush() -> None:
    """Write what waits (nothing outside ``deferred_writes``)."""
    writes = _writes.get()
    if writes is not None:
        writes.flush()


def deferred_waiting() -> int:
    """How many rows wait to be inserted (0 outside a batch)."""
    writes = _writes.get()
    return sum(len(rows) for rows in writes.rows.values()) if writes is not None else 0


def deferred_insert(row: Model) -> None:
    """Insert a new row of ``DEFERRED_MODELS`` now, or, in a batch, number it and let it wait."""
    writes = _writes.get()
    if writes is None:
        sql.insert(row)
        return
    row.pk = writes.next_id(type(row))
    writes.rows[type(row)][row.pk] = row
    if isinstance(row, LedgerEntry) and writes.windows is not None:
        from loyalty.services.tiers import window_add

        window = writes.windows.get(row.member_id)
        if window is not None:
            assert writes.windows_at is not None
            window_add(window, entry=row, now=writes.windows_at)


def deferred_update(row: Model, *fields: str) -> None:
    """Write these fields of an order or entry already added: now, or with the row itself
    when it still waits."""
    writes = _writes.get()
    if writes is not None and row.pk in writes.rows[type(row)]:
        return
    type(row)._default_manager.filter(pk=row.pk).update(**{f: getattr(row, f) for f in fields})


def deferred_member_update(
    member: Member, *, balance_delta: int = 0, **values: Any
) -> None:  # fmt: skip
    """Move the member's balance by ``balance_delta`` and set ``values``: on the object, and
    in the database now or, in a batch, at the flush. The member must be locked."""
    for name, value in values.items():
        setattr(member, name, value)
    member.balance += balance_delta
    writes = _writes.get()
    if writes is None:
        names = tuple(sorted(values))
        prepared = [_prepared(name, values[name]) for name in names]
        sql.run(_member_update_sql(names), [balance_delta, *prepared, member.pk])
        return
    writes.members[member.pk] = member
    writes.fields.update(values, ("balance",) if balance_delta else ())


@cache
def _member_update_sql(names: tuple[str, ...]) -> str:
    """``Member.objects.filter(pk=...).update(balance=F("balance") + delta, **values)``,
    built once for each set of names (Django would build it again for every order)."""
    balance = sql.column(Member, "balance")
    sets = [f"{balance} = {balance} + %s"] + [f"{sql.column(Member, n)} = %s" for n in names]
    table = sql.quote(Member._meta.db_table)
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {sql.column(Member, 'pk')} = %s"  # noqa: S608


def _prepared(name: str, value: Any) -> Any:
    return Member._meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]


def deferred_window_sums(
    *, member_ids: list[int], days: set[int], now: datetime
) -> dict[int, dict[int, int]]:
    """``tiers.window_sums``; in a batch, the sums ``deferred_track_windows`` counted once,
    with every waiting entry added as it came."""
    from loyalty.services.tiers import window_sums

    writes = _writes.get()
    if writes is None:
        return window_sums(member_ids=member_ids, days=days, now=now)
    if writes.windows is None or not set(member_ids) <= writes.windows.keys():
        raise RuntimeError("deferred_track_windows() the batch's members first")
    return {pk: writes.windows[pk] for pk in member_ids}


def deferred_track_windows(*, member_ids: list[int], days: set[int], now: datetime) -> None:
    """In a batch, before anything is written: count these members' tier windows once."""
    from loyalty.services.tiers import window_sums

    writes = _writes.get()
    assert writes is not None, "only inside deferred_writes()"
    assert not any(writes.rows.values()), "before anything is written"
    writes.windows = window_sums(member_ids=member_ids, days=days, now=now)
    writes.windows_at = now
