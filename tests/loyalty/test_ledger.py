"""The ledger's guarantees below Python, and the audit that proves balances match entries.

The database itself refuses what the services never do: rewriting history, a point
moving the wrong way for its kind, a balance going below zero other than by a refund,
the same idempotency key twice, the same order twice.
"""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Order
from loyalty.services.ledger import LedgerMismatch, ledger_audit
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from tests.factories import MemberFactory, ProgramFactory

TABLE = LedgerEntry._meta.db_table


def earn(program, *, external_id="A-1", member="cust-1", amount="100.00"):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency=program.currency,
    )


def entry(member, *, kind, points, balance_after, key="k-1", reason="test"):
    """Insert a row directly, as a buggy writer would, to see what the database says."""
    return LedgerEntry.objects.create(
        program_id=member.program_id,
        member=member,
        kind=kind,
        points=points,
        balance_after=balance_after,
        reason=reason,
        idempotency_key=key,
    )


def refused(statement):
    """Run ``statement`` in its own savepoint and return the IntegrityError it raised."""
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        statement()
    return raised.value


# --- append-only --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE {TABLE} SET points = points + 1000",  # noqa: S608
        f"UPDATE {TABLE} SET reason = 'rewritten'",  # noqa: S608
        f"DELETE FROM {TABLE}",  # noqa: S608
    ],
)
def test_raw_sql_cannot_rewrite_the_ledger(sql):
    # given a member with an earned entry
    program = ProgramFactory()
    earn(program)

    # when someone rewrites the table with SQL, the database refuses
    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql)

    error = refused(run)

    # and the entry is as it was
    assert "append-only" in str(error)
    entry = LedgerEntry.objects.get()
    assert (entry.points, entry.reason) == (
        1000,
        "Order #A-1: 100.00 EUR x 10 points = 1000 points",
    )
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_orm_cannot_update_or_delete_entries():
    program = ProgramFactory()
    earn(program)
    row = LedgerEntry.objects.get()

    row.points = 5
    refused(row.save)
    refused(lambda: LedgerEntry.objects.filter(pk=row.pk).update(balance_after=0))
    refused(row.delete)
    refused(LedgerEntry.objects.all().delete)

    assert LedgerEntry.objects.get().points == 1000


@pytest.mark.django_db(transaction=True)
def test_appending_stays_possible_after_a_refused_rewrite():
    program = ProgramFactory()
    earn(program, external_id="A-1")
    refused(lambda: LedgerEntry.objects.update(points=0))

    earn(program, external_id="A-2", amount="1.00")

    assert Member.objects.get().balance == 1010
    assert LedgerEntry.objects.count() == 2


# --- check constraints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "points"),
    [
        ("earn", -1),
        ("earn", 0),
        ("grant", -1),
        ("grant", 0),
        ("reward", 1),
        ("expire", 1),
        ("deduct", 1),
        ("deduct", 0),
        ("reversal", 1),
        ("reversal", 0),
        ("adjustment", 0),
        ("unknown", 1),
    ],
)
def test_entry_with_the_wrong_sign_for_its_kind_is_refused(db, kind, points):
    member = MemberFactory()

    error = refused(lambda: entry(member, kind=kind, points=points, balance_after=100))

    assert "ledger_points_sign_by_kind" in str(error)


@pytest.mark.parametrize(
    ("kind", "points"),
    [
        ("earn", 1),
        ("grant", 1),
        ("reward", -1),
        ("expire", -1),
        ("deduct", -1),
        ("reversal", -1),
        ("adjustment", 1),
        ("adjustment", -1),
    ],
)
def test_entry_with_the_right_sign_for_its_kind_is_accepted(db, kind, points):
    member = MemberFactory()

    entry(member, kind=kind, points=points, balance_after=100)

    assert LedgerEntry.objects.filter(member=member, kind=kind).count() == 1


@pytest.mark.parametrize("kind", ["deduct", "reward", "expire", "adjustment"])
def test_entry_taking_the_balance_below_zero_is_refused(db, kind):
    member = MemberFactory()

    error = refused(lambda: entry(member, kind=kind, points=-10, balance_after=-1))

    assert "ledger_balance_never_below_zero" in str(error)


def test_reversal_may_take_the_balance_below_zero(db):
    member = MemberFactory()

    entry(member, kind="reversal", points=-10, balance_after=-10)

    assert LedgerEntry.objects.get(member=member).balance_after == -10


@pytest.mark.parametrize("kind", ["earn", "grant", "adjustment"])
def test_adding_points_while_below_zero_is_accepted(db, kind):
    # a member who owes points can earn them back
    member = MemberFactory()

    entry(member, kind=kind, points=5, balance_after=-5)

    assert LedgerEntry.objects.get(member=member).balance_after == -5


