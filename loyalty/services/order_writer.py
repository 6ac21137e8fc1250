"""The one writer of orders: a single order is a batch of one.

A single order, single orders arriving together (the group commit, ``storage.group``) and a
batch of up to 1,000 (``POST /orders/batch``) all take this path:

    checked input (``orders.order_input``)
      -> the members' accounts, loaded once before anything is written: the members locked
         with their referrers, the new ones created, and the facts the rules read
         (``storage.members``, ``storage.accounts``)
      -> for each order, the rules as plain functions (``loyalty.rules``): earning and its
         stacking, caps, pending points, bonuses, tier, conversion into coupons
      -> rows into the unit of work (``storage.unit``): the order, its pending earning or its
         ledger entry and lot, bonuses, a tier change, coupons, webhook deliveries and
         notifications, the members' new balances and dates
      -> one flush (a COPY a table, one UPDATE a kind of change), in one transaction.

Rules kept here:
- Each order gets its own outcome: its result, the first answer again (a replay: same
  external id and body), or its own error (a conflict: same id, other body). Everything that
  can refuse an order is checked before anything of it is written.
- Orders of one member are written in the order they were sent.
- If another writer takes one of the external ids meanwhile (for a member this writer does
  not hold), the flush meets the order's unique key and the whole transaction is run again:
  the order is then answered as a replay or a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty import money
from loyalty.errors import LoyaltyError, OrderConflict
from loyalty.models import EarningRule, LedgerEntry, Member, Order, Program, Tier
from loyalty.rules import earning, validity
from loyalty.rules import tiers as tier_rules
from loyalty.services.bonuses import signup_bonus_award
from loyalty.services.conversion import rewards_convert
from loyalty.services.earning import program_campaigns
from loyalty.services.earning_rules import program_rules
from loyalty.services.ledger import ledger_append
from loyalty.services.order_input import OrderInput, lines_out
from loyalty.services.pending import order_pending, pending_hold
from loyalty.services.referrals import referral_on_first_order
from loyalty.services.tiers import program_tiers, tier_on_earn
from loyalty.snapshot import program_snapshot
from loyalty.storage import accounts, unit
from loyalty.storage.members import members_create, members_lock
from loyalty.storage.orders import orders_recorded
from notifications.models import WebhookEvent
from notifications.services.push import push_enabled
from notifications.services.webhooks import (
    webhook_endpoints_snapshot,
    webhook_enqueue,
    webhook_points_earned,
)
from rewards.models import Coupon

# How many times a transaction that met another writer's order (the unique key) is run again.
ATTEMPTS = 3


@dataclass
class OrderResult:
    order: Order
    created: bool
    balance: int
    coupons_issued: list[Coupon] = field(default_factory=list)
    bonuses: list[LedgerEntry] = field(default_factory=list)
    # Points of this order still in the program's return window, and until when.
    pending_points: int = 0
    pending_until: datetime | None = None


@dataclass
class BatchOutcome:
    """One order's outcome in a batch or group: its result or its own error."""

    external_id: str
    result: OrderResult | None = None
    error: LoyaltyError | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        assert self.result is not None
        return "created" if self.result.created else "replayed"


def order_replay(*, program: Program, external_id: str, fingerprint: str) -> OrderResult:
    """The answer for an order recorded already: the same again, or a conflict."""
    order = Order.objects.select_related("member").get(program=program, external_id=external_id)
    if order.fingerprint != fingerprint:
        raise OrderConflict(external_id=external_id)
    pending_points, pending_until = order_pending(order=order)
    return OrderResult(
        order=order,
        created=False,
        balance=order.balance_after,
        coupons_issued=list(order.coupons_issued.order_by("pk")),
        pending_points=pending_points,
        pending_until=pending_until,
    )


def orders_write(
    *, program: Program, orders: Sequence[OrderInput | BatchOutcome]
) -> list[BatchOutcome]:
    """Write these checked orders in one transaction; an item that is a ``BatchOutcome``
    already (an order refused by its checks) is handed back as it is, in its place."""
    with webhook_endpoints_snapshot(merchant_id=program.merchant_id), program_snapshot():
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic(), unit.unit_of_work(expected=len(orders)):
                    # Alone, an order does not ask which ids exist: its unique key refuses a
                    # replay at the flush, and the second attempt asks.
                    return _Writer(program, orders, look_up=attempt > 1 or len(orders) > 1).write()
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise
    raise AssertionError("unreachable")


@dataclass
class _Settings:
    """The program's settings the rules read, once for all the orders."""

    rules: list[EarningRule]
    referral: EarningRule | None
    tiers: list[Tier]  # lowest first

    @classmethod
    def of(cls, program: Program) -> _Settings:
        rules = program_rules(program)
        return cls(
            rules=rules,
            referral=next((r for r in rules if r.kind == EarningRule.Kind.REFERRAL), None),
            tiers=program_tiers(program),
        )


