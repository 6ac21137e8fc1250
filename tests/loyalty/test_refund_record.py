"""refund_record: a refund takes back its share of an order's points, at the order's rate, once."""

from decimal import Decimal

import pytest

from loyalty.errors import (
    CurrencyMismatch,
    InsufficientPoints,
    InvalidInput,
    OrderNotFound,
    RefundConflict,
    RefundExceedsOrder,
)
from loyalty.models import LedgerEntry, Member, Order, Refund
from loyalty.services.ledger import ledger_audit
from loyalty.services.merchants import program_update
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from tests.factories import ProgramFactory


def earn(program, *, external_id="A-1", member="cust-1", amount="100.00"):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency=program.currency,
    )


def refund(program, amount, *, external_id="R-1", order="A-1", **kw):
    return refund_record(
        program=program,
        order_external_id=order,
        external_id=external_id,
        amount=Decimal(amount),
        **kw,
    )


def balance(program, member="cust-1"):
    return Member.objects.get(program=program, external_id=member).balance


def order_state(program, external_id="A-1"):
    order = Order.objects.get(program=program, external_id=external_id)
    return order.status, order.refunded_amount, order.points_reversed


@pytest.mark.parametrize(
    ("rate", "order_amount", "refund_amount", "reversed_points"),
    [
        ("10", "100.00", "25.00", 250),
        ("10", "100.00", "100.00", 1000),
        ("10", "100.00", "0.99", 9),
        ("10", "12.39", "5.00", 49),  # 123 x 5.00 / 12.39 = 49.6 rounds down
        ("1.5", "33.33", "10.00", 14),  # 49 x 10.00 / 33.33 = 14.7 rounds down
        ("1.5", "33.33", "33.33", 49),
    ],
)
def test_refund_reverses_points_in_proportion(
    db, rate, order_amount, refund_amount, reversed_points
):
    # given an order that earned points
    program = ProgramFactory(earn_rate=Decimal(rate))
    earned = earn(program, amount=order_amount).order.points_earned

    # when part of it is refunded
    result = refund(program, refund_amount)

    # then the refunded share of its points is taken back
    assert result.created is True
    assert result.refund.points_reversed == reversed_points
    assert result.balance == earned - reversed_points
    assert balance(program) == earned - reversed_points
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSAL)
    assert entry.points == -reversed_points
    assert entry.balance_after == earned - reversed_points
    assert entry.refund_id == result.refund.pk
    assert entry.order.external_id == "A-1"
    assert ledger_audit() == []


def test_refund_too_small_to_take_a_point_is_recorded_without_a_ledger_entry(db):
    program = ProgramFactory()
    earn(program, amount="100.00")

    result = refund(program, "0.05")  # 0.5 of a point

    assert result.created is True
    assert result.refund.points_reversed == 0
    assert result.balance == 1000
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSAL).exists()
    assert order_state(program) == (Order.Status.PARTIALLY_REFUNDED, Decimal("0.05"), 0)


def test_refund_reverses_at_the_orders_rate_after_the_program_changed(db):
    # given an order earned at 10 points per 1.00
    program = ProgramFactory(earn_rate=Decimal("10"))
    earn(program, amount="100.00")

    # when the program now earns 25 per 1.00 and half the order is refunded
    program = program_update(program=program, earn_rate=Decimal("25"))
    result = refund(program, "50.00")

    # then half of what the order earned is taken back, not half at today's rate
    assert result.refund.points_reversed == 500
    assert result.balance == 500


def test_order_earned_at_no_rate_reverses_nothing(db):
    program = ProgramFactory(earn_rate=Decimal("0"))
    earn(program, amount="100.00")

    result = refund(program, "100.00")

    assert result.refund.points_reversed == 0
    assert not LedgerEntry.objects.exists()
    assert order_state(program)[0] == Order.Status.REFUNDED


@pytest.mark.parametrize(
    ("rate", "order_amount", "refunds"),
    [
        ("10", "100.00", ["33.33", "33.33", "33.34"]),
        ("1.5", "10.00", ["1.00"] * 10),
        ("10", "12.39", ["4.13", "4.13", "4.13"]),
        ("3.3333", "99.99", ["0.01", "49.99", "0.01", "49.98"]),
        ("7", "0.99", ["0.33", "0.33", "0.33"]),
    ],
)
def test_partial_refunds_add_up_exactly_to_the_points_earned(db, rate, order_amount, refunds):
    # given an order that earned points
    program = ProgramFactory(earn_rate=Decimal(rate))
    earned = earn(program, amount=order_amount).order.points_earned

    # when it is refunded in several parts that add up to the whole
    reversed_each = [
        refund(program, amount, external_id=f"R-{n}").refund.points_reversed
        for n, amount in enumerate(refunds)
    ]

    # then together they take back exactly what it earned, never more at any step
    assert sum(reversed_each) == earned
    assert balance(program) == 0
    assert order_state(program) == (Order.Status.REFUNDED, Decimal(order_amount), earned)
    assert ledger_audit() == []


