"""Checkout and conversion under real concurrency: threads with their own connections.

Each test starts threads that wait on a barrier and then call a service at the same
moment, so they really collide in PostgreSQL. What must hold: a coupon is never
used more often than it allows, a retried redemption gets the first answer, and
conversions keep the ledger whole.
"""

from collections import Counter
from decimal import Decimal

import pytest

from loyalty.models import LedgerEntry, Member
from loyalty.services.conversion import reward_claim
from loyalty.services.coupon_voids import coupon_void
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from rewards.lines import Line
from rewards.models import Coupon, CouponEvent, Redemption
from rewards.services.checkout import coupon_redeem, coupon_release
from rewards.services.coupons import coupons_expire
from tests.factories import ProgramFactory
from tests.rewards.factories import CouponFactory, RewardThresholdFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(outcomes):
    return Counter(type(outcome).__name__ for outcome in outcomes)


def redeem(coupon, order):
    return lambda: coupon_redeem(
        program=coupon.program,
        code=coupon.code,
        order_reference=order,
        order_amount=Decimal("80.00"),
        currency="EUR",
    )


def test_twenty_orders_redeeming_one_single_use_coupon_at_once_use_it_once():
    # given a single-use coupon
    coupon = CouponFactory()

    # when 20 different orders try to use it at the same moment
    outcomes = at_once([redeem(coupon, f"O-{n}") for n in range(20)])

    # then exactly one gets it, the others are told it is used
    assert kinds(outcomes) == {"CheckoutResult": 1, "CouponAlreadyRedeemed": 19}
    winner = next(o for o in outcomes if type(o).__name__ == "CheckoutResult")
    assert (winner.created, winner.discount) == (True, Decimal("8.00"))
    assert Redemption.objects.count() == 1
    assert Redemption.objects.get().discount == winner.discount
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("redeemed", 1)
    assert CouponEvent.objects.filter(kind="redeemed").count() == 1


def test_one_order_redeeming_a_coupon_ten_times_at_once_gets_one_answer():
    coupon = CouponFactory()

    outcomes = at_once([redeem(coupon, "O-1") for _ in range(10)])

    assert kinds(outcomes) == {"CheckoutResult": 10}
    assert sorted(o.created for o in outcomes) == [False] * 9 + [True]
    assert {o.discount for o in outcomes} == {Decimal("8.00")}
    assert Redemption.objects.count() == 1
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("redeemed", 1)


def test_a_three_use_coupon_tried_by_twelve_orders_at_once_serves_three():
    coupon = CouponFactory(uses_allowed=3)

    outcomes = at_once([redeem(coupon, f"O-{n}") for n in range(12)])

    assert kinds(outcomes) == {"CheckoutResult": 3, "CouponAlreadyRedeemed": 9}
    assert Redemption.objects.count() == 3
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("redeemed", 3)


def test_releasing_one_redemption_ten_times_at_once_gives_back_one_use():
    coupon = CouponFactory()
    redeem(coupon, "O-1")()

    outcomes = at_once(
        [
            lambda: coupon_release(program=coupon.program, code=coupon.code, order_reference="O-1")
            for _ in range(10)
        ]
    )

    assert kinds(outcomes) == {"Coupon": 10}
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("active", 0)
    assert CouponEvent.objects.filter(kind="released").count() == 1


def test_a_redemption_and_a_void_at_once_never_both_happen():
    # given a member's reward coupon
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=5000)
    [coupon] = order_record(
        program=program,
        external_id="A-1",
        member_external_id="cust-1",
        amount=Decimal("500.00"),
        currency="EUR",
    ).coupons_issued

    # when staff void it while the customer checks out with it
    outcomes = at_once(
        [
            redeem(coupon, "O-1"),
            lambda: coupon_void(program=program, code=coupon.code, reason="Fraud check"),
        ]
    )

    # then one of the two wins and the other is refused
    coupon.refresh_from_db()
    assert kinds(outcomes) in (
        {"CheckoutResult": 1, "CouponNotVoidable": 1},
        {"CouponVoid": 1, "Coupon": 1},
    )
    if coupon.status == "void":
        assert not Redemption.objects.exists()
        assert Member.objects.get().balance == 5000
    else:
        assert (coupon.status, coupon.uses_count) == ("redeemed", 1)
        assert Member.objects.get().balance == 0
    assert ledger_audit() == []


