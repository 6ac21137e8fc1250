"""Perks and allowances under real concurrency: threads with their own connections against
PostgreSQL (``tests.threads.at_once``).

What must hold: a member gets one perk coupon per tier however many writers lift it at once;
a promotion coupon's allowance is each customer's, and a customer at the edge of it gets
exactly one more use whatever the number of concurrent redemptions."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import Member
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.tier_job import tiers_evaluate
from loyalty.services.tier_settings import tiers_replace
from loyalty.services.tiers import tier_override
from rewards.models import Coupon, CouponKind, Redemption
from rewards.services.checkout import coupon_redeem
from tests.factories import ProgramFactory
from tests.rewards.factories import CouponFactory, CouponTemplateFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(outcomes):
    return Counter(type(outcome).__name__ for outcome in outcomes)


@pytest.fixture
def program():
    program = ProgramFactory(earn_rate=Decimal(1))
    template = CouponTemplateFactory(
        program=program, kind=CouponKind.FREE_SHIPPING, value=Decimal(0), valid_days=365,
        uses=8, allowance_uses=2, allowance_period="quarter",
    )  # fmt: skip
    tiers_replace(program=program, tiers=[
        {"name": "Gold", "min_points": 200, "perk": template.pk},
        {"name": "Platinum", "min_points": 1000},
    ])  # fmt: skip
    member_upsert(program=program, external_id="m-1", email="m@example.com")
    return program


def test_orders_lifting_one_member_at_once_give_one_perk_coupon(program):
    def lift(n):
        return lambda: order_record(
            program=program, external_id=f"O-{n}", member_external_id="m-1",
            amount=Decimal(250), currency="EUR",
        )  # fmt: skip

    outcomes = at_once([lift(n) for n in range(6)])

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert Coupon.objects.filter(source="perk").count() == 1


def test_every_tier_writer_at_once_gives_one_perk_coupon(program):
    member = Member.objects.get(external_id="m-1")
    gold = program.tiers.get(name="Gold")
    until = timezone.now() + timedelta(days=3)
    calls = [
        lambda: order_record(program=program, external_id="O-1", member_external_id="m-1",
                             amount=Decimal(250), currency="EUR"),
        lambda: points_grant(program=program, member_external_id="m-1", points=300,
                             reason="welcome", counts_for_tier=True),
        lambda: tier_override(member=Member.objects.get(pk=member.pk), tier=gold,
                              reason="VIP", until=until),
        lambda: tiers_evaluate(),
    ]  # fmt: skip

    outcomes = at_once(calls)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    (coupon,) = Coupon.objects.filter(source="perk")
    assert (coupon.member_id, coupon.perk_tier_id, coupon.status) == (member.pk, gold.pk, "active")


def redeem_as(coupon, order, member):
    return lambda: coupon_redeem(
        program=coupon.program, code=coupon.code, order_reference=order,
        order_amount=Decimal("80.00"), currency="EUR", member_external_id=member,
    )  # fmt: skip


def promotion(**extra):
    return CouponFactory(
        member=None, source="promotion", uses_allowed=100, allowance_uses=2,
        allowance_period="quarter", **extra,
    )  # fmt: skip


def test_one_customer_at_the_edge_of_a_promotions_allowance_gets_exactly_one_more_use():
    coupon = promotion()
    redeem_as(coupon, "O-0", "ann")()  # one of Ann's two this quarter

    outcomes = at_once([redeem_as(coupon, f"O-{n}", "ann") for n in range(1, 9)])

    assert kinds(outcomes) == {"CheckoutResult": 1, "CouponAllowanceUsedUp": 7}
    assert Redemption.objects.filter(coupon=coupon, member_reference="ann").count() == 2


def test_customers_redeeming_a_promotion_at_once_do_not_spend_each_others_allowance():
    coupon = promotion()
    customers = ["ann", "bob", "cem", "dia"]

    outcomes = at_once(
        [redeem_as(coupon, f"O-{who}-{n}", who) for who in customers for n in range(3)]
    )

    assert kinds(outcomes) == {"CheckoutResult": 8, "CouponAllowanceUsedUp": 4}
    used = Counter(
        Redemption.objects.filter(coupon=coupon).values_list("member_reference", flat=True)
    )
    assert used == {"ann": 2, "bob": 2, "cem": 2, "dia": 2}
    coupon.refresh_from_db()
    assert (coupon.uses_count, coupon.status) == (8, "active")
