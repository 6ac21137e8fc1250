"""A refund takes back points that were already converted into a coupon.

The program chooses: book the shortfall as a negative balance (the default), or
void the coupon while it is unused and book only the rest. Either way the ledger
and the coupon's history say why, and the ledger still adds up.
"""

from decimal import Decimal

import pytest

from loyalty.models import LedgerEntry, Member, Program
from loyalty.services.ledger import ledger_audit
from loyalty.services.orders import order_record
from loyalty.services.refunds import refund_record
from rewards.models import Coupon, CouponEvent
from rewards.services.checkout import coupon_redeem
from tests.factories import ProgramFactory
from tests.rewards.factories import CouponFactory, RewardThresholdFactory

pytestmark = pytest.mark.django_db

VOID_COUPON = Program.RefundAfterConversion.VOID_COUPON


def make_program(**kwargs):
    """Converts 5,000 points into a coupon; 10 points per 1.00."""
    program = ProgramFactory(**kwargs)
    RewardThresholdFactory(program=program, points=5000)
    return program


def earn(program, external_id, amount):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id="cust-1",
        amount=Decimal(amount),
        currency="EUR",
    )


def refund(program, order, amount, external_id="R-1"):
    return refund_record(
        program=program, order_external_id=order, external_id=external_id, amount=Decimal(amount)
    )


def balance(program):
    return Member.objects.get(program=program, external_id="cust-1").balance


def entries(program):
    return list(
        LedgerEntry.objects.filter(member__program=program)
        .order_by("id")
        .values_list("kind", "points", "balance_after")
    )


def status(coupon):
    coupon.refresh_from_db()
    return coupon.status


# -- default: negative balance ------------------------------------------------------------------


def test_by_default_a_refund_of_converted_points_leaves_a_negative_balance():
    # given an order whose 5,000 points became a coupon
    program = make_program()
    [coupon] = earn(program, "A-1", "500.00").coupons_issued

    # when the whole order is refunded
    result = refund(program, "A-1", "500.00")

    # then the points are taken back anyway, the balance goes below zero, the coupon stays
    assert result.balance == -5000
    assert result.refund.balance_after == -5000
    assert balance(program) == -5000
    assert status(coupon) == "active"
    assert not CouponEvent.objects.filter(kind="voided").exists()
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert reversal.points == -5000
    assert reversal.reason == (
        "Refund R-1 of order #A-1: 500.00 EUR of 500.00 EUR, 5000 of the 5000 points it earned "
        "taken back; 5000 of them were already spent, so the balance stays below zero until "
        "new points pay it back"
    )
    assert ledger_audit() == []


def test_by_default_a_partial_shortfall_names_only_the_spent_part():
    # given 5,000 points converted and 800 left from a second order
    program = make_program()
    earn(program, "A-1", "500.00")
    earn(program, "A-2", "80.00")

    result = refund(program, "A-1", "500.00")

    assert result.balance == -4200
    assert "4200 of them were already spent" in LedgerEntry.objects.get(kind="reversal").reason
    assert ledger_audit() == []


def test_new_points_pay_back_a_negative_balance_before_converting_again():
    program = make_program()
    earn(program, "A-1", "500.00")
    refund(program, "A-1", "500.00")

    after_debt = earn(program, "A-2", "600.00")

    assert after_debt.coupons_issued == []
    assert after_debt.balance == 1000
    assert ledger_audit() == []


# -- void_coupon --------------------------------------------------------------------------------


def test_void_mode_voids_the_unused_coupon_and_takes_only_the_rest():
    # given a program that takes coupons back, and an order whose points became a coupon
    program = make_program(refund_after_conversion=VOID_COUPON)
    [coupon] = earn(program, "A-1", "500.00").coupons_issued

    # when the whole order is refunded
    result = refund(program, "A-1", "500.00")

    # then the coupon is void, with the refund named in its history
    assert status(coupon) == "void"
    voided = CouponEvent.objects.get(coupon=coupon, kind="voided")
    assert voided.reason == "refund R-1 of order #A-1 took its points back"
    # its points came back first, then the order's points were taken
    assert entries(program) == [
        ("earn", 5000, 5000),
        ("reward", -5000, 0),
        ("adjustment", 5000, 5000),
        ("reversal", -5000, 0),
    ]
    adjustment = LedgerEntry.objects.get(kind="adjustment")
    assert adjustment.coupon == coupon
    assert coupon.display_code in adjustment.reason
    assert "refund R-1" in adjustment.reason
    # the coupon covered it all: nothing was spent, the balance stays at zero
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert "already spent" not in reversal.reason
    assert result.balance == 0
    assert balance(program) == 0
    assert ledger_audit() == []


