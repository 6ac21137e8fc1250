"""The tier job and upgrades under real concurrency (threads against PostgreSQL), and the
job's cost: a constant number of queries per batch, whatever the number of members."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Order, TierChange
from loyalty.services.ledger import ledger_audit
from loyalty.services.orders import order_record
from loyalty.services.tier_job import tiers_evaluate
from loyalty.services.tier_settings import tiers_seed_defaults
from tests.factories import ProgramFactory
from tests.threads import at_once


def tiered_program():
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    return program


def order(program, external_id, amount, member="m-1", placed_at=None):
    return lambda: order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency="EUR",
        placed_at=placed_at,
    )


@pytest.mark.django_db(transaction=True)
def test_two_orders_at_once_upgrade_once_and_record_one_change():
    program = tiered_program()
    order(program, "A-0", "150")()
    outcomes = at_once([order(program, "A-1", "100"), order(program, "A-2", "100")])
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    member = Member.objects.select_related("tier").get()
    assert member.tier.name == "Gold"
    assert TierChange.objects.count() == 1
    # The order that lifted the member earned at the old rate; the other one, queued behind
    # it on the member lock, already earned Gold's multiplier (1.1).
    assert sorted(
        Order.objects.exclude(external_id="A-0").values_list("points_earned", flat=True)
    ) == [
        100,
        110,
    ]
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_two_job_runs_at_once_downgrade_each_member_once():
    program = tiered_program()
    placed = timezone.now() - timedelta(days=89)
    for n in range(20):
        order(program, f"A-{n}", "250", member=f"m-{n}", placed_at=placed)()
    later = timezone.now() + timedelta(days=5)
    runs = at_once(
        [
            lambda: tiers_evaluate(now=later, batch_size=3),
            lambda: tiers_evaluate(now=later, batch_size=3),
        ]
    )
    assert all(not isinstance(r, Exception) for r in runs), runs
    assert sum(r.down for r in runs) == 20
    assert TierChange.objects.filter(kind="down").count() == 20
    assert not Member.objects.filter(tier__isnull=False).exists()


@pytest.mark.django_db
def test_the_job_costs_the_same_queries_per_batch_whatever_the_members():
    def members_at_risk(program, count, prefix):
        placed = timezone.now() - timedelta(days=89)
        for n in range(count):
            order(program, f"{prefix}-{n}", "250", member=f"{prefix}-{n}", placed_at=placed)()

    later = timezone.now() + timedelta(days=5)
    small = tiered_program()
    members_at_risk(small, 2, "s")
    # A program with no change to make: what a batch costs by itself.
    with CaptureQueriesContext(connection) as quiet_small:
        tiers_evaluate(now=timezone.now(), batch_size=1000)
    members_at_risk(small, 10, "b")
    with CaptureQueriesContext(connection) as quiet_big:
        tiers_evaluate(now=timezone.now(), batch_size=1000)
    assert len(quiet_big) == len(quiet_small)
    run = tiers_evaluate(now=later, batch_size=1000)
    assert run.down == 12


@pytest.mark.django_db
def test_run_job_evaluate_tiers(capsys):
    program = tiered_program()
    order(program, "A-1", "250", placed_at=timezone.now() - timedelta(days=91))()
    Member.objects.update(tier=program.tiers.get(name="Gold"))
    call_command("run_job", "evaluate_tiers")
    assert "'down': 1" in capsys.readouterr().out
    assert Member.objects.get().tier is None
    assert LedgerEntry.objects.count() == 1  # the job never touches points
