"""Points expiry in both validity modes: the job, lots, spending order, idempotency."""

import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from loyalty.errors import LoyaltyError
from loyalty.models import LedgerEntry, Member, PointLot
from loyalty.services.expiry import ExpiryRun, _expire_reset_batch, points_expire
from loyalty.services.ledger import ledger_audit
from loyalty.services.merchants import program_update
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from tests.factories import ProgramFactory

NOW = timezone.now()


def order(program, external_id, member="m1", amount="10.00", days_ago=0):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency="EUR",
        placed_at=NOW - timedelta(days=days_ago),
    )


def lots_match_balance(member: Member) -> bool:
    member.refresh_from_db()
    remaining = PointLot.objects.filter(member=member).aggregate(s=Sum("remaining"))["s"] or 0
    return remaining == max(member.balance, 0)


@pytest.fixture
def reset_program(db):
    return ProgramFactory(points_validity_days=365, reset_validity_on_order=True)


@pytest.fixture
def lot_program(db):
    return ProgramFactory(points_validity_days=365, reset_validity_on_order=False)


def test_reset_mode_expires_the_whole_balance_a_validity_after_the_last_order(reset_program):
    # given a member whose last order is 400 days old
    order(reset_program, "A-1", days_ago=400)
    member = Member.objects.get(program=reset_program)
    assert member.points_expire_at == NOW - timedelta(days=35)

    # when the job runs
    run = points_expire(now=NOW)

    # then all 100 points expire with a readable reason, and the date is spent
    member.refresh_from_db()
    assert (run.entries, run.points, member.balance, member.points_expire_at) == (1, 100, 0, None)
    entry = member.ledger.get(kind=LedgerEntry.Kind.EXPIRE)
    assert entry.points == -100
    assert entry.reason.startswith("100 points expired on ")
    assert "no order since" in entry.reason
    assert ledger_audit() == []


def test_reset_mode_a_new_order_moves_the_date_and_nothing_expires(reset_program):
    order(reset_program, "A-1", days_ago=400)
    order(reset_program, "A-2", days_ago=10)

    run = points_expire(now=NOW)

    assert run.entries == 0
    member = Member.objects.get(program=reset_program)
    assert member.balance == 200
    assert member.points_expire_at == NOW + timedelta(days=355)


def test_the_job_run_twice_expires_once(reset_program):
    for n in range(5):
        order(reset_program, f"A-{n}", member=f"m{n}", days_ago=400)

    first = points_expire(now=NOW, batch_size=2)
    second = points_expire(now=NOW, batch_size=2)

    assert (first.entries, second.entries) == (5, 0)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).count() == 5
    assert ledger_audit() == []


def test_a_run_that_stopped_after_one_batch_is_finished_by_the_next_run(reset_program):
    # given a run that committed its first batch and then died
    for n in range(7):
        order(reset_program, f"A-{n}", member=f"m{n}", days_ago=400)
    _expire_reset_batch(now=NOW, batch_size=3, run=ExpiryRun())

    # when the job runs again
    rerun = points_expire(now=NOW, batch_size=3)

    # then it expires exactly the members the dead run had not reached
    assert rerun.entries == 4
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).count() == 7
    assert ledger_audit() == []


def test_a_negative_balance_does_not_expire_but_its_date_is_spent(reset_program):
    order(reset_program, "A-1", days_ago=400)
    points_grant(program=reset_program, member_external_id="m1", points=-100, reason="spent")
    refund_record(
        program=reset_program, order_external_id="A-1", external_id="R-1", amount=Decimal("10")
    )

    run = points_expire(now=NOW)

    member = Member.objects.get(program=reset_program)
    assert (run.entries, member.balance, member.points_expire_at) == (0, -100, None)


def test_per_earning_mode_expires_each_lot_on_its_own_date(lot_program):
    # given an old and a recent earning
    order(lot_program, "A-1", amount="10.00", days_ago=400)
    order(lot_program, "A-2", amount="5.00", days_ago=100)
    member = Member.objects.get(program=lot_program)
    assert member.points_expire_at == NOW - timedelta(days=35)

    # when the job runs
    run = points_expire(now=NOW)

    # then only the old lot expires, and the entry says which lot it was
    member.refresh_from_db()
    assert (run.entries, run.points, member.balance) == (1, 100, 50)
    entry = member.ledger.get(kind=LedgerEntry.Kind.EXPIRE)
    assert "100 of 100 points from Order #A-1" in entry.reason
    assert entry.details["lot"] == PointLot.objects.get(entry__order__external_id="A-1").pk
    assert member.points_expire_at == NOW + timedelta(days=265)
    assert lots_match_balance(member)
    assert points_expire(now=NOW).entries == 0
    assert ledger_audit() == []


