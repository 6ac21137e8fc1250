"""Brute force on coupon codes: guesses of codes that do not exist are limited.

Per API key and per member, with an atomic counter in Redis. A real code, even one
that is refused (expired, used), is no guess and does not count.
"""

import threading
import time
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from rewards import ratelimit
from rewards.errors import CouponAlreadyRedeemed, CouponExpired, CouponNotFound, RateLimited
from rewards.ratelimit import LookupGuard
from rewards.services.checkout import coupon_redeem, coupon_release, coupon_validate
from tests.factories import MemberFactory, ProgramFactory
from tests.rewards.factories import CouponFactory
from tests.threads import at_once

WRONG = "ABCDE-FGHJK-MNPQR"


WINDOW_START = 60_000 * 60  # a whole number of 60-second windows


@pytest.fixture(autouse=True)
def small_limits(own_cache, settings):
    """5 guesses per key, 3 per member, in a 60-second window; counters start empty (real
    Redis, under this test's own key prefix)."""
    settings.COUPON_GUESS_LIMIT_PER_KEY = 5
    settings.COUPON_GUESS_LIMIT_PER_MEMBER = 3
    settings.COUPON_GUESS_WINDOW_SECONDS = 60


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The limiter's clock, stopped 1 second into a window so no test straddles two windows."""
    clock = SimpleNamespace(now=WINDOW_START + 1.0)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


def guard(program, key=1, member=None):
    """What the API builds for each checkout request."""
    return LookupGuard.for_checkout(api_key_id=key, program_id=program.pk, member=member)


def look_up(program, code=WRONG, key=1, member=None):
    """One checkout look-up: its result, or the error it raised."""
    try:
        return coupon_validate(
            program=program,
            code=code,
            order_amount=Decimal("100.00"),
            currency="EUR",
            member_external_id=member,
            guard=guard(program, key, member),
        )
    except Exception as error:  # noqa: BLE001 - the outcome is what the test looks at
        return error


def names(outcomes):
    return [type(o).__name__ for o in outcomes]


@pytest.mark.django_db
def test_wrong_codes_beyond_the_limit_are_refused_with_a_wait(program):
    outcomes = [look_up(program, code=f"{WRONG[:-1]}{c}") for c in "23456789"]

    assert names(outcomes) == ["CouponNotFound"] * 5 + ["RateLimited"] * 3
    limited = outcomes[-1]
    assert limited.code == "rate_limited"
    assert limited.status == 429
    assert 0 < limited.retry_after <= 60
    assert limited.detail == (
        "Too many coupon codes that do not exist were tried. "
        f"Please wait {limited.retry_after} seconds before trying again."
    )


@pytest.mark.django_db
def test_retry_after_is_the_rest_of_the_window(program, clock):
    # given a clock 15.5 seconds into a 60-second window
    clock.now = WINDOW_START + 15.5
    for _ in range(5):
        look_up(program)

    limited = look_up(program)

    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 44


@pytest.mark.django_db
def test_guessing_may_resume_in_the_next_window(program, clock):
    assert names(look_up(program) for _ in range(6)) == ["CouponNotFound"] * 5 + ["RateLimited"]

    clock.now += 60

    assert isinstance(look_up(program), CouponNotFound)


@pytest.mark.django_db
def test_real_codes_do_not_count_even_when_refused(program):
    # given coupons that exist: usable, expired, already used
    usable = CouponFactory(program=program)
    expired = CouponFactory(program=program, status="expired")
    used = CouponFactory(program=program, status="redeemed", uses_count=1)

    # when they are looked up far more often than the limit
    answers = [look_up(program, code=c.code) for _ in range(10) for c in (usable, expired, used)]

    # then each gets its real answer every time
    assert Counter(names(answers)) == {
        "CheckoutResult": 10,
        "CouponExpired": 10,
        "CouponAlreadyRedeemed": 10,
    }
    # and the full allowance of guesses is still there
    assert names(look_up(program) for _ in range(6)) == ["CouponNotFound"] * 5 + ["RateLimited"]


@pytest.mark.django_db
def test_once_limited_even_a_real_code_waits_for_the_window(program):
    # refusing every look-up, not just wrong ones, is what keeps the 429 from being an oracle
    coupon = CouponFactory(program=program)
    for _ in range(5):
        look_up(program)

    assert isinstance(look_up(program, code=coupon.code), RateLimited)


@pytest.mark.django_db
def test_the_member_limit_holds_across_api_keys_and_the_key_limit_across_members(program):
    # a member guesses through key 1 until their own limit (3)
    assert names(look_up(program, key=1, member="cust-a") for _ in range(4)) == [
        "CouponNotFound"
    ] * 3 + ["RateLimited"]
    # the member's limit follows them to another key
    assert isinstance(look_up(program, key=2, member="cust-a"), RateLimited)
    # another member on key 1 has their own allowance, until the key's limit (5) is spent
    assert names(look_up(program, key=1, member="cust-b") for _ in range(3)) == [
        "CouponNotFound",
        "CouponNotFound",
        "RateLimited",
    ]
    # key 2 has guessed nothing yet: anonymous look-ups through it still go through
    assert isinstance(look_up(program, key=2), CouponNotFound)


@pytest.mark.django_db
def test_the_member_limit_is_per_program(program):
    other = ProgramFactory()
    for _ in range(3):
        look_up(program, key=1, member="cust-a")

    assert isinstance(look_up(other, key=9, member="cust-a"), CouponNotFound)


