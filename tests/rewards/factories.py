"""factory-boy factories for the rewards app: templates, thresholds, coupons.

``CouponFactory`` makes a coupon the way ``coupon_issue`` would (terms copied,
a fresh code, a 30-day window from now) without going through the service, so a
test can put a coupon in any state: ``CouponFactory(status="expired")``,
``CouponFactory(lapsed=True)`` (window over, still 'active'),
``CouponFactory(member=None)`` for a promotion.
"""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from rewards.codes import code_generate
from rewards.models import Coupon, CouponKind, CouponTemplate, RewardThreshold
from tests.factories import MemberFactory, ProgramFactory


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    """10% off, no cap, no minimum, 30 days, one use."""

    class Meta:
        model = CouponTemplate

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Reward {n}")
    kind = CouponKind.PERCENT
    value = Decimal("10")
    max_discount = None
    min_order_amount = Decimal("0")
    valid_days = 30
    uses = 1


class RewardThresholdFactory(factory.django.DjangoModelFactory):
    """At 5,000 points, a coupon from a template of the same program."""

    class Meta:
        model = RewardThreshold

    program = factory.SubFactory(ProgramFactory)
    points = 5000
    template = factory.SubFactory(CouponTemplateFactory, program=factory.SelfAttribute("..program"))


class CouponFactory(factory.django.DjangoModelFactory):
    """An active single-use 10% coupon of a member, issued as compensation."""

    class Meta:
        model = Coupon

    program = factory.SubFactory(ProgramFactory)
    member = factory.SubFactory(MemberFactory, program=factory.SelfAttribute("..program"))
    code = factory.LazyFunction(code_generate)
    template = None
    source = Coupon.Source.COMPENSATION
    kind = CouponKind.PERCENT
    value = Decimal("10")
    max_discount = None
    min_order_amount = Decimal("0")
    currency = factory.LazyAttribute(lambda c: c.program.currency)
    valid_from = factory.LazyFunction(timezone.now)
    valid_until = factory.LazyAttribute(lambda c: c.valid_from + timedelta(days=30))
    uses_allowed = 1
    uses_count = 0
    status = Coupon.Status.ACTIVE
    points_spent = 0
    reason = "Sorry for the late delivery"

    class Params:
        # Its window closed yesterday, but no expiry job has marked it yet (still 'active').
        lapsed = factory.Trait(
            valid_from=factory.LazyFunction(lambda: timezone.now() - timedelta(days=31)),
        )
