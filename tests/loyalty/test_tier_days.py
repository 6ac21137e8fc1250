"""A member's tier points by day (``TierDay``): kept by every writer of counting entries,
checked by the ledger audit, filled by its migration; and the tier windows read from them
agree to the moment with the entries themselves."""

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Order, TierDay
from loyalty.services.ledger import ledger_audit
from loyalty.services.orders import order_record, orders_record_batch
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from loyalty.services.tier_settings import tiers_seed_defaults
from loyalty.storage import accounts
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def program():
    program = ProgramFactory(earn_rate=Decimal(1))  # 1 point per 1.00: amounts are points
    tiers_seed_defaults(program=program)
    return program


def order(program, external_id, amount, placed_at, member="m-1"):
    return order_record(program=program, external_id=external_id, member_external_id=member,
                        amount=Decimal(amount), currency="EUR", placed_at=placed_at)  # fmt: skip


def days(member_external_id="m-1"):
    member = Member.objects.get(external_id=member_external_id)
    return dict(TierDay.objects.filter(member=member).values_list("day", "points"))


def entries_by_day(member_external_id="m-1"):
    """What the rule says: each counting entry on the UTC day it counts from."""
    found: dict = {}
    for entry in LedgerEntry.objects.filter(member__external_id=member_external_id):
        counts = entry.kind in ("earn", "reversal") or (
            entry.kind == "grant" and entry.details.get("counts_for_tier") is True
        )
        if counts:
            at = entry.order.placed_at if entry.order_id else entry.created_at
            day = at.astimezone(UTC).date()
            found[day] = found.get(day, 0) + entry.points
    return found


@time_machine.travel(NOW, tick=False)
def test_every_writer_keeps_the_days_true(program):
    order(program, "A-1", "120", NOW - timedelta(days=40, hours=13))  # the day before, in UTC
    order(program, "A-2", "80", NOW - timedelta(days=40))
    order(program, "A-3", "50", NOW)
    refund_record(program=program, order_external_id="A-2", external_id="R-1",
                  amount=Decimal("40"))  # fmt: skip
    points_grant(program=program, member_external_id="m-1", points=30, reason="counts",
                 counts_for_tier=True)  # fmt: skip
    points_grant(program=program, member_external_id="m-1", points=999, reason="doesn't count")
    orders_record_batch(program=program, orders=[
        {"external_id": f"B-{n}", "member": "m-1", "amount": Decimal("10"),
         "currency": "EUR", "placed_at": NOW - timedelta(days=2)}
        for n in range(3)
    ])  # fmt: skip

    kept = days()
    assert kept == entries_by_day()
    assert kept[(NOW - timedelta(days=41)).date()] == 120
    # The refund's reversal counts from its order's placing, on the order's day.
    assert kept[(NOW - timedelta(days=40)).date()] == 80 - 40
    # The batch's three orders of one day: one row.
    assert kept[(NOW - timedelta(days=2)).date()] == sum(
        Order.objects.filter(external_id__startswith="B-").values_list("points_earned", flat=True)
    )
    assert ledger_audit() == []


def test_the_audit_finds_a_day_that_disagrees_either_way(program):
    order(program, "A-1", "120", timezone.now() - timedelta(days=3))
    member = Member.objects.get()
    TierDay.objects.filter(member=member).update(points=7)
    TierDay.objects.create(
        program=program, member=member, day=timezone.now().date() - timedelta(days=400), points=5
    )
    problems = sorted(m.problem for m in ledger_audit())
    old = timezone.now().date() - timedelta(days=400)
    assert problems == [
        f"tier points of {old}: 5 kept but entries sum to 0",
        f"tier points of {(timezone.now() - timedelta(days=3)).astimezone(UTC).date()}: "
        "7 kept but entries sum to 120",
    ]


def test_the_migration_fills_the_days_from_the_ledger(program):
    order(program, "A-1", "120", timezone.now() - timedelta(days=50))
    order(program, "A-2", "300", timezone.now() - timedelta(days=1))
    points_grant(program=program, member_external_id="m-1", points=30, reason="counts",
                 counts_for_tier=True)  # fmt: skip
    before = days()
    TierDay.objects.all().delete()
    migration = importlib.import_module("loyalty.migrations.0025_tier_days").Migration
    fill = migration.operations[-1].sql
    with connection.cursor() as cursor:
        cursor.execute(fill)
    assert days() == before == entries_by_day()
    assert ledger_audit() == []


@time_machine.travel(NOW, tick=False)
def test_windows_count_to_the_moment_across_the_first_day(program):
    """The window's first day is read entry by entry: an order a second before its start
    is out, a second after is in, though both are on one UTC day."""
    start = NOW - timedelta(days=90)
    order(program, "OUT", "100", start - timedelta(seconds=1))
    order(program, "IN", "40", start + timedelta(seconds=1))
    order(program, "LATER", "5", start + timedelta(days=1))
    member = Member.objects.get()
    sums = accounts.window_sums(member_ids=[member.pk], days={90, 89}, now=NOW)[member.pk]
    assert sums == {90: 45, 89: 5}


@time_machine.travel(NOW, tick=False)
def test_keep_finds_the_moment_within_a_whole_day(program):
    """The points fall short in the middle of a day read as one row: the moment and what
    is left then come from that day's entries."""
    day = NOW - timedelta(days=30)  # a whole day of the 90-day window
    order(program, "A-1", "100", day.replace(hour=9))
    order(program, "A-2", "100", day.replace(hour=15))
    order(program, "A-3", "100", day.replace(hour=20))
    order(program, "A-4", "250", NOW - timedelta(days=1))
    member = Member.objects.get()
    points = dict(Order.objects.values_list("external_id", "points_earned"))
    total = sum(points.values())
    # The member needs all but 150 of its points: the 9:00 order leaving is not enough to
    # fall short, the 15:00 one is.
    need = total - 150
    ask = accounts.StandingAsk(keep_from=NOW - timedelta(days=90), need=need, count_from=NOW)
    standing = accounts.keep_standings(asks={member.pk: ask})[member.pk]
    assert standing == accounts.KeepStanding(
        points=total,
        falls_at=day.replace(hour=15),
        left=total - points["A-1"] - points["A-2"],
        counted=0,
    )


def test_a_batch_of_many_members_and_days_keeps_every_day(program):
    """More days than one statement's plain values take: the upsert's arrays."""
    now = timezone.now()
    orders = [
        {"external_id": f"B-{n}", "member": f"m-{n % 5}", "amount": Decimal("10"),
         "currency": "EUR", "placed_at": now - timedelta(days=n % 7)}
        for n in range(30)
    ]  # fmt: skip
    orders_record_batch(program=program, orders=orders)
    orders_record_batch(program=program, orders=[{**o, "external_id": f"C-{o['external_id']}"}
                                                 for o in orders])  # fmt: skip
    assert TierDay.objects.count() > 8
    for n in range(5):
        assert days(f"m-{n}") == entries_by_day(f"m-{n}")
    assert ledger_audit() == []
