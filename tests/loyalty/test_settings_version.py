"""``Program.settings_version`` goes up with every change to the settings the cache keeps.

Migration 0014's triggers, whatever writes the row: an insert, an update, a delete (also
queryset ones and raw SQL), a row moved to another program (both go up), a coupon template
used by another program's threshold (that program goes up too). Nothing takes it back.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.models import Campaign, EarningRule, Program, Tier
from rewards.models import CouponTemplate, RewardThreshold
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db


def version(program: Program) -> int:
    return Program.objects.values_list("settings_version", flat=True).get(pk=program.pk)


def template(program: Program, **extra) -> CouponTemplate:
    return CouponTemplate.objects.create(
        program=program, name="Five off", kind="fixed", value=Decimal(5), **extra
    )


ROWS = {
    "earning rule": lambda p: EarningRule.objects.create(
        program=p, kind="signup", name="Welcome", parameters={"points": 10}
    ),
    "campaign": lambda p: Campaign.objects.create(
        program=p,
        name="Double",
        start_date=timezone.localdate(),
        end_date=timezone.localdate() + timedelta(days=1),
        multiplier=Decimal(2),
    ),
    "tier": lambda p: Tier.objects.create(program=p, name="Gold", min_points=100),
    "reward threshold": lambda p: RewardThreshold.objects.create(
        program=p, points=100, template=template(p)
    ),
    "coupon template": template,
}
CHANGES = {
    "earning rule": {"active": False},
    "campaign": {"multiplier": Decimal(3)},
    "tier": {"earn_multiplier": Decimal(2)},
    "reward threshold": {"points": 200},
    "coupon template": {"value": Decimal(7)},
}


@pytest.mark.parametrize("kind", ROWS)
def test_insert_update_and_delete_each_raise_the_version(kind):
    program, bystander = ProgramFactory(), ProgramFactory()
    start = version(program)

    row = ROWS[kind](program)
    created = version(program)
    type(row).objects.filter(pk=row.pk).update(**CHANGES[kind])
    updated = version(program)
    type(row).objects.filter(pk=row.pk).delete()
    deleted = version(program)

    assert start < created < updated < deleted
    assert version(bystander) == 0


@pytest.mark.parametrize("kind", ROWS)
def test_a_row_moved_to_another_program_raises_both(kind):
    program, other = ProgramFactory(), ProgramFactory()
    row = ROWS[kind](program)
    before = version(program), version(other)

    type(row).objects.filter(pk=row.pk).update(program=other)

    assert version(program) > before[0]
    assert version(other) > before[1]


def test_raw_sql_raises_the_version():
    program = ProgramFactory()
    tier = Tier.objects.create(program=program, name="Gold", min_points=100)
    before = version(program)

    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_tier SET earn_multiplier = 3 WHERE id = %s", [tier.pk])

    assert version(program) > before


def test_a_template_raises_every_program_whose_thresholds_use_it():
    owner, user = ProgramFactory(), ProgramFactory()
    shared = template(owner)
    RewardThreshold.objects.create(program=user, points=100, template=shared)
    before = version(user)

    CouponTemplate.objects.filter(pk=shared.pk).update(value=Decimal(9))

    assert version(user) > before


def test_saving_a_program_loaded_before_a_change_does_not_take_the_version_back():
    program = ProgramFactory()
    stale = Program.objects.get(pk=program.pk)
    Tier.objects.create(program=program, name="Gold", min_points=100)
    raised = version(program)

    stale.name = "Renamed"
    stale.save()

    assert raised > 0
    assert version(program) == raised
    assert Program.objects.get(pk=program.pk).name == "Renamed"