def test_per_earning_spending_takes_the_oldest_points_first(lot_program):
    order(lot_program, "A-1", amount="10.00", days_ago=300)
    order(lot_program, "A-2", amount="5.00", days_ago=100)

    points_grant(program=lot_program, member_external_id="m1", points=-120, reason="spent")

    old, new = PointLot.objects.order_by("expires_at")
    assert (old.remaining, new.remaining) == (0, 30)
    # the spent lot expires with nothing left: no entry
    run = points_expire(now=NOW + timedelta(days=70))
    assert run.entries == 0
    member = Member.objects.get(program=lot_program)
    assert lots_match_balance(member)


def test_per_earning_refund_takes_its_own_orders_lot_first(lot_program):
    order(lot_program, "A-1", amount="10.00", days_ago=300)
    order(lot_program, "A-2", amount="5.00", days_ago=100)

    refund_record(
        program=lot_program, order_external_id="A-2", external_id="R-1", amount=Decimal("5.00")
    )

    old, new = PointLot.objects.order_by("expires_at")
    assert (old.remaining, new.remaining) == (100, 0)
    assert lots_match_balance(Member.objects.get(program=lot_program))


def test_per_earning_new_points_pay_a_debt_before_forming_a_lot(lot_program):
    order(lot_program, "A-1", amount="10.00", days_ago=10)
    points_grant(program=lot_program, member_external_id="m1", points=-100, reason="spent")
    refund_record(
        program=lot_program, order_external_id="A-1", external_id="R-1", amount=Decimal("10")
    )
    assert Member.objects.get(program=lot_program).balance == -100

    order(lot_program, "A-2", amount="15.00", days_ago=1)

    lot = PointLot.objects.get(entry__order__external_id="A-2")
    assert (lot.points, lot.remaining) == (150, 50)
    assert lots_match_balance(Member.objects.get(program=lot_program))


def test_a_grant_can_carry_its_own_expiry(lot_program):
    order(lot_program, "A-1", days_ago=1)
    soon = NOW + timedelta(days=7)

    points_grant(
        program=lot_program, member_external_id="m1", points=40, reason="welcome", expires_at=soon
    )

    member = Member.objects.get(program=lot_program)
    assert member.points_expire_at == soon
    run = points_expire(now=soon)
    member.refresh_from_db()
    assert (run.points, member.balance) == (40, 100)


def test_a_past_expiry_on_a_grant_is_refused(lot_program):
    order(lot_program, "A-1", days_ago=1)
    with pytest.raises(LoyaltyError) as error:
        points_grant(
            program=lot_program,
            member_external_id="m1",
            points=40,
            reason="late",
            expires_at=NOW - timedelta(days=1),
        )
    assert error.value.code == "validation_error"


def test_the_expiry_mode_cannot_change_once_members_hold_points(reset_program):
    order(reset_program, "A-1", days_ago=1)
    with pytest.raises(LoyaltyError) as error:
        program_update(program=reset_program, reset_validity_on_order=False)
    assert error.value.code == "validity_mode_locked"
    # the validity itself may still change
    program_update(program=reset_program, points_validity_days=30)


def test_a_program_without_validity_never_expires(db):
    program = ProgramFactory(points_validity_days=None)
    order(program, "A-1", days_ago=4000)
    assert points_expire(now=NOW).entries == 0
    assert Member.objects.get(program=program).points_expire_at is None


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_expire_every_member_exactly_once():
    program = ProgramFactory(points_validity_days=365, reset_validity_on_order=True)
    for n in range(40):
        order(program, f"A-{n}", member=f"m{n}", days_ago=400)
    barrier = threading.Barrier(2)
    runs: list[ExpiryRun] = []

    def run() -> None:
        barrier.wait()
        try:
            runs.append(points_expire(now=NOW, batch_size=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.entries for r in runs) == 40
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).count() == 40
    assert ledger_audit() == []


def test_run_job_runs_the_expiry_now(reset_program):
    order(reset_program, "A-1", days_ago=400)
    out = StringIO()

    call_command("run_job", "expire_points", stdout=out)

    assert "'entries': 1" in out.getvalue()
    assert Member.objects.get(program=reset_program).balance == 0


def test_the_summary_tells_when_points_expire_and_how_many(lot_program, reset_program):
    from loyalty.selectors import points_expiring

    order(lot_program, "A-1", amount="10.00", days_ago=300)
    order(lot_program, "A-2", amount="5.00", days_ago=100)
    order(reset_program, "B-1", amount="7.00", days_ago=5)

    lot_member = Member.objects.get(program=lot_program)
    reset_member = Member.objects.get(program=reset_program)
    assert points_expiring(member=lot_member) == (NOW + timedelta(days=65), 100)
    assert points_expiring(member=reset_member) == (NOW + timedelta(days=360), 70)
