"""The guess limiter survives its counters vanishing (Redis evicting or flushing keys
between the limiter's ``add`` and ``incr``): the look-up goes on, no server error.

Found by the soak run (``bench.soak``): a FLUSHDB beside it turned redemptions into 500s.
"""

import uuid

import pytest
from django.core.cache import cache

from rewards import ratelimit
from rewards.ratelimit import LookupGuard
from rewards.services.checkout import coupon_validate
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db


class _EvictingCache:
    """The real Redis cache, whose every new counter is evicted right after it is added."""

    def add(self, key, value, timeout=None):
        added = cache.add(key, value, timeout=timeout)
        cache.delete(key)
        return added

    def __getattr__(self, name):
        return getattr(cache, name)


def test_a_counter_evicted_between_add_and_incr_does_not_fail_the_look_up(settings, monkeypatch):
    assert settings.REDIS_URL, "the guess limiter is tested on real Redis: set REDIS_URL"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    coupon = CouponFactory()
    # (on Redis the guard's counters move in scripts, atomically: nothing can vanish midway)
    monkeypatch.setattr(ratelimit, "_store", lambda: ratelimit._CacheStore(_EvictingCache()))
    guard = LookupGuard.for_checkout(
        api_key_id=1, program_id=coupon.program_id, member=coupon.member.external_id
    )

    result = coupon_validate(
        program=coupon.program, code=coupon.code, order_amount=coupon.min_order_amount + 50,
        currency=coupon.currency, member_external_id=coupon.member.external_id, guard=guard,
    )  # fmt: skip

    assert result.coupon == coupon
