"""A program's settings read once for a block of work (a batch of orders, a job's batch).

Inside ``program_snapshot()``, ``snapshot_read(key, read)`` runs ``read`` once per key and
hands back the same list after: rules, campaigns, tiers and reward thresholds do not change
in the middle of one batch. Outside a snapshot every call reads afresh, so a single request
always sees the settings as they are.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_snapshot: ContextVar[dict[Any, Any] | None] = ContextVar("program_snapshot", default=None)


@contextmanager
def program_snapshot() -> Iterator[None]:
    token = _snapshot.set({})
    try:
        yield
    finally:
        _snapshot.reset(token)


def snapshot_read(key: Any, read: Callable[[], T]) -> T:
    snapshot = _snapshot.get()
    if snapshot is None:
        return read()
    if key not in snapshot:
        snapshot[key] = read()
    value: T = snapshot[key]
    return value