@pytest.mark.django_db
def test_a_refusal_by_the_member_limit_costs_the_key_nothing(program):
    for _ in range(3):
        look_up(program, key=1, member="cust-a")
    for _ in range(10):
        assert isinstance(look_up(program, key=1, member="cust-a"), RateLimited)

    # key 1 has spent 3 of its 5 guesses, not 13
    assert names(look_up(program, key=1) for _ in range(3)) == [
        "CouponNotFound",
        "CouponNotFound",
        "RateLimited",
    ]


def guarded(operation, program, code, order="O-1"):
    """A redeem or release through the guard: its result, or the error it raised."""
    kwargs = {"program": program, "code": code, "order_reference": order, "guard": guard(program)}
    if operation is coupon_redeem:
        kwargs |= {"order_amount": Decimal(50), "currency": "EUR"}
    try:
        return operation(**kwargs)
    except Exception as error:  # noqa: BLE001 - the outcome is what the test looks at
        return error


@pytest.mark.django_db
def test_redeem_and_release_are_guarded_too(program):
    # given a used coupon, whose refusals do not count
    coupon = CouponFactory(program=program)
    guarded(coupon_redeem, program, coupon.code, order="O-1")
    assert isinstance(
        guarded(coupon_redeem, program, coupon.code, order="O-2"), CouponAlreadyRedeemed
    )

    # when wrong codes are tried at redeem and release
    outcomes = [guarded(coupon_redeem, program, WRONG, order=f"O-{n}") for n in range(3)]
    outcomes += [guarded(coupon_release, program, WRONG) for _ in range(3)]

    # then they share one allowance
    assert names(outcomes) == ["CouponNotFound"] * 5 + ["RateLimited"]


@pytest.mark.django_db
def test_an_expired_coupon_keeps_answering_after_the_limit_is_nearly_spent(program):
    expired = CouponFactory(program=program, lapsed=True)
    for _ in range(4):
        look_up(program)

    for _ in range(5):
        assert isinstance(look_up(program, code=expired.code), CouponExpired)
    assert isinstance(look_up(program), CouponNotFound)
    assert isinstance(look_up(program), RateLimited)


# -- in parallel ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_thirty_guesses_at_once_evaluate_at_most_the_key_limit():
    program = ProgramFactory()

    outcomes = at_once([lambda n=n: look_up(program, code=f"WRONG-{n:05d}") for n in range(30)])

    assert Counter(names(outcomes)) == {"CouponNotFound": 5, "RateLimited": 25}
    # the refused ones gave their slot back: the counter holds exactly the evaluated guesses
    assert cache.get(f"coupon-guess:key:1:{WINDOW_START // 60}") == 5


@pytest.mark.django_db(transaction=True)
def test_thirty_guesses_for_one_member_at_once_evaluate_at_most_the_member_limit(settings):
    settings.COUPON_GUESS_LIMIT_PER_KEY = 1000
    program = ProgramFactory()

    outcomes = at_once([lambda n=n: look_up(program, key=n, member="cust-a") for n in range(30)])

    assert Counter(names(outcomes)) == {"CouponNotFound": 3, "RateLimited": 27}


@pytest.mark.django_db(transaction=True)
def test_a_members_real_code_looked_up_many_times_at_once_is_never_refused():
    # a storefront validating the member's coupon from 12 requests at once: the member's
    # counter (limit 3) is over only by look-ups in flight, none of them a guess
    program = ProgramFactory()
    coupon = cust_a_coupon(program)

    outcomes = at_once(
        [lambda n=n: look_up(program, code=coupon.code, key=n, member="cust-a") for n in range(12)]
    )

    assert names(outcomes) == ["CheckoutResult"] * 12
    # and they counted nothing: the member's 3 guesses are all still there
    assert names(look_up(program, key=99, member="cust-a") for _ in range(4)) == [
        "CouponNotFound"
    ] * 3 + ["RateLimited"]


def cust_a_coupon(program):
    return CouponFactory(
        program=program, member=MemberFactory(program=program, external_id="cust-a")
    )


def member_counter(program, member="cust-a"):
    return f"coupon-guess:member:{program.pk}:{member}:{WINDOW_START // 60}"


@pytest.mark.django_db(transaction=True)
def test_a_real_code_waits_for_the_look_ups_in_flight_then_goes_through(program):
    # given the member's 3 slots taken by look-ups in flight (no miss among them)
    coupon = cust_a_coupon(program)
    cache.set(member_counter(program), 3)

    # which end a moment later, as real codes give their slots back
    def in_flight_end():
        time.sleep(0.1)
        cache.decr(member_counter(program), 3)

    ending = threading.Thread(target=in_flight_end)
    ending.start()
    outcome = look_up(program, code=coupon.code, member="cust-a")
    ending.join()

    assert names([outcome]) == ["CheckoutResult"]
    assert cache.get(member_counter(program)) == 0


@pytest.mark.django_db
def test_look_ups_in_flight_that_do_not_end_in_time_refuse_with_a_wait(program, monkeypatch):
    monkeypatch.setattr(ratelimit, "IN_FLIGHT_WAIT", 0.05)
    coupon = cust_a_coupon(program)
    cache.set(member_counter(program), 3)

    outcome = look_up(program, code=coupon.code, member="cust-a")

    assert isinstance(outcome, RateLimited)
    assert outcome.retry_after == 59
    assert cache.get(member_counter(program)) == 3  # the refused look-up took no slot
