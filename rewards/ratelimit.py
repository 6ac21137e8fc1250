"""Brute-force protection for coupon codes: guesses of codes that do not exist are limited.

A fixed-window counter per API key and per member in the cache (Redis in
production, where INCR is atomic across processes). A look-up first *reserves*
a slot in every counter and is refused once any is over its limit, so however
many guesses arrive at once, at most the limit are evaluated; a look-up that
finds a real code gives its slot back, so legitimate refusals (an expired or
used coupon) never count.

When the cache is unreachable (Redis down) the guard lets look-ups through and
logs it: checkout keeps working through a Redis outage, and codes are 74 random
bits, so the limit is a second line of defence, not the only one.
"""

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from redis import RedisError

from rewards.errors import RateLimited

logger = logging.getLogger(__name__)


@dataclass
class LookupGuard:
    """Counters for one look-up: ``(name, limit)`` pairs sharing one window."""

    counters: list[tuple[str, int]]
    window: int = field(default_factory=lambda: settings.COUPON_GUESS_WINDOW_SECONDS)
    _reserved: list[str] = field(default_factory=list)

    @classmethod
    def for_checkout(cls, *, api_key_id: int, program_id: int, member: str | None) -> "LookupGuard":
        counters = [(f"key:{api_key_id}", settings.COUPON_GUESS_LIMIT_PER_KEY)]
        if member:
            counters.append(
                (f"member:{program_id}:{member}", settings.COUPON_GUESS_LIMIT_PER_MEMBER)
            )
        return cls(counters=counters)

    def _key(self, name: str, now: float) -> str:
        return f"coupon-guess:{name}:{int(now // self.window)}"

    def reserve(self) -> None:
        now = time.time()
        for name, limit in self.counters:
            key = self._key(name, now)
            try:
                cache.add(key, 0, timeout=self.window + 5)
                try:
                    count = cache.incr(key)
                except ValueError:
                    # The counter vanished between add and incr (evicted, flushed): this is
                    # the window's first guess again, not a server error.
                    cache.add(key, 1, timeout=self.window + 5)
                    count = 1
            except (RedisError, OSError):
                logger.warning("coupon guess limit not checked: the cache is unreachable")
                return
            self._reserved.append(key)
            if count > limit:
                self.give_back()
                raise RateLimited(retry_after=max(1, int(self.window - now % self.window)))

    def give_back(self) -> None:
        for key in self._reserved:
            try:
                cache.decr(key)
            except ValueError:
                pass  # the window rolled over: nothing to give back
            except (RedisError, OSError):
                break  # the cache went away: its counters with it
        self._reserved.clear()