def test_void_mode_records_and_replays_the_balance_the_refund_left():
    program = make_program(refund_after_conversion=VOID_COUPON)
    earn(program, "A-1", "500.00")
    first = refund(program, "A-1", "500.00")

    replay = refund(program, "A-1", "500.00")

    assert first.balance == balance(program) == 0
    assert replay.created is False
    assert first.refund.balance_after == 0
    assert replay.balance == 0


def test_void_mode_with_a_partial_refund_gives_the_rest_of_the_coupon_back_as_points():
    program = make_program(refund_after_conversion=VOID_COUPON)
    [coupon] = earn(program, "A-1", "500.00").coupons_issued

    result = refund(program, "A-1", "50.00")

    assert status(coupon) == "void"
    assert result.balance == 4500
    assert entries(program)[-2:] == [("adjustment", 5000, 5000), ("reversal", -500, 4500)]
    assert ledger_audit() == []


def test_void_mode_voids_nothing_when_the_balance_covers_the_refund():
    # given a converted order and 3,000 points from another
    program = make_program(refund_after_conversion=VOID_COUPON)
    [coupon] = earn(program, "A-1", "500.00").coupons_issued
    earn(program, "A-2", "300.00")

    result = refund(program, "A-1", "200.00")

    assert status(coupon) == "active"
    assert result.balance == 1000
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()
    assert ledger_audit() == []


def test_void_mode_leaves_a_redeemed_coupon_and_books_a_negative_balance():
    # given the order's coupon was already used at checkout
    program = make_program(refund_after_conversion=VOID_COUPON)
    [coupon] = earn(program, "A-1", "500.00").coupons_issued
    coupon_redeem(
        program=program,
        code=coupon.code,
        order_reference="O-1",
        order_amount=Decimal(50),
        currency="EUR",
    )

    result = refund(program, "A-1", "500.00")

    assert status(coupon) == "redeemed"
    assert not CouponEvent.objects.filter(kind="voided").exists()
    assert result.balance == -5000
    assert "5000 of them were already spent" in LedgerEntry.objects.get(kind="reversal").reason
    assert ledger_audit() == []


def test_void_mode_takes_the_orders_own_coupon_before_others():
    # given two orders, each converted into a coupon (the second one is newer)
    program = make_program(refund_after_conversion=VOID_COUPON)
    [own] = earn(program, "A-1", "500.00").coupons_issued
    [other] = earn(program, "A-2", "500.00").coupons_issued

    refund(program, "A-1", "500.00")

    assert (status(own), status(other)) == ("void", "active")
    assert balance(program) == 0
    assert ledger_audit() == []


def test_void_mode_voids_another_unused_coupon_when_the_orders_own_was_used():
    program = make_program(refund_after_conversion=VOID_COUPON)
    [own] = earn(program, "A-1", "500.00").coupons_issued
    [other] = earn(program, "A-2", "500.00").coupons_issued
    coupon_redeem(
        program=program,
        code=own.code,
        order_reference="O-1",
        order_amount=Decimal(50),
        currency="EUR",
    )

    refund(program, "A-1", "500.00")

    assert (status(own), status(other)) == ("redeemed", "void")
    assert balance(program) == 0
    assert ledger_audit() == []


def test_void_mode_does_not_touch_compensation_coupons():
    program = make_program(refund_after_conversion=VOID_COUPON)
    earn(program, "A-1", "500.00")
    Coupon.objects.update(status="redeemed", uses_count=1)
    gift = CouponFactory(program=program, member=Member.objects.get())

    result = refund(program, "A-1", "500.00")

    assert status(gift) == "active"
    assert result.balance == -5000
    assert ledger_audit() == []


def test_void_mode_converts_what_a_voided_coupon_leaves_above_a_threshold():
    # given rewards at 1000 and 5000 points, and an order whose 5,000 points became a coupon
    program = ProgramFactory(refund_after_conversion=VOID_COUPON)
    RewardThresholdFactory(program=program, points=1000)
    RewardThresholdFactory(program=program, points=5000)
    [coupon] = earn(program, "A-1", "500.00").coupons_issued

    # when a tenth of the order is refunded: the coupon is voided, 4,500 points are left
    refund(program, "A-1", "50.00")

    # then the program converts them as it would after any other write
    assert status(coupon) == "void"
    assert Coupon.objects.filter(status="active").count() == 4
    assert balance(program) == 500
    assert ledger_audit() == []
