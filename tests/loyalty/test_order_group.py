"""Group commit (loyalty.storage.group, for orders) with real threads against PostgreSQL.

To make a group for sure, the test holds one member's row locked from its own
connection: the order for that member leads and waits on the lock, the orders
sent meanwhile queue behind it, and releasing the lock lets the first of them
write them all in one transaction. What must hold: each order gets exactly the
outcome it would get alone.
"""

import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, transaction
from prometheus_client import REGISTRY

from loyalty.models import Member, Order, Program
from loyalty.rules import earning as earning_rules
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import ORDER_GROUP, order_input, order_record, order_record_grouped
from tests.factories import ProgramFactory
from tests.faults.conftest import database_url, wait_until, waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def checked(program, external_id, member, amount="10.00"):
    return order_input(
        program=program, external_id=external_id, member_external_id=member,
        amount=Decimal(amount), currency=program.currency,
    )  # fmt: skip


class Sent:
    """One order sent from its own thread (its own connection), as a request would."""

    def __init__(self, program, order):
        self.outcome = None
        self.thread = threading.Thread(target=self._run, args=(program, order))
        self.thread.start()

    def _run(self, program, order):
        try:
            self.outcome = order_record_grouped(program=program, order=order)
        except Exception as error:  # noqa: BLE001 - the test looks at it
            self.outcome = error
        finally:
            connection.close()

    def result(self):
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the order never got its answer"
        return self.outcome


def group_sizes():
    """Observations of the group-size histogram so far, by bucket upper bound."""
    return {
        bound: REGISTRY.get_sample_value("loyalty_order_group_size_bucket", {"le": bound})
        for bound in ("1.0", "2.0", "4.0", "8.0")
    } | {"count": REGISTRY.get_sample_value("loyalty_order_group_size_count")}


def wait_until_queued(count):
    deadline = time.monotonic() + 20
    while len(ORDER_GROUP._waiting) < count:
        assert time.monotonic() < deadline, "the orders did not queue"
        time.sleep(0.01)


def wait_until_leading():
    deadline = time.monotonic() + 20
    while not ORDER_GROUP._writing:
        assert time.monotonic() < deadline, "no order leads"
        time.sleep(0.01)


class Held:
    """A member's row locked from the test's own transaction until ``release``."""

    def __init__(self, program, external_id):
        member_upsert(program=program, external_id=external_id)
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        Member.objects.select_for_update().get(program=program, external_id=external_id)

    def release(self):
        self.atomic.__exit__(None, None, None)


def test_orders_sent_together_are_written_together_each_with_its_own_outcome():
    # given a recorded order, and a member held so that the next order waits
    program = ProgramFactory()
    order_record(program=program, external_id="OLD", member_external_id="ann",
                 amount=Decimal("5.00"), currency=program.currency)  # fmt: skip
    held = Held(program, "held")
    before = group_sizes()

    # when an order for the held member leads, and five more arrive while it waits:
    # two of a new member, a retry of OLD, OLD with another amount, and one of ann
    leader = Sent(program, checked(program, "L-1", "held"))
    wait_until_leading()
    sent = [
        Sent(program, checked(program, "B-1", "bob", "20.00")),
        Sent(program, checked(program, "B-2", "bob", "30.00")),
        Sent(program, checked(program, "OLD", "ann", "5.00")),
        Sent(program, checked(program, "OLD", "ann", "6.00")),
        Sent(program, checked(program, "A-2", "ann", "1.00")),
    ]
    wait_until_queued(5)
    held.release()
    outcomes = [s.result() for s in [leader, *sent]]

    # then the five were written as one group, after the leader alone
    after = group_sizes()
    assert after["count"] - before["count"] == 2
    assert after["1.0"] - before["1.0"] == 1
    assert after["4.0"] - before["4.0"] == 1
    assert after["8.0"] - before["8.0"] == 2
    # and each got what it would have got alone
    lead, b1, b2, retry, _conflict, a2 = outcomes
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == ["OrderResult"] * 4 + ["OrderConflict", "OrderResult"]
    assert [o.created for o in (lead, b1, b2, retry, a2)] == [True, True, True, False, True]
    assert [o.balance for o in (lead, b1, b2, retry, a2)] == [100, 200, 500, 50, 60]
    assert Order.objects.filter(program=program).count() == 5
    assert Member.objects.get(program=program, external_id="bob").balance == 500
    assert ledger_audit() == []


