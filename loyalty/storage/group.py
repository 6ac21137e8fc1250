"""Group commit: single writes that arrive at once are written together, in one transaction.

Alone, an order costs a transaction of its own: its lock, inserts, member update and commit,
each a round trip. Under load, a web process serves many orders at the same moment
(gunicorn's threads, ``config/gunicorn.py``). The first item that finds no group being written
writes itself, at once. Items that arrive meanwhile wait, and are written together as the
next group by one of them, through the same writer a batch uses: one lock statement, one
COPY a table, one commit. A group is whatever queued while the previous one was written:
nothing waits for a timer, so an idle server adds no latency and a busy one batches more.

Rules kept here:
- Each item gets the outcome it would get alone: the writer keeps their outcomes apart, and
  an unexpected failure of a group writes each of its items again on its own, so one
  item's crash is its own.
- A group holds items of one key only (the order path's key: the program's state as the
  item's request loaded it), so each is written under the settings its request saw.
- An item asked for inside a transaction (an Idempotency-Key's record, a caller's atomic
  block) is written in that transaction, never in a group: it must commit or roll back with
  the caller's writes.
- The lead passes to the oldest waiting item, so no request waits behind more than the
  group before its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import connection

from loyalty.metrics import ORDER_GROUP_SIZE

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

# At most this many items a group (the writer's batch limit).
MAX_GROUP = 1000


@dataclass(eq=False)
class _Ticket(Generic[Item, Outcome]):
    key: Hashable
    item: Item
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # this item's thread writes the next group
    outcome: Outcome | None = None
    error: BaseException | None = None


class Group(Generic[Item, Outcome]):
    """Items written by ``write(items) -> outcomes`` (one outcome per item, in order), grouped
    when they arrive together in this process. An outcome carries its item's own error."""

    def __init__(self, write: Callable[[Sequence[Item]], list[Outcome]]) -> None:
        self.write = write
        self._lock = threading.Lock()
        self._waiting: list[_Ticket[Item, Outcome]] = []
        self._writing = False  # a group is being written; new items wait for the next one

    def submit(self, *, key: Hashable, item: Item) -> Outcome:
        """Write ``item`` with the items that arrive with it (see the module's rules)."""
        if connection.in_atomic_block:
            return self.write([item])[0]
        ticket: _Ticket[Item, Outcome] = _Ticket(key=key, item=item)
        with self._lock:
            if self._writing:
                self._waiting.append(ticket)
            else:
                self._writing = ticket.lead = True
        if not ticket.lead:
            ticket.ready.wait()
        if ticket.lead:
            self._lead(ticket)
        if ticket.error is not None:
            raise ticket.error
        assert ticket.outcome is not None
        return ticket.outcome

    def _lead(self, first: _Ticket[Item, Outcome]) -> None:
        """Write ``first`` with the items waiting behind it, then pass the lead on."""
        with self._lock:
            group = [first, *self._waiting[: MAX_GROUP - 1]]
            del self._waiting[: MAX_GROUP - 1]
        try:
            for tickets in _by_key(group):
                self._write(tickets)
        finally:
            with self._lock:
                if self._waiting:
                    successor = self._waiting.pop(0)
                    successor.lead = True
                    successor.ready.set()
                else:
                    self._writing = False
            for ticket in group:
                if ticket.outcome is None and ticket.error is None:  # the leader was stopped
                    ticket.error = RuntimeError("The item's group was not written.")
                if ticket is not first:
                    ticket.ready.set()

    def _write(self, tickets: list[_Ticket[Item, Outcome]]) -> None:
        ORDER_GROUP_SIZE.observe(len(tickets))
        if len(tickets) > 1:
            try:
                outcomes = self.write([t.item for t in tickets])
            except Exception:  # noqa: BLE001, S110 - each item meets its own failure below
                pass
            else:
                for ticket, outcome in zip(tickets, outcomes, strict=True):
                    ticket.outcome = outcome
                return
        for ticket in tickets:
            try:
                ticket.outcome = self.write([ticket.item])[0]
            except Exception as error:  # noqa: BLE001 - raised in the item's own request
                ticket.error = error


def _by_key(group: list[_Ticket[Any, Any]]) -> list[list[_Ticket[Any, Any]]]:
    """The tickets by key, in the order their keys first came."""
    found: dict[Hashable, list[_Ticket[Any, Any]]] = {}
    for ticket in group:
        found.setdefault(ticket.key, []).append(ticket)
    return list(found.values())
