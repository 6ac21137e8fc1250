"""The services under real concurrency: threads with their own connections, released together.

Each test starts N threads that wait on a barrier and then call a service at the
same moment, so they really collide in PostgreSQL. What must hold: every point is
earned, reversed or deducted exactly once, no balance goes where a lone request
could not take it, and the audit finds nothing afterwards.
"""

from collections import Counter
from decimal import Decimal

import pytest

from loyalty.errors import (
    InsufficientPoints,
    OrderConflict,
    RefundExceedsOrder,
)
from loyalty.models import LedgerEntry, Member, Order, Refund
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from tests.factories import ProgramFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(outcomes):
    return Counter(type(outcome).__name__ for outcome in outcomes)


def order(program, external_id, member="cust-1", amount="10.00"):
    return lambda: order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency=program.currency,
    )


def balance(program, member="cust-1"):
    return Member.objects.get(program=program, external_id=member).balance


def test_concurrent_orders_of_one_member_all_earn():
    # given a known member
    program = ProgramFactory()
    member_upsert(program=program, external_id="cust-1")

    # when 20 different orders arrive for them at once
    amounts = [f"{n}.{n:02d}" for n in range(1, 21)]
    outcomes = at_once([order(program, f"A-{n}", amount=a) for n, a in enumerate(amounts)])

    # then each earned once, and the balance is their exact sum
    assert kinds(outcomes) == {"OrderResult": 20}
    expected = sum(int(Decimal(a) * 10) for a in amounts)
    assert balance(program) == expected
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN).count() == 20
    # the chain of balances is one line: every entry saw the one before it
    afters = sorted(LedgerEntry.objects.values_list("balance_after", flat=True))
    assert afters[-1] == expected
    assert len(set(afters)) == 20
    assert sorted(o.balance for o in outcomes)[-1] == expected
    assert ledger_audit() == []


def test_the_same_order_sent_ten_times_at_once_earns_once():
    program = ProgramFactory()

    outcomes = at_once([order(program, "A-1", amount="100.00") for _ in range(10)])

    assert kinds(outcomes) == {"OrderResult": 10}
    assert sorted(o.created for o in outcomes) == [False] * 9 + [True]
    assert {o.order.pk for o in outcomes} == {Order.objects.get().pk}
    assert {o.balance for o in outcomes} == {1000}
    assert Member.objects.count() == 1
    assert balance(program) == 1000
    assert LedgerEntry.objects.count() == 1
    assert ledger_audit() == []


def test_a_new_member_ordering_ten_times_at_once_is_one_member():
    # given a member the program has never seen
    program = ProgramFactory()

    # when 10 of their orders arrive at once, each creating the member on the fly
    outcomes = at_once([order(program, f"A-{n}", member="newcomer") for n in range(10)])

    # then there is one member holding all the points
    assert kinds(outcomes) == {"OrderResult": 10}
    assert list(Member.objects.values_list("external_id", "balance")) == [("newcomer", 1000)]
    assert Order.objects.filter(member__external_id="newcomer").count() == 10
    assert ledger_audit() == []


def test_the_same_order_id_for_different_members_at_once_is_recorded_once():
    # an integrator bug: one order id sent for 8 different customers at the same moment
    program = ProgramFactory()

    outcomes = at_once([order(program, "A-1", member=f"cust-{n}") for n in range(8)])

    # one of them wins, the others are conflicts, and no loser is left half-created
    assert kinds(outcomes) == {"OrderResult": 1, "OrderConflict": 7}
    winner = next(o for o in outcomes if not isinstance(o, OrderConflict))
    assert winner.created is True
    assert list(Member.objects.values_list("external_id", "balance")) == [
        (winner.order.member.external_id, 100)
    ]
    assert ledger_audit() == []


def test_concurrent_deductions_never_take_more_than_the_balance():
    # given a member holding 100 points
    program = ProgramFactory()
    order(program, "A-1", amount="10.00")()

    # when 10 deductions of 80 arrive at once
    outcomes = at_once(
        [
            lambda: points_grant(
                program=program, member_external_id="cust-1", points=-80, reason="Redeemed"
            )
            for _ in range(10)
        ]
    )

    # then exactly one is applied and the balance never dips below zero
    assert kinds(outcomes) == {"GrantResult": 1, "InsufficientPoints": 9}
    assert all(o.params["balance"] == 20 for o in outcomes if isinstance(o, InsufficientPoints))
    assert balance(program) == 20
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DEDUCT).count() == 1
    assert ledger_audit() == []


