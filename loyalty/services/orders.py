"""Orders earn points: how an integrator's orders reach the one writer.

- ``order_record``: one order, in the caller's transaction (a batch of one).
- ``order_record_grouped``: one order of an API request, written with the orders of other
  requests that arrive at the same moment in this process (``storage.group``).
- ``orders_record_batch``: up to ``MAX_BATCH_ORDERS`` of them at once (``POST /orders/batch``).

All three check each order first (``order_input``) and write through ``orders_write``
(``order_writer``): the same rules, rows and answers whatever the way in.

Rules kept here:
- An order earns ``floor(points base x earn rate)`` points once (with the program's bonuses,
  campaigns, tier multiplier and caps: ``loyalty.rules.earning``).
- The same external id with the same data is a replay (answered, earns nothing); with other
  data it is a conflict. The database's unique constraint on (program, external_id) is what
  makes a second earning impossible.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict, Unpack

from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import Program
from loyalty.services.order_input import OrderFields, OrderInput, order_arguments, order_input
from loyalty.services.order_writer import BatchOutcome, OrderResult, orders_write
from loyalty.storage.group import Group

MAX_BATCH_ORDERS = 1000


class BatchOrder(TypedDict, total=False):
    external_id: str
    member: str
    amount: Decimal
    currency: str
    placed_at: datetime | None
    breakdown: dict[str, Decimal] | None
    lines: list[dict[str, Any]] | None


def order_record(
    *,
    program: Program,
    **fields: Unpack[OrderFields],
) -> OrderResult:
    """Record a paid order and earn its points, once. Safe to call any number of times, also
    concurrently, with the same data. Raises the order's own ``LoyaltyError``."""
    order = order_input(program=program, **fields)
    return _answer(orders_write(program=program, orders=[order])[0])


def _write_group(items: Sequence[tuple[Program, OrderInput]]) -> list[BatchOutcome]:
    return orders_write(program=items[0][0], orders=[order for _program, order in items])


# The group commit of this process: one for every program (a group holds one program state).
ORDER_GROUP: Group[tuple[Program, OrderInput], BatchOutcome] = Group(_write_group)


def order_record_grouped(*, program: Program, order: OrderInput) -> OrderResult:
    """``order_record`` for a checked order, written with the orders that arrive with it in
    this process (``storage.group``): each under the program's settings as its own request
    loaded them."""
    state = tuple(repr(getattr(program, f.attname)) for f in Program._meta.concrete_fields)
    return _answer(ORDER_GROUP.submit(key=state, item=(program, order)))


def _answer(outcome: BatchOutcome) -> OrderResult:
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    return outcome.result


def orders_record_batch(*, program: Program, orders: Sequence[BatchOrder]) -> list[BatchOutcome]:
    """Record up to MAX_BATCH_ORDERS orders; one outcome per order, in the order given."""
    if not orders or len(orders) > MAX_BATCH_ORDERS:
        raise InvalidInput(
            {"orders": [str(_("Send 1 to %(max)s orders.")) % {"max": MAX_BATCH_ORDERS}]}
        )
    items: list[OrderInput | BatchOutcome] = []
    for order in orders:
        try:
            items.append(order_input(program=program, **order_arguments(order)))
        except LoyaltyError as error:
            items.append(BatchOutcome(external_id=order["external_id"], error=error))
    return orders_write(program=program, orders=items)


__all__ = [
    "MAX_BATCH_ORDERS", "BatchOrder", "BatchOutcome", "OrderInput", "OrderResult",
    "order_arguments", "order_input", "order_record", "order_record_grouped",
    "orders_record_batch",
]  # fmt: skip
