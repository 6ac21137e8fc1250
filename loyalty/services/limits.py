"""Fixed-window attempt counters for the profile page's limits (sign-in links, transfers).

Invariant: every attempt counts once in each of its counters, allowed or not, so trying
on past the limit never reopens it before the window ends; the counters live in the
cache (Redis in production, where INCR is atomic across processes and machines), keyed
by what they count and the window's number.

When the cache is unreachable (Redis down) the attempt is let through and logged, as the
coupon guard does: the limits are a second line of defence (a sign-in link goes only to
its owner's address, a transfer costs points), not a reason for the page to fail.
"""

import logging
import time
from collections.abc import Sequence

from django.core.cache import cache
from redis import RedisError

logger = logging.getLogger(__name__)


def attempt_count(*, prefix: str, counters: Sequence[tuple[str, int]], window: int) -> int | None:
    """Count one attempt in each ``(name, limit)`` counter of the current window.

    Returns the seconds until the window ends when any counter is now over its limit
    (the caller refuses, saying when to try again), else None.
    """
    now = time.time()
    slot = int(now // window)
    over = False
    try:
        for name, limit in counters:
            key = f"{prefix}:{name}:{slot}"
            cache.add(key, 0, timeout=window + 5)
            try:
                count = cache.incr(key)
            except ValueError:
                # Gone between add and incr (evicted, flushed): the window's first again.
                cache.add(key, 1, timeout=window + 5)
                count = 1
            over = over or count > limit
    except (RedisError, OSError):
        logger.warning("%s limit not checked: the cache is unreachable", prefix)
        return None
    return max(1, int(window - now % window)) if over else None