def test_concurrent_orders_of_one_member_convert_every_full_threshold():
    # given a program converting at 1000 points, and a known member
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=1000)
    member_upsert(program=program, external_id="cust-1")

    # when 20 orders of theirs, earning 150 to 720 points, arrive at once
    earned = [150 + 30 * n for n in range(20)]
    outcomes = at_once(
        [
            lambda n=n, points=points: order_record(
                program=program,
                external_id=f"A-{n}",
                member_external_id="cust-1",
                amount=Decimal(points) / 10,
                currency="EUR",
            )
            for n, points in enumerate(earned)
        ]
    )

    # then every full 1000 points became one coupon, whatever order they ran in
    assert kinds(outcomes) == {"OrderResult": 20}
    total = sum(earned)
    converted = -sum(LedgerEntry.objects.filter(kind="reward").values_list("points", flat=True))
    assert Coupon.objects.count() == converted // 1000 == total // 1000
    assert sum(len(o.coupons_issued) for o in outcomes) == total // 1000
    assert Member.objects.get().balance == total % 1000
    assert set(Coupon.objects.values_list("points_spent", flat=True)) == {1000}
    assert ledger_audit() == []


def test_concurrent_orders_and_grants_with_two_thresholds_keep_the_ledger_whole():
    # given rewards at 1000 and 2500 points
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=1000)
    RewardThresholdFactory(program=program, points=2500)
    member_upsert(program=program, external_id="cust-1")

    calls = [
        lambda n=n: order_record(
            program=program,
            external_id=f"A-{n}",
            member_external_id="cust-1",
            amount=Decimal(70 + 11 * n),
            currency="EUR",
        )
        for n in range(12)
    ]
    calls += [
        lambda n=n: points_grant(
            program=program, member_external_id="cust-1", points=333, reason=f"Goodwill {n}"
        )
        for n in range(6)
    ]
    outcomes = at_once(calls)

    assert kinds(outcomes) == {"OrderResult": 12, "GrantResult": 6}
    total = sum((70 + 11 * n) * 10 for n in range(12)) + 6 * 333
    converted = sum(Coupon.objects.values_list("points_spent", flat=True))
    member = Member.objects.get()
    # what was not converted is the balance, and it is below every threshold
    assert member.balance == total - converted
    assert 0 <= member.balance < 1000
    rewards = LedgerEntry.objects.filter(kind="reward").values_list("points", flat=True)
    assert Coupon.objects.count() == len(rewards)
    assert -sum(rewards) == converted
    assert ledger_audit() == []


def test_two_expiry_jobs_at_once_expire_each_coupon_once():
    coupons = [CouponFactory(lapsed=True) for _ in range(30)]

    outcomes = at_once([lambda: coupons_expire(batch_size=4) for _ in range(2)])

    assert sum(outcomes) == 30
    assert Coupon.objects.filter(status="expired").count() == 30
    assert CouponEvent.objects.filter(kind="expired").count() == len(coupons)


def test_claims_of_a_choice_member_at_once_never_spend_more_than_the_balance():
    # given a customer's-choice member with points for two rewards of 1000
    program = ProgramFactory(conversion_mode="choice")
    RewardThresholdFactory(program=program, points=1000)
    member_upsert(program=program, external_id="cust-1")
    points_grant(program=program, member_external_id="cust-1", points=2500, reason="Welcome")

    # when ten claims arrive at once
    outcomes = at_once(
        [
            lambda: reward_claim(program=program, member_external_id="cust-1", points=1000)
            for _ in range(10)
        ]
    )

    # then two are converted and the rest refused
    assert kinds(outcomes) == {"Coupon": 2, "InsufficientPoints": 8}
    assert Coupon.objects.count() == 2
    assert Member.objects.get().balance == 500
    assert ledger_audit() == []


