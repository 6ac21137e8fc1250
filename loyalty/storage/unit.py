"""The unit of work: how the rows a write decides on reach the database.

Inside ``unit_of_work()`` (the order path: one order, a group of them, a batch):
- a new row (``add``) takes its id from its table's sequence, a block of ids at a time, and
  waits in memory; a row that may exist already under its dedupe key (a notification, a
  webhook delivery: ``add_unless_present``) waits too, for an INSERT ... ON CONFLICT DO
  NOTHING;
- new values of rows already written (``changed``) and of locked members
  (``member_update``: deltas such as the balance, absolute values such as dates, set on the
  object at once) are marked;
- amounts added to counter rows (``add_to``: a member's tier points of a day) are summed;
- ``flush``, once, on the way out: a COPY a table for the new rows, one upsert for each kind
  of counter, one UPDATE ... FROM VALUES for the members and one for each kind of changed
  row.
Nothing is read back in between: what the rules need was loaded before anything was written
(``storage.accounts``). Ids are handed out in the order rows are added, so a member's ledger
entries keep the order they were appended in. Foreign keys between waiting rows are checked
at commit: Django makes them DEFERRABLE INITIALLY DEFERRED on PostgreSQL.

Outside ``unit_of_work()`` (refunds, grants, jobs) the same calls write at once, so every
writer shares the code that decides what is written, and only this module knows how.

Hand-offs to the workers (``after_commit``) are one call per function per unit of work,
whatever the number of rows: a batch of 1,000 orders sends one message a queue.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, partial
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Model

from loyalty.models import Member
from loyalty.storage import sql

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class UnitOfWork:
    def __init__(self, *, expected: int) -> None:
        # Ids to fetch at a time: about one row of each table for each order written.
        self.block = max(expected, 16)
        self.free_ids: dict[type[Model], list[int]] = {}
        self.waiting: dict[type[Model], dict[int, Model]] = {}
        self.unless_present: dict[type[Model], list[Model]] = {}
        self.changes: dict[tuple[type[Model], tuple[str, ...]], dict[int, Model]] = {}
        self.members: dict[int, Member] = {}
        self.member_fields: set[str] = set()
        # Amounts to add to counter rows (``add_to``), summed by row: model, key names, field.
        self.sums: dict[tuple[type[Model], tuple[str, ...], str], dict[tuple[Any, ...], int]] = {}
        # Ids for the workers, by the function that hands them over after commit.
        self.hand_offs: dict[Callable[[list[int]], None], list[int]] = {}
        # What other modules keep for the unit's duration: reads of rows it never writes
        # (settings of a kind), the accounts of its members (storage.accounts).
        self.memo: dict[Hashable, Any] = {}

    def reserve(self, wanted: dict[type[Model], int]) -> None:
        """Fetch ids for the tables a writer knows it will fill, all in one statement."""
        for model, ids in sql.next_ids_many(wanted).items():
            # Handed out after the ids fetched before (the list is taken from its end): a
            # table's rows take their ids in the order they are added.
            self.free_ids[model] = [*reversed(ids), *self.free_ids.get(model, [])]

    def next_id(self, model: type[Model]) -> int:
        free = self.free_ids.setdefault(model, [])
        if not free:
            free.extend(reversed(sql.next_ids(model, self.block)))
        return free.pop()

    def waits(self, row: Model) -> bool:
        return row.pk in self.waiting.get(type(row), {})

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for model, rows in waiting.items():
            if rows:
                sql.write(model, list(rows.values()))
        unless, self.unless_present = self.unless_present, {}
        for model, listed in unless.items():
            model._default_manager.bulk_create(listed, ignore_conflicts=True)
        changes, self.changes = self.changes, {}
        for (model, fields), changed in changes.items():
            sql.update_rows(model, list(changed.values()), fields)
        sums, self.sums = self.sums, {}
        for (model, names, field), amounts in sums.items():
            sql.add_to_rows(model, names, field, [(*key, n) for key, n in amounts.items()])
        if self.members:
            members, self.members = list(self.members.values()), {}
            fields, self.member_fields = tuple(sorted(self.member_fields)), set()
            sql.update_rows(Member, members, fields)
        hand_offs, self.hand_offs = self.hand_offs, {}
        for send, ids in hand_offs.items():
            transaction.on_commit(partial(send, ids))


_current: ContextVar[UnitOfWork | None] = ContextVar("unit_of_work", default=None)


@contextmanager
def unit_of_work(*, expected: int) -> Iterator[UnitOfWork]:
    """Let the block's writes wait for one flush, on the way out (see the module).
    ``expected``: about how many orders the block writes. Run it inside a transaction."""
    unit = UnitOfWork(expected=expected)
    token = _current.set(unit)
    try:
        yield unit
        unit.flush()
    finally:
        _current.reset(token)


def current() -> UnitOfWork | None:
    """The unit of work of this block, or None: writes go in at once."""
    return _current.get()


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """``read()`` once a unit of work (each time outside one): for rows the unit never writes,
    such as a merchant's notification templates."""
    unit = _current.get()
    if unit is None:
        return read()
    if key not in unit.memo:
        unit.memo[key] = read()
    value: T = unit.memo[key]
    return value


