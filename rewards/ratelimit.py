"""Brute-force protection for coupon codes: guesses of codes that do not exist are limited.

A fixed-window counter per API key and per member in the cache (Redis in
production, where INCR is atomic across processes). A look-up first *reserves*
a slot in every counter and is refused once any is over its limit, so however
many guesses arrive at once, at most the limit are evaluated; a look-up that
finds a real code gives its slot back, so legitimate refusals (an expired or
used coupon) never count.

A counter over its limit may be over only because of look-ups still in flight:
a storefront validating one member's real code from many requests at once. So
the codes found missing are counted apart (``missed``), and a look-up refused
by a counter whose misses are under the limit waits for those in flight to end
(at most ``IN_FLIGHT_WAIT`` seconds) and tries again: a real code is refused
only once codes that do not exist have spent the allowance, which is what the
429 says. Guesses in a burst still wait and then meet the limit their own
misses reached.

When the cache is unreachable (Redis down) the guard lets look-ups through and
logs it: checkout keeps working through a Redis outage, and codes are 74 random
bits, so the limit is a second line of defence, not the only one.
"""

import logging
import time
from dataclasses import dataclass, field
from time import monotonic, sleep

from django.conf import settings
from django.core.cache import cache
from redis import RedisError

from rewards.errors import RateLimited

logger = logging.getLogger(__name__)

# How long a look-up waits for look-ups in flight to free their slots, and how often it
# tries again meanwhile (each in-flight look-up holds its slot for one database read).
IN_FLIGHT_WAIT = 0.5
IN_FLIGHT_RETRY = 0.01


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

    def _missed_key(self, key: str) -> str:
        return f"{key}:missed"

    def reserve(self) -> None:
        deadline = monotonic() + IN_FLIGHT_WAIT
        while True:
            try:
                over = self._try_reserve()
            except (RedisError, OSError):
                logger.warning("coupon guess limit not checked: the cache is unreachable")
                return
            if over is None:
                return
            key, limit, retry_after = over
            if self._misses(key) >= limit or monotonic() >= deadline:
                raise RateLimited(retry_after=retry_after)
            sleep(IN_FLIGHT_RETRY)  # over only by look-ups in flight: they end in a moment

    def _try_reserve(self) -> tuple[str, int, int] | None:
        """A slot in every counter; or, all given back, the first counter over its limit,
        that limit and the seconds left in its window."""
        now = time.time()
        for name, limit in self.counters:
            key = self._key(name, now)
            cache.add(key, 0, timeout=self.window + 5)
            try:
                count = cache.incr(key)
            except ValueError:
                # The counter vanished between add and incr (evicted, flushed): this is
                # the window's first guess again, not a server error.
                cache.add(key, 1, timeout=self.window + 5)
                count = 1
            self._reserved.append(key)
            if count > limit:
                self.give_back()
                return key, limit, max(1, int(self.window - now % self.window))
        return None

    def _misses(self, key: str) -> int:
        try:
            return int(cache.get(self._missed_key(key)) or 0)
        except (RedisError, OSError):
            return 0

    def missed(self) -> None:
        """The code looked up does not exist: its slots stay taken, and count as misses."""
        for key in self._reserved:
            try:
                cache.add(self._missed_key(key), 0, timeout=self.window + 5)
                cache.incr(self._missed_key(key))
            except ValueError:
                pass  # the window rolled over: its counters with it
            except (RedisError, OSError):
                break
        self._reserved.clear()

    def give_back(self) -> None:
        for key in self._reserved:
            try:
                cache.decr(key)
            except ValueError:
                pass  # the window rolled over: nothing to give back
            except (RedisError, OSError):
                break  # the cache went away: its counters with it
        self._reserved.clear()