class _Writer:
    def __init__(
        self, program: Program, items: Sequence[OrderInput | BatchOutcome], *, look_up: bool
    ) -> None:
        self.program = program
        self.items = items
        self.look_up = look_up
        self.now = timezone.now()
        self.settings = _Settings.of(program)
        self.campaigns = program_campaigns(program)
        # Orders written by this transaction, by external id, for a second one in the batch.
        self.written: dict[str, tuple[OrderInput, OrderResult]] = {}

    def write(self) -> list[BatchOutcome]:
        checked = {i: item for i, item in enumerate(self.items) if isinstance(item, OrderInput)}
        recorded = (
            orders_recorded(
                program=self.program, external_ids={o.external_id for o in checked.values()}
            )
            if self.look_up
            else set()
        )
        # Members by external id, each one's orders in the order sent (a stable sort).
        sequence = sorted(checked, key=lambda i: checked[i].member_external_id)
        # Only the members of orders that will be written: the first of each new external id,
        # in that sequence (a second one is a replay or a conflict).
        first: dict[str, OrderInput] = {}
        for index in sequence:
            if checked[index].external_id not in recorded:
                first.setdefault(checked[index].external_id, checked[index])
        members = self._members({o.member_external_id for o in first.values()})
        # About an order and an entry an order: their ids in one statement. Only now, under
        # the members' locks: a member's entries must take their ids in the order they are
        # written (the ledger's chain is checked in id order).
        current = unit.current()
        assert current is not None
        if first:
            current.reserve({Order: len(first), LedgerEntry: len(first) + 1})
        outcomes: list[BatchOutcome | None] = [
            item if isinstance(item, BatchOutcome) else None for item in self.items
        ]
        for index in sequence:
            outcomes[index] = self._one(checked[index], recorded, members)
        return [outcome for outcome in outcomes if outcome is not None]

    def _members(self, external_ids: set[str]) -> dict[str, Member]:
        """Lock the members (and their referrers), create the new ones, load their accounts."""
        program = self.program
        referrals = self.settings.referral is not None
        locked = members_lock(program=program, external_ids=external_ids, referrers=referrals)
        by_id = {m.external_id: m for m in locked.values()}
        missing = external_ids - by_id.keys()
        made = members_create(program=program, external_ids=missing)
        raced = missing - made.keys()  # created by a concurrent writer first: locked as found
        if raced:
            by_id |= {m.external_id: m for m in members_lock(
                program=program, external_ids=raced).values()}  # fmt: skip
        by_id |= made
        everyone = {m.pk: m for m in (*locked.values(), *by_id.values())}
        rules = self.settings.rules
        periods = sorted({
            bounds
            for order in self._orders()
            for _p, _l, _r, bounds in earning.cap_periods(
                program=program, rules=rules, placed_at=order.placed_at
            )
        })  # fmt: skip
        top = self.settings.tiers[-1].pk if self.settings.tiers else None
        accounts.accounts_load(
            members=everyone.values(),
            # A member at the top tier has nothing to reach: its windows are not counted.
            windows_for={pk for pk, m in everyone.items() if m.tier_id != top},
            new={m.pk for m in made.values()},
            now=self.now,
            window_days=tier_rules.windows_of(self.settings.tiers),
            periods=periods,
            with_lots=validity.per_earning(program),
            with_orders=referrals and any(m.referred_by_id for m in everyone.values()),
            with_push=push_enabled(),
        )
        self.members_by_pk = everyone
        for member in sorted(made.values(), key=lambda m: m.external_id):
            signup_bonus_award(member=member, new=True)
        return by_id

    def _orders(self) -> list[OrderInput]:
        return [item for item in self.items if isinstance(item, OrderInput)]

    def _one(
        self, order: OrderInput, recorded: set[str], members: dict[str, Member]
    ) -> BatchOutcome:
        external_id = order.external_id
        try:
            if external_id in self.written:
                earlier, result = self.written[external_id]
                if earlier.fingerprint != order.fingerprint:
                    raise OrderConflict(external_id=external_id)
                return BatchOutcome(external_id, result=_replayed(result))
            if external_id in recorded:
                replay = order_replay(
                    program=self.program, external_id=external_id, fingerprint=order.fingerprint
                )
                return BatchOutcome(external_id, result=replay)
        except LoyaltyError as error:
            return BatchOutcome(external_id, error=error)
        result = self._apply(order, members[order.member_external_id])
        self.written[external_id] = (order, result)
        return BatchOutcome(external_id, result=result)

    def _apply(self, checked: OrderInput, member: Member) -> OrderResult:
        """The order's whole effect, for a locked member and a new external id."""
        program, now = self.program, self.now
        account = accounts.account(member)
        earned = self._earning(checked, member, account)
        points = earned.total
        # Inside a return window the points wait (``pending``) instead of counting.
        pending_until = validity.pending_until(
            program=program, placed_at=checked.placed_at, points=points, now=now
        )
        order = _order_row(program, checked, member, earned, counts=not pending_until)
        unit.add(order)
        # What a referral asks: the member's first order, known before this one counts.
        referrer = self.members_by_pk.get(member.referred_by_id) if member.referred_by_id else None
        bonuses = referral_on_first_order(member=member, referrer=referrer, order=order)
        account.has_orders = True
        for period in account.earned:
            if period[0] <= checked.placed_at < period[1]:
                account.earned[period] += points
        self._credit(order, member, earned, pending_until)
        coupons = rewards_convert(member=member, program=program, order=order)
        order.balance_after = member.balance  # still waiting: written with the row
        webhook_enqueue(
            merchant_id=program.merchant_id,
            event=WebhookEvent.ORDER_RECORDED,
            occasion=checked.external_id,
            payload={
                "order": checked.external_id, "member": member.external_id,
                "amount": money.money_str(checked.amount, checked.currency),
                "currency": checked.currency,
                "points_earned": points, "points_pending": points if pending_until else 0,
                "balance": member.balance,
            },
        )  # fmt: skip
        return OrderResult(
            order=order, created=True, balance=member.balance, coupons_issued=coupons,
            bonuses=bonuses, pending_points=points if pending_until else 0,
            pending_until=pending_until,
        )  # fmt: skip

    def _earning(
        self, checked: OrderInput, member: Member, account: accounts.Account
    ) -> earning.EarnBreakdown:
        return checked.earning(
            program=self.program,
            member=member,
            rules=self.settings.rules,
            campaigns=self.campaigns,
            tiers=self.settings.tiers,
            earned=lambda start, end: accounts.earned(account, (start, end)),
        )

    def _credit(
        self, order: Order, member: Member, earned: earning.EarnBreakdown,
        pending_until: datetime | None,
    ) -> None:  # fmt: skip
        """The order's points: pending until the window ends, or in the ledger now (which
        may lift the member's tier); and the member's activity dates either way."""
        program, points = self.program, earned.total
        activity = validity.on_order(member=member, program=program, placed_at=order.placed_at)
        if pending_until:
            pending_hold(member=member, order=order, points=points, available_at=pending_until,
                         reason=earned.reason, member_updates=activity)  # fmt: skip
        elif points:
            entry = ledger_append(
                member=member,
                kind=LedgerEntry.Kind.EARN,
                points=points,
                reason=earned.reason,
                key=f"order:{order.pk}:earn",
                order=order,
                details=_earn_details(earned),
                member_updates=activity,
                expires_at=validity.earning_expiry(program=program, placed_at=order.placed_at),
            )
            webhook_points_earned(member=member, entry=entry, order=order.external_id)
            tier_on_earn(member=member, now=self.now)  # up at once; down only by the daily job
        elif activity:
            unit.member_update(member, **activity)