def test_a_refund_voiding_a_coupon_and_its_redemption_at_once_never_both_happen():
    # given a program that voids coupons on refund, and an order whose points became one
    program = ProgramFactory(refund_after_conversion="void_coupon")
    RewardThresholdFactory(program=program, points=5000)
    [coupon] = order_record(
        program=program,
        external_id="A-1",
        member_external_id="cust-1",
        amount=Decimal("500.00"),
        currency="EUR",
    ).coupons_issued

    # when the order is refunded while the customer checks out with its coupon
    outcomes = at_once(
        [
            redeem(coupon, "O-1"),
            lambda: refund_record(
                program=program, order_external_id="A-1", external_id="R-1", amount=Decimal(500)
            ),
        ]
    )

    # then either the coupon was used and the balance owes the points, or it was voided
    coupon.refresh_from_db()
    balance = Member.objects.get().balance
    if coupon.status == "void":
        assert kinds(outcomes) == {"CouponVoid": 1, "RefundResult": 1}
        assert (balance, Redemption.objects.count()) == (0, 0)
    else:
        assert kinds(outcomes) == {"CheckoutResult": 1, "RefundResult": 1}
        assert (coupon.status, balance) == ("redeemed", -5000)
    assert ledger_audit() == []


def redeem_as(coupon, order, member, lines=None):
    return lambda: coupon_redeem(
        program=coupon.program,
        code=coupon.code,
        order_reference=order,
        order_amount=Decimal("80.00"),
        currency="EUR",
        member_external_id=member,
        lines=lines,
    )


def test_a_promotion_limited_per_member_serves_each_member_its_uses_at_once():
    # given a 10-use promotion, at most 2 uses per customer
    coupon = CouponFactory(member=None, uses_allowed=10, uses_per_member=2)

    # when one customer tries it on 8 orders and another on 4, all at the same moment
    outcomes = at_once(
        [redeem_as(coupon, f"A-{n}", "ann") for n in range(8)]
        + [redeem_as(coupon, f"B-{n}", "bob") for n in range(4)]
    )

    # then each gets exactly 2 uses
    assert kinds(outcomes) == {"CheckoutResult": 4, "CouponMemberLimitReached": 8}
    counted = Counter(Redemption.objects.values_list("member_reference", flat=True))
    assert counted == {"ann": 2, "bob": 2}
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("active", 4)


def test_a_perk_allowance_of_two_a_quarter_serves_two_of_ten_orders_at_once():
    coupon = CouponFactory(uses_allowed=8, allowance_uses=2, allowance_period="quarter")
    member = coupon.member.external_id

    outcomes = at_once([redeem_as(coupon, f"O-{n}", member) for n in range(10)])

    assert kinds(outcomes) == {"CheckoutResult": 2, "CouponAllowanceUsedUp": 8}
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("active", 2)


def test_a_multi_use_scoped_coupon_answers_each_winner_line_by_line():
    coupon = CouponFactory(uses_allowed=3, scope={"include_categories": ["shoes"]})
    lines = [
        Line(sku="SH-1", category="shoes", quantity=1, unit_price=Decimal("60.00")),
        Line(sku="SO-1", category="socks", quantity=1, unit_price=Decimal("20.00")),
    ]
    member = coupon.member.external_id

    outcomes = at_once([redeem_as(coupon, f"O-{n}", member, lines) for n in range(12)])

    assert kinds(outcomes) == {"CheckoutResult": 3, "CouponAlreadyRedeemed": 9}
    assert {str(o.discount) for o in outcomes if hasattr(o, "discount")} == {"6.00"}
    assert [r.lines[0]["discount"] for r in Redemption.objects.all()] == ["6.00"] * 3
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("redeemed", 3)
