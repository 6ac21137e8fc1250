"""Many orders at once, for integrators who sync in bulk (``POST /api/v1/orders/batch``).

Rules kept here:
- Each order goes through ``order_record``, the single-order path, unchanged:
  the same validation, earning, conversion, webhooks and replay rules. There is
  no second copy of any business rule here.
- Each order succeeds or fails on its own: a bad order gets its error and
  changes nothing (``order_record`` validates before writing, and its writes
  run in a savepoint that is rolled back on error); the others are recorded.
- Idempotent per order: sending a batch again replays the recorded orders
  (``replayed``), exactly as a single order's retry does.
- Locks: the batch is one transaction. The members it names that already exist
  are locked first, all in one statement, in primary-key order (the order every
  writer uses); the rest are created as their orders come, in external-id order.
  So two batches, or a batch and single orders, never wait on each other in a
  cycle, and each member is locked once for the whole batch however many of
  its orders it holds. Orders of one member are recorded in the order sent.
- One set of rules for the whole batch: the webhook endpoints and the reward
  thresholds, earning rules, campaigns and tiers are read once (``loyalty.snapshot``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import Member, Program
from loyalty.services.orders import OrderResult, order_record
from loyalty.snapshot import program_snapshot
from notifications.services.webhooks import webhook_endpoints_snapshot

MAX_BATCH_ORDERS = 1000


class BatchOrder(TypedDict, total=False):
    external_id: str
    member: str
    amount: Decimal
    currency: str
    placed_at: datetime | None
    breakdown: dict[str, Decimal] | None


@dataclass
class BatchOutcome:
    external_id: str
    result: OrderResult | None = None
    error: LoyaltyError | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        assert self.result is not None
        return "created" if self.result.created else "replayed"


def orders_record_batch(*, program: Program, orders: Sequence[BatchOrder]) -> list[BatchOutcome]:
    """Record up to MAX_BATCH_ORDERS orders; one outcome per order, in the order given."""
    if not orders or len(orders) > MAX_BATCH_ORDERS:
        raise InvalidInput(
            {"orders": [str(_("Send 1 to %(max)s orders.")) % {"max": MAX_BATCH_ORDERS}]}
        )
    with (
        webhook_endpoints_snapshot(merchant_id=program.merchant_id),
        program_snapshot(),
        transaction.atomic(),
    ):
        _lock_known_members(program=program, external_ids={o["member"] for o in orders})
        outcomes: list[BatchOutcome | None] = [None] * len(orders)
        # Stable: one member's orders keep the order they were sent in.
        for index in sorted(range(len(orders)), key=lambda i: orders[i]["member"]):
            outcomes[index] = _record_one(program=program, order=orders[index])
    return [outcome for outcome in outcomes if outcome is not None]


def _lock_known_members(*, program: Program, external_ids: set[str]) -> None:
    list(
        Member.objects.select_for_update()
        .filter(program=program, external_id__in=external_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _record_one(*, program: Program, order: BatchOrder) -> BatchOutcome:
    arguments: dict[str, Any] = {
        "external_id": order["external_id"],
        "member_external_id": order["member"],
        "amount": order["amount"],
        "currency": order["currency"],
        "placed_at": order.get("placed_at"),
        "breakdown": order.get("breakdown"),
    }
    try:
        result = order_record(program=program, **arguments)
    except LoyaltyError as error:
        return BatchOutcome(external_id=order["external_id"], error=error)
    return BatchOutcome(external_id=order["external_id"], result=result)