def test_three_refunds_of_a_hundred_reverse_333_333_334(db):
    program = ProgramFactory(earn_rate=Decimal("10"))
    earn(program, amount="100.00")

    reversed_each = [
        refund(program, amount, external_id=f"R-{n}").refund.points_reversed
        for n, amount in enumerate(["33.33", "33.33", "33.34"])
    ]

    assert reversed_each == [333, 333, 334]


def test_order_status_follows_its_refunds(db):
    program = ProgramFactory()
    earn(program, amount="100.00")
    assert order_state(program) == (Order.Status.PAID, Decimal("0"), 0)

    refund(program, "40.00", external_id="R-1")
    assert order_state(program) == (Order.Status.PARTIALLY_REFUNDED, Decimal("40.00"), 400)

    refund(program, "59.99", external_id="R-2")
    assert order_state(program) == (Order.Status.PARTIALLY_REFUNDED, Decimal("99.99"), 999)

    refund(program, "0.01", external_id="R-3")
    assert order_state(program) == (Order.Status.REFUNDED, Decimal("100.00"), 1000)


@pytest.mark.parametrize(
    ("earlier", "asked"),
    [
        ([], "100.01"),
        (["60.00"], "40.01"),
        (["100.00"], "0.01"),
        (["33.33", "33.33", "33.34"], "1.00"),
    ],
)
def test_refund_beyond_the_refundable_amount_is_refused(db, earlier, asked):
    # given an order with some of it refunded already
    program = ProgramFactory()
    earn(program, amount="100.00")
    for n, amount in enumerate(earlier):
        refund(program, amount, external_id=f"R-{n}")
    before = (balance(program), order_state(program), LedgerEntry.objects.count())

    # when more than what is left is asked back
    with pytest.raises(RefundExceedsOrder) as raised:
        refund(program, asked, external_id="R-too-much")

    # then it is refused with what is left, and nothing changes
    assert raised.value.code == "refund_exceeds_order"
    assert "A-1" in raised.value.detail
    assert (balance(program), order_state(program), LedgerEntry.objects.count()) == before
    assert not Refund.objects.filter(external_id="R-too-much").exists()


@pytest.mark.parametrize("same_amount", ["25.00", "25", "25.000"])
def test_replayed_refund_returns_the_first_answer(db, same_amount):
    # given a refund recorded once, and the balance moved since
    program = ProgramFactory()
    earn(program, amount="100.00")
    first = refund(program, "25.00")
    earn(program, external_id="A-2", amount="1.00")

    # when it is sent again
    again = refund(program, same_amount)

    # then it is answered with the first result and takes nothing more
    assert again.created is False
    assert again.refund.pk == first.refund.pk
    assert again.balance == first.balance == 750
    assert balance(program) == 760
    assert Refund.objects.count() == 1
    assert order_state(program) == (Order.Status.PARTIALLY_REFUNDED, Decimal("25.00"), 250)


def test_replayed_refund_of_a_fully_refunded_order_is_still_a_replay(db):
    program = ProgramFactory()
    earn(program, amount="100.00")
    refund(program, "100.00")

    again = refund(program, "100.00")

    assert again.created is False
    assert balance(program) == 0


def test_same_refund_id_with_another_amount_is_a_conflict(db):
    program = ProgramFactory()
    earn(program, amount="100.00")
    refund(program, "25.00")

    with pytest.raises(RefundConflict) as raised:
        refund(program, "30.00")

    assert raised.value.code == "refund_conflict"
    assert raised.value.status == 409
    assert balance(program) == 750
    assert Refund.objects.count() == 1


def test_same_refund_id_on_another_order_is_another_refund(db):
    program = ProgramFactory()
    earn(program, external_id="A-1", amount="100.00")
    earn(program, external_id="A-2", amount="100.00")

    refund(program, "10.00", order="A-1", external_id="R-1")
    second = refund(program, "10.00", order="A-2", external_id="R-1")

    assert second.created is True
    assert balance(program) == 1800


def test_refund_of_an_unknown_order_is_refused(db):
    program = ProgramFactory()
    earn(program, external_id="A-1")

    with pytest.raises(OrderNotFound) as raised:
        refund(program, "10.00", order="A-404")

    assert raised.value.code == "order_not_found"
    assert raised.value.status == 404
    assert "A-404" in raised.value.detail
    assert not Refund.objects.exists()


