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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import EarningRule, Member, Program
from loyalty.services.bonuses import bonus_rule, signup_bonus_award
from loyalty.services.deferred import (
    deferred_flush,
    deferred_track_windows,
    deferred_waiting,
    deferred_writes,
)
from loyalty.services.members import members_create_locked, members_lock
from loyalty.services.orders import (
    OrderInput,
    OrderResult,
    order_arguments,
    order_input,
    order_record_input,
    order_replay,
    orders_recorded,
)
from loyalty.services.tiers import program_tiers
from loyalty.services.validity import per_earning
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
    lines: list[dict[str, Any]] | None


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
    items: list[OrderInput | BatchOutcome] = []
    for order in orders:
        try:
            items.append(order_input(program=program, **order_arguments(order)))
        except LoyaltyError as error:
            items.append(BatchOutcome(external_id=order["external_id"], error=error))
    return orders_record_checked(program=program, orders=items)


def orders_record_checked(
    *, program: Program, orders: Sequence[OrderInput | BatchOutcome]
) -> list[BatchOutcome]:
    """``orders_record_batch`` for orders checked by ``order_input`` already; an item that
    is a ``BatchOutcome`` (a refused order) is handed back as it is, in its place."""
    with webhook_endpoints_snapshot(merchant_id=program.merchant_id), program_snapshot():
        if _deferrable(program):
            try:
                with transaction.atomic():
                    outcomes = _record(program=program, orders=orders, deferred=True)
                if outcomes is not None:
                    return outcomes
            except (IntegrityError, _Redo):
                # Another writer took one of these external ids meanwhile (for a member we
                # do not hold), or an order failed half-written: everything above is rolled
                # back; order by order, each order meets it on its own.
                pass
        with transaction.atomic():
            outcomes = _record(program=program, orders=orders, deferred=False)
        assert outcomes is not None
        return outcomes


class _Redo(Exception):
    """The deferred way cannot finish this batch; redo it order by order."""


def _deferrable(program: Program) -> bool:
    """Deferred writes serve programs whose order path reads back only what ``deferred``
    tracks: no return window (pending rows) and no per-earning lots (spending reads them)."""
    return not program.pending_days and not per_earning(program)


def _record(
    *, program: Program, orders: Sequence[OrderInput | BatchOutcome], deferred: bool
) -> list[BatchOutcome] | None:
    """All the orders in one transaction; None when the deferred way does not apply."""
    outcomes: list[BatchOutcome | None] = [None] * len(orders)
    checked: dict[int, OrderInput] = {}
    for index, item in enumerate(orders):
        if isinstance(item, BatchOutcome):
            outcomes[index] = item
        else:
            checked[index] = item
    members = members_lock(
        program=program, external_ids={o.member_external_id for o in checked.values()}
    )
    if deferred and _pays_referrals(program, members.values()):
        # A first order pays its referrer, who may be another member of the batch:
        # that member's row is read back, so every write must be in place.
        return None
    # Stable: one member's orders keep the order they were sent in.
    sequence = sorted(checked, key=lambda i: checked[i].member_external_id)
    if not deferred:
        for index in sequence:
            outcomes[index] = _record_one(program=program, order=checked[index])
        return [outcome for outcome in outcomes if outcome is not None]

    recorded = orders_recorded(
        program=program, external_ids={c.external_id for c in checked.values()}
    )
    with deferred_writes(expected=len(checked)):
        # Only the members of orders that will be written are created, as a single order's:
        # the first valid one of each new external id (a second one is a replay or conflict).
        first: dict[str, OrderInput] = {}
        for index in sequence:
            if checked[index].external_id not in recorded:
                first.setdefault(checked[index].external_id, checked[index])
        new = {order.member_external_id for order in first.values()}
        # Inserted in external-id order, as every batch does: no two wait on each other in a
        # cycle. One inserted by a concurrent writer has its sign-up bonus already.
        created = members_create_locked(program=program, external_ids=new - members.keys())
        members |= created
        tiers = program_tiers(program)
        if tiers:
            deferred_track_windows(
                member_ids=[m.pk for m in members.values()],
                days={t.window_days for t in tiers},
                now=timezone.now(),
            )
        for member in created.values():
            signup_bonus_award(member=member)  # as member_lock(create=True); once per member
        for index in sequence:
            item = checked[index]
            if item.external_id in recorded:
                deferred_flush()  # a replay (or a conflict), answered from what is written
                try:
                    replay = order_replay(program=program, external_id=item.external_id,
                                          fingerprint=item.fingerprint)  # fmt: skip
                except LoyaltyError as error:
                    outcomes[index] = BatchOutcome(external_id=item.external_id, error=error)
                else:
                    outcomes[index] = BatchOutcome(external_id=item.external_id, result=replay)
                continue
            waiting = deferred_waiting()
            try:
                result = order_record_input(
                    program=program, order=item, member=members[item.member_external_id]
                )
            except LoyaltyError as error:
                if deferred_waiting() != waiting:
                    raise _Redo() from error  # refused half-written: only a savepoint undoes it
                outcomes[index] = BatchOutcome(external_id=item.external_id, error=error)
                continue
            outcomes[index] = BatchOutcome(external_id=item.external_id, result=result)
            recorded.add(item.external_id)
    return [outcome for outcome in outcomes if outcome is not None]


def _pays_referrals(program: Program, members: Iterable[Member]) -> bool:
    return any(m.referred_by_id for m in members) and (
        bonus_rule(program=program, kind=EarningRule.Kind.REFERRAL) is not None
    )


def _record_one(*, program: Program, order: OrderInput) -> BatchOutcome:
    try:
        result = order_record_input(program=program, order=order)
    except LoyaltyError as error:
        return BatchOutcome(external_id=order.external_id, error=error)
    return BatchOutcome(external_id=order.external_id, result=result)