def _order_row(
    program: Program, checked: OrderInput, member: Member, earned: earning.EarnBreakdown,
    *, counts: bool,
) -> Order:  # fmt: skip
    """The order as stored: what it earned and how (``earning``), and the balance after it
    (its points in the balance when they ``count`` at once, not while pending)."""
    return Order(
        program=program,
        member=member,
        external_id=checked.external_id,
        amount=checked.amount,
        currency=checked.currency,
        points_base=earned.points_base,
        earn_rate=program.earn_rate,
        points_earned=earned.total,
        balance_after=member.balance + (earned.total if counts else 0),
        placed_at=checked.placed_at,
        fingerprint=checked.fingerprint,
        lines=lines_out(checked.lines),
        earning=earned.as_dict(),
        **checked.parts,
    )


def _earn_details(earned: earning.EarnBreakdown) -> dict[str, str | int | None]:
    details: dict[str, str | int | None] = {
        "base": str(earned.points_base),
        "rate": str(earned.earn_rate),
        "total": earned.total,
    }
    if earned.tier:
        details |= {"tier_multiplier": str(earned.tier_multiplier), "tier": earned.tier}
    return details


def _replayed(result: OrderResult) -> OrderResult:
    """The answer to the same order sent twice in one batch: the first's, not created."""
    return OrderResult(
        order=result.order,
        created=False,
        balance=result.order.balance_after,
        coupons_issued=result.coupons_issued,
        pending_points=result.pending_points,
        pending_until=result.pending_until,
    )
