"""Pending points: an order's points wait out the program's return window before they count."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Order, PendingEarning, Program
from loyalty.selectors import member_summary
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_lock
from loyalty.services.merchants import program_update
from loyalty.services.orders import order_record
from loyalty.services.pending import pending_release
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from notifications.models import WebhookDelivery, WebhookEndpoint
from rewards.models import Coupon
from tests.factories import ProgramFactory
from tests.rewards.factories import RewardThresholdFactory
from tests.threads import at_once

WINDOW = 14


def pending_program(**fields) -> Program:
    return ProgramFactory(pending_days=WINDOW, **fields)


def buy(program, external_id="o-1", member="cust-1", amount="10.00", placed_at=None):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency=program.currency,
        placed_at=placed_at,
    )


def refund(program, order="o-1", external_id="r-1", amount="10.00"):
    return refund_record(
        program=program,
        order_external_id=order,
        external_id=external_id,
        amount=Decimal(amount),
    )


def member_of(program, external_id="cust-1") -> Member:
    return Member.objects.get(program=program, external_id=external_id)


def earn_entries(member):
    return list(LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EARN))


@pytest.mark.django_db
def test_without_a_window_points_count_at_once(program):
    result = buy(program)

    assert (result.balance, result.pending_points, result.pending_until) == (100, 0, None)
    assert not PendingEarning.objects.exists()


@pytest.mark.django_db
def test_order_points_stay_pending_and_out_of_the_balance():
    program = pending_program()
    placed = timezone.now() - timedelta(hours=1)

    result = buy(program, placed_at=placed)

    member = member_of(program)
    assert (result.balance, result.pending_points) == (0, 100)
    assert result.pending_until == placed + timedelta(days=WINDOW)
    assert (member.balance, member.pending) == (0, 100)
    assert result.order.points_earned == 100
    assert result.order.balance_after == 0
    assert earn_entries(member) == []
    assert ledger_audit() == []


@pytest.mark.django_db
def test_member_summary_shows_available_and_pending_apart():
    program = pending_program()
    placed = timezone.now() - timedelta(days=2)
    buy(program, placed_at=placed)
    points_grant(program=program, member_external_id="cust-1", points=30, reason="welcome")
    buy(program, external_id="o-2", amount="5.00")

    summary = member_summary(member=member_of(program))

    assert summary["balance"] == 30
    assert summary["pending_points"] == 150
    assert summary["pending_until"] == placed + timedelta(days=WINDOW)


@pytest.mark.django_db
def test_release_at_exactly_the_end_of_the_window_earns_the_points():
    program = pending_program()
    placed = timezone.now() - timedelta(days=1)
    buy(program, placed_at=placed)
    end = placed + timedelta(days=WINDOW)

    early = pending_release(now=end - timedelta(seconds=1))
    assert (early.earnings, member_of(program).balance) == (0, 0)

    run = pending_release(now=end)

    member = member_of(program)
    assert (run.earnings, run.points) == (1, 100)
    assert (member.balance, member.pending) == (100, 0)
    [entry] = earn_entries(member)
    assert entry.points == 100
    assert entry.idempotency_key == f"order:{Order.objects.get().pk}:earn"
    assert f"pending since {timezone.localdate(placed).isoformat()}" in entry.reason
    assert PendingEarning.objects.get().status == PendingEarning.Status.RELEASED
    assert ledger_audit() == []


@pytest.mark.django_db
def test_an_order_sent_after_its_window_ended_counts_at_once():
    program = pending_program()

    result = buy(program, placed_at=timezone.now() - timedelta(days=WINDOW, seconds=1))

    assert (result.balance, result.pending_points) == (100, 0)
    assert not PendingEarning.objects.exists()


@pytest.mark.django_db
def test_refund_inside_the_window_cancels_pending_points_not_spent_ones():
    program = pending_program()
    buy(program)
    points_grant(program=program, member_external_id="cust-1", points=40, reason="welcome")

    partial = refund(program, amount="4.00")
    rest = refund(program, external_id="r-2", amount="6.00")

    member = member_of(program)
    assert (partial.refund.points_reversed, partial.refund.pending_cancelled) == (40, 40)
    assert (rest.refund.points_reversed, rest.refund.pending_cancelled) == (60, 60)
    assert (member.balance, member.pending) == (40, 0)
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSAL).exists()
    assert PendingEarning.objects.get().status == PendingEarning.Status.CANCELLED
    assert pending_release(now=timezone.now() + timedelta(days=WINDOW + 1)).earnings == 0
    assert member_of(program).balance == 40
    assert ledger_audit() == []


@pytest.mark.django_db
def test_partial_refund_in_the_window_then_the_rest_after_release_add_up():
    program = pending_program()
    buy(program)
    refund(program, amount="3.00")

    pending_release(now=timezone.now() + timedelta(days=WINDOW))
    after = refund(program, external_id="r-2", amount="7.00")

    member = member_of(program)
    [entry] = earn_entries(member)
    assert entry.points == 70
    assert "30 of them cancelled by refunds" in entry.reason
    assert (after.refund.points_reversed, after.refund.pending_cancelled) == (70, 0)
    assert (member.balance, member.pending) == (0, 0)
    order = Order.objects.get()
    assert (order.points_earned, order.points_reversed) == (100, 100)
    assert ledger_audit() == []


@pytest.mark.django_db
def test_release_converts_points_into_a_coupon_at_a_threshold():
    program = pending_program()
    RewardThresholdFactory(program=program, points=100)
    result = buy(program)
    assert result.coupons_issued == []

    pending_release(now=timezone.now() + timedelta(days=WINDOW))

    coupon = Coupon.objects.get()
    assert coupon.member == member_of(program)
    assert coupon.order == result.order
    assert member_of(program).balance == 0
    assert ledger_audit() == []


@pytest.mark.django_db
def test_released_points_expire_a_validity_after_the_order(program):
    program = pending_program(reset_validity_on_order=False, points_validity_days=30)
    placed = timezone.now() - timedelta(days=1)
    buy(program, placed_at=placed)

    pending_release(now=timezone.now() + timedelta(days=WINDOW))

    assert member_of(program).points_expire_at == placed + timedelta(days=30)


@pytest.mark.django_db
def test_points_earned_webhook_fires_on_release_not_at_order_time(
    django_capture_on_commit_callbacks, settings
):
    program = pending_program()
    WebhookEndpoint.objects.create(
        merchant=program.merchant,
        url="http://127.0.0.1:9/hooks",
        events=["points_earned", "order_recorded"],
    )
    buy(program)
    assert list(WebhookDelivery.objects.values_list("event", flat=True)) == ["order_recorded"]

    pending_release(now=timezone.now() + timedelta(days=WINDOW))

    earned = WebhookDelivery.objects.get(event="points_earned")
    assert earned.payload["points"] == 100
    assert earned.payload["balance"] == 100


@pytest.mark.django_db
def test_release_twice_earns_once():
    program = pending_program()
    buy(program)
    later = timezone.now() + timedelta(days=WINDOW)

    first, second = pending_release(now=later), pending_release(now=later)

    assert (first.earnings, second.earnings) == (1, 0)
    assert member_of(program).balance == 100


@pytest.mark.django_db
def test_order_replay_shows_the_pending_points():
    program = pending_program()
    first = buy(program)

    again = buy(program)

    assert not again.created
    assert (again.pending_points, again.pending_until) == (100, first.pending_until)


@pytest.mark.django_db
def test_pending_days_is_a_setting_with_a_readable_refusal(program):
    from loyalty.errors import InvalidInput

    assert program.pending_days == 0
    assert program_update(program=program, pending_days=14).pending_days == 14
    with pytest.raises(InvalidInput) as refused:
        program_update(program=program, pending_days=400)
    assert "pending_days" in refused.value.fields
    program.refresh_from_db()
    assert program.pending_days == 14


@pytest.mark.django_db
def test_api_shows_pending_points_on_order_member_and_refund(api_for):
    program = pending_program()
    api = api_for(program)

    created = api.post(
        "/api/v1/orders",
        {"external_id": "o-1", "member": "cust-1", "amount": "10.00", "currency": "EUR"},
        format="json",
    )
    got = api.get("/api/v1/orders/o-1")
    member = api.get("/api/v1/members/cust-1")
    refunded = api.post(
        "/api/v1/orders/o-1/refunds", {"external_id": "r-1", "amount": "2.00"}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert (created.json()["balance"], created.json()["pending_points"]) == (0, 100)
    assert created.json()["pending_until"] is not None
    assert got.json()["pending_points"] == 100
    assert (member.json()["balance"], member.json()["pending_points"]) == (0, 100)
    assert member.json()["pending_until"] == created.json()["pending_until"]
    body = refunded.json()
    assert (body["points_reversed"], body["pending_cancelled"], body["balance"]) == (20, 20, 0)


@pytest.mark.django_db
def test_program_api_reads_and_writes_pending_days(api_for, program):
    api = api_for(program)

    put = api.put("/api/v1/program", {"pending_days": 14}, format="json")
    bad = api.put("/api/v1/program", {"pending_days": -1}, format="json")

    assert put.status_code == 200, put.json()
    assert put.json()["pending_days"] == 14
    assert bad.status_code == 400
    assert api.get("/api/v1/program").json()["pending_days"] == 14


@pytest.mark.django_db
def test_run_job_release_pending(capsys):
    program = pending_program()
    buy(program, placed_at=timezone.now() - timedelta(days=WINDOW, seconds=-1))
    PendingEarning.objects.update(available_at=timezone.now() - timedelta(seconds=1))

    call_command("run_job", "release_pending")

    assert "'earnings': 1" in capsys.readouterr().out
    assert member_of(program).balance == 100


@pytest.mark.django_db
def test_audit_finds_a_pending_total_that_does_not_add_up():
    program = pending_program()
    buy(program)

    Member.objects.filter(program=program).update(pending=99)

    [mismatch] = ledger_audit()
    assert "pending 99" in mismatch.problem


# Concurrency: real threads against PostgreSQL.


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_release_racing_a_refund_of_the_same_order_takes_every_point_once(attempt):
    program = pending_program()
    buy(program)
    points_grant(program=program, member_external_id="cust-1", points=10, reason="welcome")
    later = timezone.now() + timedelta(days=WINDOW)

    released, refunded = at_once(
        [lambda: pending_release(now=later), lambda: refund(program, amount="5.00")]
    )

    assert not isinstance(released, Exception), released
    assert not isinstance(refunded, Exception), refunded
    if released.earnings == 0:  # the refund held the member: the next run releases the rest
        pending_release(now=later)
    member = member_of(program)
    # 100 earned, 50 taken back: from pending (refund first) or from the balance (release first).
    assert (member.balance, member.pending) == (60, 0)
    assert refunded.refund.points_reversed == 50
    assert refunded.refund.pending_cancelled in (0, 50)
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_release_skips_a_member_being_written_and_a_later_run_takes_it():
    program = pending_program()
    buy(program)
    later = timezone.now() + timedelta(days=WINDOW)
    locked = threading.Event()
    done = threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                member_lock(program=program, external_id="cust-1")
                locked.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(timeout=30)
    try:
        skipped = pending_release(now=later)
    finally:
        done.set()
        holder.join()

    assert skipped.earnings == 0
    assert pending_release(now=later).earnings == 1
    assert member_of(program).balance == 100


@pytest.mark.django_db(transaction=True)
def test_two_release_runs_at_once_release_each_earning_once():
    program = pending_program()
    for n in range(30):
        buy(program, external_id=f"o-{n}", member=f"cust-{n % 10}")
    later = timezone.now() + timedelta(days=WINDOW)

    runs = at_once([lambda: pending_release(now=later, batch_size=3)] * 2)

    assert not any(isinstance(run, Exception) for run in runs), runs
    assert sum(run.earnings for run in runs) == 30
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN).count() == 30
    assert sum(Member.objects.values_list("balance", flat=True)) == 3000
    assert not Member.objects.exclude(pending=0).exists()
    assert ledger_audit() == []
