"""Random sequences of orders, refunds, grants and deductions against a model of the ledger.

The model is a few dicts: each member's balance, each order's amount, points and
refunded share, each refund's amount, each grant key's points. Hypothesis drives
the services and the model side by side; after every step the database must agree
with the model, and at the end of each run the audit must find nothing.
"""

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from loyalty.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    MemberNotFound,
    OrderConflict,
    RefundConflict,
    RefundExceedsOrder,
)
from loyalty.models import Member, Order
from loyalty.services.ledger import ledger_audit
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from tests.factories import ProgramFactory

MEMBERS = ["ada", "bob", "cyd"]
RATES = ["10", "1", "1.5", "0.25", "3.3333", "7"]
cents = st.integers(min_value=1, max_value=50_000)
grant_points = st.integers(min_value=1, max_value=3_000)


def money(cents_: int) -> Decimal:
    return Decimal(cents_).scaleb(-2)


def floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


@dataclass
class ModelOrder:
    member: str
    amount: Decimal
    shipping: Decimal
    points: int
    balance_after: int
    refunded: Decimal = Decimal(0)
    reversed: int = 0

    @property
    def status(self) -> str:
        if self.refunded == 0:
            return Order.Status.PAID
        if self.refunded == self.amount:
            return Order.Status.REFUNDED
        return Order.Status.PARTIALLY_REFUNDED


@dataclass
class ModelRefund:
    amount: Decimal
    balance_after: int