def add(row: Model) -> None:
    """A new row: inserted now, or numbered and waiting for the unit's flush."""
    unit = _current.get()
    if unit is None:
        sql.insert(row)
        return
    row.pk = unit.next_id(type(row))
    unit.waiting.setdefault(type(row), {})[row.pk] = row


def waiting(model: type[M]) -> list[M]:
    """The new rows of a model that wait for the unit's flush (none outside a unit): a writer
    that reads rows of its own kind sees those it added too."""
    unit = _current.get()
    if unit is None:
        return []
    return [row for row in unit.waiting.get(model, {}).values() if isinstance(row, model)]


def add_unless_present(rows: Sequence[Model]) -> list[int]:
    """New rows of one model that a unique key may refuse (a second notification of the same
    occasion): such a row is dropped, quietly. Returns the ids given to them, for the
    hand-off: one dropped is no row, so its id is no work."""
    if not rows:
        return []
    model = type(rows[0])
    unit = _current.get()
    if unit is None:
        for row in rows:
            row.pk = sql.next_ids(model, 1)[0]
        model._default_manager.bulk_create(rows, ignore_conflicts=True)
        return [row.pk for row in rows]
    for row in rows:
        row.pk = unit.next_id(model)
    unit.unless_present.setdefault(model, []).extend(rows)
    return [row.pk for row in rows]


def changed(row: Model, *fields: str) -> None:
    """New values of these fields of a row already added: written with the row when it still
    waits, else now or at the flush."""
    unit = _current.get()
    if unit is None:
        type(row)._default_manager.filter(pk=row.pk).update(**{f: getattr(row, f) for f in fields})
        return
    if unit.waits(row):
        return
    unit.changes.setdefault((type(row), tuple(sorted(fields))), {})[row.pk] = row


def add_to(model: type[Model], key: dict[str, Any], field: str, amount: int) -> None:
    """Add ``amount`` to ``field`` of the row of ``model`` whose unique ``key`` this is (a
    row made at zero when missing): now, or summed in memory for one upsert at the flush.
    The caller holds the lock that orders the writers of that row (the member's)."""
    names = tuple(key)
    unit = _current.get()
    if unit is None:
        sql.add_to_rows(model, names, field, [(*key.values(), amount)])
        return
    amounts = unit.sums.setdefault((model, names, field), {})
    values = tuple(key.values())
    amounts[values] = amounts.get(values, 0) + amount


def member_update(member: Member, *, deltas: dict[str, int] | None = None, **values: Any) -> None:
    """Move the member's counters by ``deltas`` (``{"balance": -500}``) and set ``values``:
    on the object at once, in the database now or at the flush. The member must be locked
    (at the flush the absolute values of the object are written)."""
    deltas = {name: delta for name, delta in (deltas or {}).items() if delta}
    for name, value in values.items():
        setattr(member, name, value)
    for name, delta in deltas.items():
        setattr(member, name, getattr(member, name) + delta)
    if not deltas and not values:
        return
    unit = _current.get()
    if unit is None:
        names, counters = tuple(sorted(values)), tuple(sorted(deltas))
        params = [deltas[n] for n in counters] + [sql.prepared(Member, n, values[n]) for n in names]
        sql.run(_member_update_sql(counters, names), [*params, member.pk])
        return
    unit.members[member.pk] = member
    unit.member_fields.update(values, deltas)


@cache
def _member_update_sql(counters: tuple[str, ...], names: tuple[str, ...]) -> str:
    """``UPDATE member SET balance = balance + %s, …, name = %s … WHERE id = %s``, built once
    for each set of names."""
    sets = [f"{sql.column(Member, n)} = {sql.column(Member, n)} + %s" for n in counters]
    sets += [f"{sql.column(Member, n)} = %s" for n in names]
    table = sql.quote(Member._meta.db_table)
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {sql.column(Member, 'pk')} = %s"  # noqa: S608


def after_commit(send: Callable[[list[int]], None], ids: list[int]) -> None:
    """Call ``send(ids)`` once the transaction commits (at once without one). In a unit of work,
    one call for every id handed to the same ``send`` in it, whatever their number."""
    if not ids:
        return
    unit = _current.get()
    if unit is None:
        transaction.on_commit(partial(send, ids))
        return
    unit.hand_offs.setdefault(send, []).extend(ids)
