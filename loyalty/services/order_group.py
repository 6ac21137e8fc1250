"""Single orders that arrive at once are written together: group commit.

Alone, an order costs a transaction of its own: its lock, inserts, member update
and commit, each a round trip. Under load, a web process serves many orders at
the same moment (gunicorn's threads, ``config/gunicorn.py``). The first order
that finds no group being written writes itself, at once, exactly as
``order_record_input``. Orders that arrive meanwhile wait, and are written
together as the next group by one of them: one transaction through
``orders_record_checked`` (``order_batch``), one lock statement, one COPY, one
commit. A group is whatever queued while the previous one was written: nothing
waits for a timer, so an idle server adds no latency and a busy one batches
more.

Rules kept here:
- Each order gets the outcome it would get alone: its result, or its own error
  (``order_batch`` keeps them apart; an unexpected failure of the group writes
  each of its orders again on its own, so one order's crash is its own).
- An order is written with its own request's Program as loaded (so under the
  settings that request saw): a group holds the orders of one program state.
- An order asked for inside a transaction (an Idempotency-Key's record, a
  caller's own atomic block) is written in that transaction, never in a group:
  it must commit or roll back with the caller's writes.
- The lead passes to the oldest waiting order, so no request waits behind more
  than the group before its own.
"""

import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from loyalty.metrics import ORDER_GROUP_SIZE
from loyalty.models import Program
from loyalty.services.order_batch import MAX_BATCH_ORDERS, orders_record_checked
from loyalty.services.orders import OrderInput, OrderResult, order_record_input
from notifications.services.webhooks import webhook_endpoints_snapshot


@dataclass(eq=False)
class _Ticket:
    program: Program
    order: OrderInput
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # this order's thread writes the next group
    result: OrderResult | None = None
    error: BaseException | None = None


_lock = threading.Lock()
_waiting: list[_Ticket] = []
_writing = False  # a group is being written; new orders wait for the next one


def order_record_grouped(*, program: Program, order: OrderInput) -> OrderResult:
    """``order_record_input`` for a checked order, written with the orders that arrive with
    it (see the module's rules). Raises the order's own ``LoyaltyError``."""
    if connection.in_atomic_block:
        return _alone(program, order)
    global _writing
    ticket = _Ticket(program=program, order=order)
    with _lock:
        if _writing:
            _waiting.append(ticket)
        else:
            _writing = ticket.lead = True
    if not ticket.lead:
        ticket.ready.wait()
    if ticket.lead:
        _lead(ticket)
    if ticket.error is not None:
        raise ticket.error
    assert ticket.result is not None
    return ticket.result


def _alone(program: Program, order: OrderInput) -> OrderResult:
    with webhook_endpoints_snapshot(merchant_id=program.merchant_id):
        return order_record_input(program=program, order=order)


def _lead(first: _Ticket) -> None:
    """Write ``first`` with the orders waiting behind it, then pass the lead on."""
    global _writing
    with _lock:
        group = [first, *_waiting[: MAX_BATCH_ORDERS - 1]]
        del _waiting[: MAX_BATCH_ORDERS - 1]
    try:
        for tickets in _by_program_state(group):
            _write(tickets)
    finally:
        with _lock:
            if _waiting:
                successor = _waiting.pop(0)
                successor.lead = True
                successor.ready.set()
            else:
                _writing = False
        for ticket in group:
            if ticket.result is None and ticket.error is None:  # the leader was stopped
                ticket.error = RuntimeError("The order's group was not written.")
            if ticket is not first:
                ticket.ready.set()


def _by_program_state(group: list[_Ticket]) -> list[list[_Ticket]]:
    """The tickets by their Program's stored values: a group writes one program state."""
    fields = Program._meta.concrete_fields
    states: list[tuple[list[Any], list[_Ticket]]] = []
    for ticket in group:
        state = [getattr(ticket.program, f.attname) for f in fields]
        for known, tickets in states:
            if known == state:
                tickets.append(ticket)
                break
        else:
            states.append((state, [ticket]))
    return [tickets for _, tickets in states]


def _write(tickets: list[_Ticket]) -> None:
    ORDER_GROUP_SIZE.observe(len(tickets))
    program = tickets[0].program
    if len(tickets) > 1:
        try:
            outcomes = orders_record_checked(program=program, orders=[t.order for t in tickets])
        except Exception:  # noqa: BLE001, S110 - each order meets its own failure below
            pass
        else:
            for ticket, outcome in zip(tickets, outcomes, strict=True):
                ticket.result, ticket.error = outcome.result, outcome.error
            return
    for ticket in tickets:
        try:
            ticket.result = _alone(program, ticket.order)
        except Exception as error:  # noqa: BLE001 - raised in the order's own request
            ticket.error = error