class LedgerMachine(RuleBasedStateMachine):
    @initialize(rate=st.sampled_from(RATES))
    def start(self, rate):
        # A new program for every run: all runs share one test transaction, and the
        # model describes this program only.
        self.program = ProgramFactory(earn_rate=Decimal(rate))
        self.rate = Decimal(rate)
        self.balances: dict[str, int] = {}
        self.orders: dict[str, ModelOrder] = {}
        self.refunds: dict[tuple[str, str], ModelRefund] = {}
        self.grants: dict[tuple[str, str], int] = {}
        self.serial = 0

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    # --- orders -------------------------------------------------------------------------------

    def _send_order(self, external_id: str, model: ModelOrder):
        return order_record(
            program=self.program,
            external_id=external_id,
            member_external_id=model.member,
            amount=model.amount,
            currency="EUR",
            breakdown={"shipping": model.shipping},
        )

    @rule(member=st.sampled_from(MEMBERS), amount=cents, shipping_share=st.integers(0, 100))
    def new_order(self, member, amount, shipping_share):
        shipping = money(amount * shipping_share // 100)
        amount = money(amount)
        points = floor((amount - shipping) * self.rate)
        balance = self.balances.get(member, 0) + points
        model = ModelOrder(member, amount, shipping, points, balance_after=balance)

        external_id = self.next_id("A")

        result = self._send_order(external_id, model)

        assert result.created is True
        assert result.order.points_earned == points
        assert result.balance == balance
        self.balances[member] = balance
        self.orders[external_id] = model

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def replay_order(self, data):
        external_id = data.draw(st.sampled_from(sorted(self.orders)))
        model = self.orders[external_id]

        result = self._send_order(external_id, model)

        assert result.created is False
        assert result.balance == model.balance_after

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), extra=cents)
    def conflicting_order(self, data, extra):
        external_id = data.draw(st.sampled_from(sorted(self.orders)))
        model = self.orders[external_id]
        changed = ModelOrder(**{**model.__dict__, "amount": model.amount + money(extra)})

        with pytest.raises(OrderConflict):
            self._send_order(external_id, changed)

    # --- refunds ------------------------------------------------------------------------------

    def _send_refund(self, order_id: str, refund_id: str, amount: Decimal):
        return refund_record(
            program=self.program, order_external_id=order_id, external_id=refund_id, amount=amount
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), how=st.sampled_from(["partial", "full", "over"]))
    def refund(self, data, how):
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        model = self.orders[order_id]
        left = model.amount - model.refunded
        left_cents = int(left * 100)
        if how == "partial" and left_cents > 1:
            amount = money(data.draw(st.integers(1, left_cents - 1)))
        elif how in ("partial", "full") and left_cents > 0:
            amount = left
        else:
            amount = left + money(data.draw(cents))
        refund_id = self.next_id("R")

        if amount > left:
            with pytest.raises(RefundExceedsOrder):
                self._send_refund(order_id, refund_id, amount)
            return

        result = self._send_refund(order_id, refund_id, amount)

        refunded = model.refunded + amount
        target = floor(Decimal(model.points) * refunded / model.amount)
        taken = target - model.reversed
        assert result.created is True
        assert result.refund.points_reversed == taken
        assert 0 <= taken
        model.refunded, model.reversed = refunded, target
        assert model.reversed <= model.points
        if refunded == model.amount:
            assert model.reversed == model.points
        self.balances[model.member] -= taken
        assert result.balance == self.balances[model.member]
        self.refunds[(order_id, refund_id)] = ModelRefund(amount, result.balance)

    @precondition(lambda self: any(m.refunded < m.amount for m in self.orders.values()))
    @rule(data=st.data())
    def refund_after_spending(self, data):
        # The member spends every point, then the rest of an order is refunded: the
        # balance goes below zero, and later earnings pay it back.
        order_id = data.draw(
            st.sampled_from(sorted(k for k, m in self.orders.items() if m.refunded < m.amount))
        )
        model = self.orders[order_id]
        if self.balances[model.member] > 0:
            self._spend_everything(model.member)

        refund_id, left = self.next_id("R"), model.amount - model.refunded

        result = self._send_refund(order_id, refund_id, left)

        taken = model.points - model.reversed
        model.refunded, model.reversed = model.amount, model.points
        self.balances[model.member] -= taken
        assert result.balance == self.balances[model.member] <= 0
        self.refunds[(order_id, refund_id)] = ModelRefund(left, result.balance)

    @precondition(lambda self: self.refunds)
    @rule(data=st.data(), other=st.booleans())
    def replay_refund(self, data, other):
        order_id, refund_id = data.draw(st.sampled_from(sorted(self.refunds)))
        model = self.refunds[(order_id, refund_id)]

        if other:
            with pytest.raises(RefundConflict):
                self._send_refund(order_id, refund_id, model.amount + Decimal("0.01"))
            return
        result = self._send_refund(order_id, refund_id, model.amount)

        assert result.created is False
        assert result.balance == model.balance_after

    # --- grants and deductions ----------------------------------------------------------------

    @rule(
        member=st.sampled_from(MEMBERS),
        points=grant_points,
        deduct=st.booleans(),
        key=st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"])),
    )
    def grant_or_deduct(self, member, points, deduct, key):
        points = -points if deduct else points

        def send():
            return points_grant(
                program=self.program,
                member_external_id=member,
                points=points,
                reason="By hand",
                idempotency_key=key,
            )

        if member not in self.balances:
            with pytest.raises(MemberNotFound):
                send()
            return
        if key is not None and (member, key) in self.grants:
            if self.grants[(member, key)] == points:
                assert send().created is False
            else:
                with pytest.raises(IdempotencyConflict):
                    send()
            return
        if self.balances[member] + points < 0 and points < 0:
            with pytest.raises(InsufficientPoints):
                send()
            return

        result = send()

        assert result.created is True
        self.balances[member] += points
        assert result.entry.balance_after == self.balances[member]
        if key is not None:
            self.grants[(member, key)] = points

    @precondition(lambda self: any(balance > 0 for balance in self.balances.values()))
    @rule(data=st.data())
    def deduct_everything(self, data):
        member = data.draw(st.sampled_from(sorted(m for m, b in self.balances.items() if b > 0)))
        self._spend_everything(member)

    def _spend_everything(self, member: str) -> None:
        result = points_grant(
            program=self.program,
            member_external_id=member,
            points=-self.balances[member],
            reason="Spent it all",
            confirmed=True,  # any size: above the program's confirmation amount too
        )
        assert result.entry.balance_after == 0
        self.balances[member] = 0

    # --- what must always hold ----------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self):
        stored = dict(
            Member.objects.filter(program=self.program).values_list("external_id", "balance")
        )
        assert stored == self.balances

    @invariant()
    def orders_match_the_model(self):
        stored = {
            o.external_id: (o.points_earned, o.refunded_amount, o.points_reversed, o.status)
            for o in Order.objects.filter(program=self.program)
        }
        assert stored == {
            external_id: (m.points, m.refunded, m.reversed, m.status)
            for external_id, m in self.orders.items()
        }

    def teardown(self):
        assert ledger_audit() == []


LedgerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedger = pytest.mark.django_db(LedgerMachine.TestCase)
