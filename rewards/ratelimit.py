"""Brute-force protection for coupon codes: guesses of codes that do not exist are limited.

A fixed-window counter per API key and per member in the cache (Redis, in every mode,
shared by all processes). A look-up first *reserves*
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

Each step is one round trip to Redis (a script, atomic too): the guard runs on every
checkout, and through the cache API a real code's look-up took ten round trips and a new
client each, 1.1 ms of CPU against 0.13 ms now.

When the cache is unreachable (Redis down) the guard lets look-ups through and
logs it: checkout keeps working through a Redis outage, and codes are 74 random
bits, so the limit is a second line of defence, not the only one.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic, sleep
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis import RedisError

from rewards.errors import RateLimited

logger = logging.getLogger(__name__)

# How long a look-up waits for look-ups in flight to free their slots, and how often it
# tries again meanwhile (each in-flight look-up holds its slot for one database read).
IN_FLIGHT_WAIT = 0.5
IN_FLIGHT_RETRY = 0.01

# KEYS: counters; ARGV[1]: their time to live; ARGV[1 + i]: the limit of KEYS[i]. A slot in
# each; when one is then over its limit, all are given back and its position (from 1) is
# returned, else 0.
_RESERVE = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[1], 'NX')
  counts[i] = redis.call('INCR', key)
end
for i = 1, #KEYS do
  if counts[i] > tonumber(ARGV[i + 1]) then
    for _, key in ipairs(KEYS) do redis.call('DECR', key) end
    return i
  end
end
return 0
"""
# A counter that is gone (its window ended, evicted) stays gone: never below zero.
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""
_COUNT = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[1], 'NX')
  redis.call('INCR', key)
end
return 0
"""


class _RedisStore:
    def __init__(self, backend: RedisCache) -> None:
        self.backend = backend
        # One client for this cache's look-ups, on its pool: redis-py takes longer to build
        # a client than Redis takes to run the script.
        self.client = backend._cache.get_client(write=True)
        self.scripts = {s: self.client.register_script(s) for s in (_RESERVE, _GIVE_BACK, _COUNT)}

    def get(self, key: str) -> int:
        return int(self.backend.get(key) or 0)

    def _run(self, script: str, keys: list[str], args: list[int]) -> Any:
        names = [self.backend.make_key(key) for key in keys]
        return self.scripts[script](keys=names, args=args)  # EVALSHA, the script sent once

    def reserve(self, keys: list[str], limits: list[int], ttl: int) -> int | None:
        over = int(self._run(_RESERVE, keys, [ttl, *limits]))
        return over - 1 if over else None

    def give_back(self, keys: list[str]) -> None:
        self._run(_GIVE_BACK, keys, [])

    def count(self, keys: list[str], ttl: int) -> None:
        self._run(_COUNT, keys, [ttl])


_STORE = "_coupon_guess_store"  # where a cache instance keeps its store


def _store() -> _RedisStore:
    """The store of this thread's default cache, made once per cache instance."""
    backend = caches["default"]
    store: _RedisStore | None = getattr(backend, _STORE, None)
    if store is None:
        assert isinstance(backend, RedisCache), "the guess limiter counts in Redis"
        store = _RedisStore(backend)
        setattr(backend, _STORE, store)
    return store


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

    def reserve(self) -> None:
        store, deadline = _store(), monotonic() + IN_FLIGHT_WAIT
        limits = [limit for _, limit in self.counters]
        while True:
            now = time.time()
            keys = [f"coupon-guess:{name}:{int(now // self.window)}" for name, _ in self.counters]
            try:
                over = store.reserve(keys, limits, self.window + 5)
                if over is None:
                    self._reserved = keys
                    return
                # Over only by look-ups in flight (not by misses): they end in a moment.
                in_flight = store.get(_missed(keys[over])) < limits[over]
            except (RedisError, OSError):
                logger.warning("coupon guess limit not checked: the cache is unreachable")
                return
            if not in_flight or monotonic() >= deadline:
                raise RateLimited(retry_after=max(1, int(self.window - now % self.window)))
            sleep(IN_FLIGHT_RETRY)

    def missed(self) -> None:
        """The code looked up does not exist: its slots stay taken, and count as misses."""
        self._end(lambda store, keys: store.count([_missed(k) for k in keys], self.window + 5))

    def give_back(self) -> None:
        self._end(lambda store, keys: store.give_back(keys))

    def _end(self, step: Callable[[_RedisStore, list[str]], None]) -> None:
        """The look-up's last step on its slots, if it holds any."""
        if self._reserved:
            try:
                step(_store(), self._reserved)
            except (RedisError, OSError):
                pass  # the cache went away: its counters with it
        self._reserved = []


def _missed(key: str) -> str:
    return f"{key}:missed"
