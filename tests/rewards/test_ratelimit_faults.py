"""The guess limiter survives its counters vanishing (Redis evicting or flushing keys in the
middle of a look-up): the look-up goes on, no server error, no counter below zero.

Found by the soak run (``bench.soak``): a FLUSHDB beside it turned redemptions into 500s.
"""

import pytest
from django.core.cache import cache

from rewards.ratelimit import LookupGuard
from rewards.services.checkout import coupon_validate
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db


class _EvictedGuard(LookupGuard):
    """A guard whose counters Redis drops right after they are reserved."""

    evicted: list[str] = []

    def reserve(self) -> None:
        super().reserve()
        self.evicted = list(self._reserved)
        cache.delete_many(self.evicted)


def test_counters_evicted_in_the_middle_of_a_look_up_do_not_fail_it(own_cache):
    coupon = CouponFactory()
    member = coupon.member.external_id
    counters = LookupGuard.for_checkout(
        api_key_id=1, program_id=coupon.program_id, member=member
    ).counters
    guard = _EvictedGuard(counters=counters)

    result = coupon_validate(
        program=coupon.program, code=coupon.code, order_amount=coupon.min_order_amount + 50,
        currency=coupon.currency, member_external_id=member, guard=guard,
    )  # fmt: skip

    assert result.coupon == coupon
    # The real code's give-back found its counters gone and left them gone (a DECR would
    # have made them anew at -1, a free guess for the rest of the window).
    assert guard.evicted
    assert cache.get_many(guard.evicted) == {}