def test_refund_of_another_programs_order_is_not_found(db):
    mine, theirs = ProgramFactory(), ProgramFactory()
    earn(theirs, external_id="A-1")

    with pytest.raises(OrderNotFound):
        refund(mine, "10.00", order="A-1")


@pytest.mark.parametrize(
    "amount", ["0", "-10.00", "NaN", "Infinity", "-Infinity", "10.001", "1000000000.01"]
)
def test_bad_refund_amount_is_refused_and_changes_nothing(db, amount):
    program = ProgramFactory()
    earn(program, amount="100.00")

    with pytest.raises(InvalidInput) as raised:
        refund(program, amount)

    assert list(raised.value.fields) == ["amount"]
    assert balance(program) == 1000
    assert not Refund.objects.exists()
    assert order_state(program) == (Order.Status.PAID, Decimal("0"), 0)


def test_refund_in_another_currency_is_refused(db):
    program = ProgramFactory(currency="EUR")
    earn(program)

    with pytest.raises(CurrencyMismatch):
        refund(program, "10.00", currency="USD")

    assert not Refund.objects.exists()


def test_refund_with_the_orders_currency_is_accepted(db):
    program = ProgramFactory(currency="EUR")
    earn(program)

    result = refund(program, "10.00", currency="eur")

    assert result.created is True


def test_refund_after_points_were_spent_takes_the_balance_below_zero(db):
    # given 1000 points earned on an order, 900 of them spent
    program = ProgramFactory()
    earn(program, external_id="A-1", amount="100.00")
    points_grant(program=program, member_external_id="cust-1", points=-900, reason="Spent")

    # when the whole order is refunded
    result = refund(program, "100.00", external_id="R-1")

    # then all its points are taken back, and the balance owes what was spent
    assert result.refund.points_reversed == 1000
    assert result.balance == -900
    assert balance(program) == -900
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSAL)
    assert entry.balance_after == -900
    assert entry.reason == (
        "Refund R-1 of order #A-1: 100.00 EUR of 100.00 EUR, 1000 of the 1000 points it "
        "earned taken back; 900 of them were already spent, so the balance stays below zero "
        "until new points pay it back"
    )
    assert ledger_audit() == []


def test_reversal_reason_without_spent_points_says_only_what_was_taken(db):
    program = ProgramFactory()
    earn(program, external_id="A-1", amount="100.00")

    refund(program, "25.00", external_id="R-1")

    assert LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSAL).reason == (
        "Refund R-1 of order #A-1: 25.00 EUR of 100.00 EUR, 250 of the 1000 points it "
        "earned taken back"
    )


def test_a_later_order_pays_the_debt_back_first(db):
    # given a member who owes 900 points after a refund of spent points
    program = ProgramFactory()
    earn(program, external_id="A-1", amount="100.00")
    points_grant(program=program, member_external_id="cust-1", points=-900, reason="Spent")
    refund(program, "100.00", external_id="R-1", order="A-1")

    # when new orders earn points
    second = earn(program, external_id="A-2", amount="50.00")
    third = earn(program, external_id="A-3", amount="60.00")

    # then they first fill the hole, and the balance is always the sum of the entries
    assert second.balance == -400
    assert second.order.balance_after == -400
    assert third.balance == 200
    assert balance(program) == sum(LedgerEntry.objects.values_list("points", flat=True)) == 200
    assert ledger_audit() == []


def test_no_deduction_while_the_balance_is_below_zero(db):
    program = ProgramFactory()
    earn(program, external_id="A-1", amount="100.00")
    points_grant(program=program, member_external_id="cust-1", points=-1000, reason="Spent")
    refund(program, "50.00")

    with pytest.raises(InsufficientPoints):
        points_grant(program=program, member_external_id="cust-1", points=-1, reason="More")

    assert balance(program) == -500


def test_second_refund_while_below_zero_says_all_its_points_were_spent(db):
    program = ProgramFactory()
    earn(program, external_id="A-1", amount="100.00")
    points_grant(program=program, member_external_id="cust-1", points=-1000, reason="Spent")
    refund(program, "50.00", external_id="R-1")

    refund(program, "10.00", external_id="R-2")

    latest = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSAL).latest("id")
    assert latest.points == -100
    assert latest.balance_after == -600
    assert "100 of them were already spent" in latest.reason


def test_refunds_of_one_members_orders_leave_other_members_alone(db):
    program = ProgramFactory()
    earn(program, external_id="A-1", member="ada", amount="100.00")
    earn(program, external_id="B-1", member="bob", amount="100.00")

    refund(program, "100.00", order="A-1")

    assert balance(program, "ada") == 0
    assert balance(program, "bob") == 1000
