"""A program's settings (earning rules, campaigns, tiers, reward thresholds) read once and
kept: for a block of work and, on PostgreSQL, across requests. Never stale.

``settings_read(kind, program, read)`` is the one way in; ``read`` is the query.

- Inside ``program_snapshot()`` (a batch of orders, a job's batch) each kind is read once
  per program and the same list is handed back for the rest of the block, even if the
  settings change meanwhile: one batch runs under one set of rules.
- Across requests, each web or worker process keeps the last list read per (kind,
  program) with the ``Program.settings_version`` it was read under, and hands it out (a
  new list of the same model instances, shared by requests and threads: callers only read
  them) to a caller whose Program object has that very version. Otherwise it reads.

Why a kept list is never stale:

1. Triggers (migration 0014) raise ``settings_version`` in the same transaction as any
   change to these rows, whoever writes them (admin, API, services, ``update()``,
   ``delete()``, raw SQL): a change and its new version become visible together. Nothing
   takes the version back (a trigger keeps it when a stale Program is saved).
2. The version is read before the settings: every caller holds a Program loaded for its
   own request or job (the API key's query, the job's query, ``member.program``) and a
   miss reads the settings after that. So a list is kept under a version no newer than
   the settings in it, and a caller is handed settings at least as new as those of the
   version it loaded.
3. A list is kept only once the transaction that read it has committed
   (``transaction.on_commit``; at once outside a transaction). What a rolled-back
   transaction read, such as its own change under the version number the next committed
   change will take again, is never kept.
4. A kept list is never replaced by one read under an older version.
5. A transaction that changes the settings and then reads them holds a Program loaded
   before its change: the writing services (``tiers_replace``, ``thresholds_replace``,
   ``rules_replace``, ``campaigns_replace``) call ``settings_changed(program)``, and reads
   through that object go to the database from then on (and are not kept).

On SQLite (``make run``) there are no triggers: outside a snapshot every read goes to the
database, as before the cache.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connection, transaction

if TYPE_CHECKING:
    from loyalty.models import Program

T = TypeVar("T")

_snapshot: ContextVar[dict[Any, Any] | None] = ContextVar("program_snapshot", default=None)

# (kind, program pk) -> (settings_version, the instances read under it)
_kept: dict[tuple[str, int], tuple[int, tuple[Any, ...]]] = {}
_kept_lock = threading.Lock()

# Set on a Program object whose transaction changed its settings (see settings_changed).
_CHANGED = "_settings_changed_here"


@contextmanager
def program_snapshot() -> Iterator[None]:
    token = _snapshot.set({})
    try:
        yield
    finally:
        _snapshot.reset(token)


def settings_read(kind: str, program: "Program", read: Callable[[], list[T]]) -> list[T]:
    """The program's settings of ``kind``: from the block's snapshot, else from the process
    cache when kept under the program's version, else ``read()`` (and kept once committed)."""
    key = (kind, program.pk)
    snapshot = _snapshot.get()
    if snapshot is not None and key in snapshot:
        found: list[T] = snapshot[key]
        return found
    value = _across_requests(key, program, read)
    if snapshot is not None:
        snapshot[key] = value
    return value


def settings_changed(program: "Program") -> None:
    """This transaction changed ``program``'s settings: its ``settings_version`` is from
    before, so reads through this object go to the database (and are not kept) from now on."""
    setattr(program, _CHANGED, True)


def settings_forget() -> None:
    """Drop everything kept (tests start from nothing)."""
    with _kept_lock:
        _kept.clear()


def _across_requests(
    key: tuple[str, int], program: "Program", read: Callable[[], list[T]]
) -> list[T]:
    if program.pk is None or getattr(program, _CHANGED, False):
        return read()
    version = program.settings_version
    entry = _kept.get(key)
    if entry is not None and entry[0] == version:
        return list(entry[1])
    value = read()
    kept = tuple(value)
    if connection.in_atomic_block or connection.get_autocommit():
        # At once outside a transaction; dropped if the transaction rolls back.
        transaction.on_commit(lambda: _keep(key, version, kept))
    return value


def _keep(key: tuple[str, int], version: int, value: tuple[Any, ...]) -> None:
    with _kept_lock:
        entry = _kept.get(key)
        if entry is None or entry[0] <= version:
            _kept[key] = (version, value)