def test_an_order_that_crashes_its_group_fails_alone(monkeypatch):
    # given an order whose writing raises (a bug), sent in a group with two good ones
    program = ProgramFactory()
    real = earning_rules.earn_breakdown

    def breaking(**kwargs):
        if kwargs["external_id"] == "BOOM":
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(earning_rules, "earn_breakdown", breaking)
    held = Held(program, "held")
    leader = Sent(program, checked(program, "L-1", "held"))
    wait_until_leading()
    sent = [Sent(program, checked(program, n, m)) for n, m in [("G-1", "gus"), ("BOOM", "bea"),
                                                               ("G-2", "gus")]]  # fmt: skip
    wait_until_queued(3)
    held.release()
    outcomes = [s.result() for s in [leader, *sent]]

    # then only that order's request fails; the others are written, once
    assert isinstance(outcomes[2], RuntimeError)
    assert [o.created for o in (outcomes[0], outcomes[1], outcomes[3])] == [True] * 3
    assert outcomes[3].balance == 200
    assert not Order.objects.filter(program=program, external_id="BOOM").exists()
    assert ledger_audit() == []


def test_an_order_inside_a_transaction_is_written_in_it_without_waiting_for_a_group():
    # given a group being written (its leader waits on a held member)
    program = ProgramFactory()
    held = Held(program, "held")
    leader = Sent(program, checked(program, "L-1", "held"))
    wait_until_leading()

    # when an order is recorded inside a caller's transaction meanwhile, which then fails
    def in_transaction():
        try:
            with transaction.atomic():
                order_record_grouped(program=program, order=checked(program, "T-1", "tim"))
                assert Order.objects.filter(external_id="T-1").exists()
                raise LookupError("the caller's next step fails")
        except LookupError:
            pass
        finally:
            connection.close()

    caller = threading.Thread(target=in_transaction)
    caller.start()
    caller.join(timeout=20)
    alive = caller.is_alive()
    held.release()
    leader.result()

    # then it did not queue behind the group, and it rolled back with the caller's transaction
    assert not alive
    assert not Order.objects.filter(program=program, external_id="T-1").exists()


def test_orders_under_two_states_of_the_program_are_written_each_under_its_own():
    # given a request that loaded the program before the earn rate changed, and one after
    program = ProgramFactory()
    before_change = Program.objects.get(pk=program.pk)
    Program.objects.filter(pk=program.pk).update(earn_rate=Decimal(20))
    after_change = Program.objects.get(pk=program.pk)

    held = Held(program, "held")
    leader = Sent(after_change, checked(after_change, "L-1", "held"))
    wait_until_leading()
    old = Sent(before_change, checked(before_change, "O-1", "olga"))
    new = Sent(after_change, checked(after_change, "N-1", "nick"))
    wait_until_queued(2)
    held.release()
    outcomes = [s.result() for s in (leader, old, new)]

    # then each earned at the rate its own request saw
    assert [o.order.points_earned for o in outcomes] == [200, 100, 200]
    assert Order.objects.get(program=program, external_id="O-1").earn_rate == Decimal(10)


def test_a_group_whose_connection_drops_midway_is_written_again_order_by_order():
    # given a group of three orders queued behind a leader
    program = ProgramFactory()
    for name in ("gus", "hal", "ivy"):
        member_upsert(program=program, external_id=name)
    held = Held(program, "held")
    leader = Sent(program, checked(program, "L-1", "held"))
    wait_until_leading()
    sent = [Sent(program, checked(program, f"G-{n}", name, "20.00"))
            for n, name in enumerate(("gus", "hal", "ivy"))]  # fmt: skip
    wait_until_queued(3)

    with psycopg.connect(database_url()) as blocker:
        # and one of its members locked elsewhere, so the group's transaction stops half way
        blocker.execute(
            "SELECT id FROM loyalty_member WHERE program_id = %s AND external_id = 'gus'"
            " FOR UPDATE",
            [program.pk],
        )
        held.release()
        # (the leader is written alone first: once it has its answer, the only backend
        # waiting on a lock is the group's, even on a machine too busy to be quick)
        first = leader.result()
        writer = wait_until(
            lambda: waiting_on_a_lock(exclude=blocker.info.backend_pid),
            timeout=20,
            message="the group never waited on the lock",
        )
        # when PostgreSQL drops the group's connection
        blocker.execute("SELECT pg_terminate_backend(%s)", [writer])
        blocker.rollback()
    outcomes = [first, *(s.result() for s in sent)]

    # then each order is written once, on its own, as if it had come alone: the group's
    # transaction died whole, and Django closed the dead connection as its rollback failed,
    # so the orders written again one by one go on a new one
    assert [type(o).__name__ for o in outcomes] == ["OrderResult"] * 4
    assert all(o.created for o in outcomes)
    assert Order.objects.filter(program=program).count() == 4
    assert Member.objects.get(program=program, external_id="gus").balance == 200
    assert ledger_audit() == []
