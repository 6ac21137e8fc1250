"""``loyalty.sql`` writes and reads rows exactly as the ORM does."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Order
from loyalty.storage import sql
from loyalty.storage.members import members_create, members_lock
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _entry(member: Member, **fields) -> LedgerEntry:
    return LedgerEntry(
        program_id=member.program_id, member=member, kind=LedgerEntry.Kind.EARN, points=120,
        balance_after=120,
        reason="Order #A-1", details={"rule": 3, "amount": "12.00", "lines": [1, 2]}, **fields,
    )  # fmt: skip


def test_an_inserted_row_reads_back_as_one_the_orm_saved(program):
    member = MemberFactory(program=program)
    ours, theirs = _entry(member, idempotency_key="a"), _entry(member, idempotency_key="b")

    sql.insert(ours)
    theirs.save(force_insert=True)

    assert ours.pk is not None
    assert not ours._state.adding
    mine, orm = LedgerEntry.objects.get(pk=ours.pk), LedgerEntry.objects.get(pk=theirs.pk)
    different = {"id", "idempotency_key", "created_at"}
    assert {k: v for k, v in model_to_dict(mine).items() if k not in different} == {
        k: v for k, v in model_to_dict(orm).items() if k not in different
    }
    assert mine.details == {"rule": 3, "amount": "12.00", "lines": [1, 2]}
    assert abs(mine.created_at - timezone.now()) < timedelta(minutes=1)  # auto_now_add stamped


def test_a_duplicate_key_is_djangos_integrity_error_and_the_statement_is_logged(program):
    member = MemberFactory(program=program)
    sql.insert(_entry(member, idempotency_key="k"))

    with CaptureQueriesContext(connection) as ctx, pytest.raises(IntegrityError):
        sql.insert(_entry(member, idempotency_key="k"))

    assert len(ctx.captured_queries) == 1
    assert "'Order #A-1'" in ctx.captured_queries[0]["sql"]  # with its values, as Django logs


def test_a_loaded_row_is_the_orms_model(program):
    member = MemberFactory(program=program, balance=70, points_expire_at=timezone.now())
    Order.objects.create(
        program=program, member=member, external_id="O-1", amount=Decimal("9.99"),
        points_base=Decimal("9.99"), currency="EUR", earn_rate=Decimal(10), balance_after=70,
        earning={"total": 99},
    )  # fmt: skip

    one = f"SELECT {sql.columns(Member)} FROM loyalty_member WHERE id = %s"  # noqa: S608
    loaded = sql.load(Member, sql.run(one, [member.pk])[0])
    order_rows = sql.run(f"SELECT {sql.columns(Order)} FROM loyalty_order", [])  # noqa: S608
    order = sql.load(Order, order_rows[0])

    assert model_to_dict(loaded) == model_to_dict(Member.objects.get(pk=member.pk))
    assert not loaded._state.adding
    assert model_to_dict(order) == model_to_dict(Order.objects.get())
    assert order.earning == {"total": 99}
    assert order.amount == Decimal("9.99")


def test_members_created_by_the_kept_statement_are_the_ones_the_orm_creates(program):
    orm = Member.objects.create(program=program, external_id="orm")

    with CaptureQueriesContext(connection) as ctx:
        made = members_create(program=program, external_ids=["b", "a", "b"])

    assert len(ctx.captured_queries) == 1
    assert sorted(made) == ["a", "b"]
    assert made["a"].pk < made["b"].pk  # inserted in external-id order, as every batch does
    stored = Member.objects.get(pk=made["a"].pk)
    different = {"id", "external_id", "created_at", "updated_at"}
    assert {k: v for k, v in model_to_dict(stored).items() if k not in different} == {
        k: v for k, v in model_to_dict(orm).items() if k not in different
    }
    assert model_to_dict(made["a"]) == model_to_dict(stored)
    assert abs(stored.created_at - timezone.now()) < timedelta(minutes=1)
    assert abs(stored.updated_at - timezone.now()) < timedelta(minutes=1)


def test_creating_members_that_exist_makes_only_the_new_ones(program):
    old = MemberFactory(program=program, external_id="old", balance=40)

    made = members_create(program=program, external_ids=["old", "new"])

    assert list(made) == ["new"]  # "old" is left to members_lock, as it was found
    assert made["new"].balance == 0
    assert Member.objects.filter(program=program).count() == 2
    locked = members_lock(program=program, external_ids=["old", "new", "none"])
    assert sorted(m.external_id for m in locked.values()) == ["new", "old"]
    assert locked[old.pk].balance == 40


def test_a_member_is_locked_with_its_referrer_in_one_statement(program):
    referrer = MemberFactory(program=program, external_id="ref")
    member = MemberFactory(program=program, external_id="new", referred_by=referrer)

    with CaptureQueriesContext(connection) as ctx:
        locked = members_lock(program=program, external_ids=["new"], referrers=True)

    assert len(ctx.captured_queries) == 1
    assert "FOR UPDATE" in ctx.captured_queries[0]["sql"]
    assert list(locked) == sorted([referrer.pk, member.pk])  # pk order, as every writer locks