def test_entry_without_a_reason_is_refused(db):
    member = MemberFactory()

    error = refused(lambda: entry(member, kind="grant", points=1, balance_after=1, reason=""))

    assert "ledger_reason_required" in str(error)


def test_same_idempotency_key_twice_for_a_member_is_refused(db):
    member = MemberFactory()
    entry(member, kind="grant", points=1, balance_after=1, key="grant:k")

    error = refused(lambda: entry(member, kind="grant", points=1, balance_after=2, key="grant:k"))

    assert "ledger_key_per_member_unique" in str(error)
    assert LedgerEntry.objects.filter(member=member).count() == 1


def test_same_idempotency_key_for_two_members_is_accepted(db):
    one, two = MemberFactory(), MemberFactory()

    entry(one, kind="grant", points=1, balance_after=1, key="grant:k")
    entry(two, kind="grant", points=1, balance_after=1, key="grant:k")

    assert LedgerEntry.objects.filter(idempotency_key="grant:k").count() == 2


def _order(program, member, external_id="A-1", **overrides):
    fields = {
        "program": program,
        "member": member,
        "external_id": external_id,
        "amount": Decimal("10.00"),
        "currency": "EUR",
        "points_base": Decimal("10.00"),
        "earn_rate": Decimal("10"),
        "points_earned": 100,
        "balance_after": 100,
        "placed_at": timezone.now(),
        "fingerprint": "x" * 64,
        **overrides,
    }
    return Order.objects.create(**fields)


def test_same_order_external_id_twice_in_a_program_is_refused(db):
    member = MemberFactory()
    _order(member.program, member)

    error = refused(lambda: _order(member.program, MemberFactory(program=member.program)))

    assert "order_external_id_unique" in str(error)


def test_same_order_external_id_in_two_programs_is_accepted(db):
    one, two = MemberFactory(), MemberFactory()

    _order(one.program, one)
    _order(two.program, two)

    assert Order.objects.filter(external_id="A-1").count() == 2


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"amount": Decimal("0")}, "order_amount_positive"),
        ({"points_earned": -1}, "order_points_gte_0"),
        ({"refunded_amount": Decimal("10.01")}, "order_refund_within_amount"),
        ({"points_reversed": 101}, "order_reversal_within_earned"),
    ],
)
def test_order_constraints_refuse_impossible_orders(db, overrides, constraint):
    member = MemberFactory()

    error = refused(lambda: _order(member.program, member, **overrides))

    assert constraint in str(error)


# --- audit --------------------------------------------------------------------------------------


def test_audit_is_empty_when_every_balance_is_the_sum_of_its_entries(db):
    # given members with earnings, refunds, grants and deductions
    program = ProgramFactory()
    earn(program, external_id="A-1", member="ada", amount="100.00")
    earn(program, external_id="A-2", member="bob", amount="12.39")
    refund_record(program=program, order_external_id="A-1", external_id="R-1", amount=Decimal(40))
    points_grant(program=program, member_external_id="bob", points=-23, reason="Fix")
    points_grant(program=program, member_external_id="ada", points=7, reason="Thanks")
    MemberFactory(program=program)  # no entries, balance 0

    assert ledger_audit() == []


def test_audit_finds_a_balance_changed_behind_the_ledgers_back(db):
    # given two members with correct balances
    program = ProgramFactory()
    earn(program, external_id="A-1", member="ada")
    earn(program, external_id="A-2", member="bob")

    # when someone writes one balance without an entry
    Member.objects.filter(external_id="bob").update(balance=F("balance") + 5)

    # then the audit names that member and the difference
    bob = Member.objects.get(external_id="bob")
    assert ledger_audit() == [
        LedgerMismatch(bob.pk, "bob", "balance 1005 but entries sum to 1000"),
    ]


def test_audit_finds_a_balance_without_any_entry(db):
    member = MemberFactory()
    Member.objects.filter(pk=member.pk).update(balance=50)

    assert ledger_audit() == [
        LedgerMismatch(member.pk, member.external_id, "balance 50 but entries sum to 0")
    ]


def test_audit_finds_a_broken_chain_of_balances(db):
    # given a member whose balance is right, but one entry states a wrong balance_after
    program = ProgramFactory()
    earn(program, external_id="A-1", member="ada")
    ada = Member.objects.get(external_id="ada")
    wrong = entry(ada, kind="grant", points=10, balance_after=999, key="grant:bad")
    Member.objects.filter(pk=ada.pk).update(balance=1010)

    assert ledger_audit() == [
        LedgerMismatch(
            ada.pk,
            "ada",
            f"entry {wrong.pk} says balance 999 but the entries up to it sum to 1010",
        )
    ]