def test_the_same_grant_sent_ten_times_at_once_is_applied_once():
    program = ProgramFactory()
    member_upsert(program=program, external_id="cust-1")

    outcomes = at_once(
        [
            lambda: points_grant(
                program=program,
                member_external_id="cust-1",
                points=50,
                reason="Welcome",
                idempotency_key="welcome",
            )
            for _ in range(10)
        ]
    )

    assert kinds(outcomes) == {"GrantResult": 10}
    assert sorted(o.created for o in outcomes) == [False] * 9 + [True]
    assert balance(program) == 50
    assert ledger_audit() == []


def test_concurrent_partial_refunds_never_reverse_more_than_earned():
    # given an order of 100.00 that earned 1000 points
    program = ProgramFactory()
    order(program, "A-1", amount="100.00")()

    # when 10 refunds of 12.50 arrive at once: only 8 of them fit in the order
    outcomes = at_once(
        [
            lambda n=n: refund_record(
                program=program,
                order_external_id="A-1",
                external_id=f"R-{n}",
                amount=Decimal("12.50"),
            )
            for n in range(10)
        ]
    )

    # then 8 are recorded, 2 refused, and exactly the 1000 earned points are taken back
    assert kinds(outcomes) == {"RefundResult": 8, "RefundExceedsOrder": 2}
    assert all(isinstance(o, RefundExceedsOrder) or o.created for o in outcomes)
    refunded = Order.objects.get()
    assert (refunded.status, refunded.refunded_amount, refunded.points_reversed) == (
        Order.Status.REFUNDED,
        Decimal("100.00"),
        1000,
    )
    assert sum(Refund.objects.values_list("points_reversed", flat=True)) == 1000
    assert balance(program) == 0
    assert ledger_audit() == []


def test_concurrent_uneven_refunds_add_up_to_the_points_earned():
    # given an order of 100.00 at 1.5 points per 1.00 (150 points)
    program = ProgramFactory(earn_rate=Decimal("1.5"))
    order(program, "A-1", amount="100.00")()
    amounts = ["0.01", "0.33", "3.33", "7.77", "9.99", "11.11", "13.13", "17.17", "37.16"]
    assert sum(Decimal(a) for a in amounts) == Decimal("100.00")

    # when refunds that add up to the whole order arrive at once, in whatever order
    outcomes = at_once(
        [
            lambda n=n, a=a: refund_record(
                program=program, order_external_id="A-1", external_id=f"R-{n}", amount=Decimal(a)
            )
            for n, a in enumerate(amounts)
        ]
    )

    # then together they take back exactly what it earned
    assert kinds(outcomes) == {"RefundResult": len(amounts)}
    assert sum(o.refund.points_reversed for o in outcomes) == 150
    assert balance(program) == 0
    assert Order.objects.get().status == Order.Status.REFUNDED
    assert ledger_audit() == []


def test_the_same_refund_sent_ten_times_at_once_is_applied_once():
    program = ProgramFactory()
    order(program, "A-1", amount="100.00")()

    outcomes = at_once(
        [
            lambda: refund_record(
                program=program, order_external_id="A-1", external_id="R-1", amount=Decimal(30)
            )
            for _ in range(10)
        ]
    )

    assert kinds(outcomes) == {"RefundResult": 10}
    assert sorted(o.created for o in outcomes) == [False] * 9 + [True]
    assert {o.balance for o in outcomes} == {700}
    assert balance(program) == 700
    assert ledger_audit() == []


def test_orders_refunds_and_deductions_of_one_member_at_once_keep_the_ledger_whole():
    # given a member with 1000 points from an order of 100.00
    program = ProgramFactory()
    order(program, "A-0", amount="100.00")()

    # when new orders, a full refund of the first order and deductions all arrive at once
    calls = [order(program, f"A-{n}", amount="5.00") for n in range(1, 9)]
    calls.append(
        lambda: refund_record(
            program=program, order_external_id="A-0", external_id="R-1", amount=Decimal(100)
        )
    )
    calls += [
        lambda: points_grant(
            program=program, member_external_id="cust-1", points=-300, reason="Redeemed"
        )
        for _ in range(6)
    ]
    outcomes = at_once(calls)

    # then whatever order they ran in, the balance is the sum of what was applied
    applied = kinds(outcomes)
    assert applied["OrderResult"] == 8
    assert applied["RefundResult"] == 1
    assert applied["GrantResult"] + applied["InsufficientPoints"] == 6
    expected = 1000 + 8 * 50 - 1000 - 300 * applied["GrantResult"]
    assert balance(program) == expected
    assert sum(LedgerEntry.objects.values_list("points", flat=True)) == expected
    # a deduction never took the balance below zero, only the refund may have
    assert not LedgerEntry.objects.filter(kind="deduct", balance_after__lt=0).exists()
    assert ledger_audit() == []
