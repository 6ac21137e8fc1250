"""Coupons at checkout over HTTP: validate, redeem, release; every refusal; brute-force limits.

API.md, Coupons at checkout: validate answers ``{valid, discount, coupon}`` or one
of the listed codes (404 ``coupon_not_found``, the others 422), with a detail
that tells the customer what to do; redeem makes the same checks, and of any
number of concurrent redemptions of a single-use coupon exactly one succeeds;
release undoes the redemption of a cancelled order. Scope ``checkout``. Guesses
of codes that do not exist are limited per key and per member: 429
``rate_limited`` with Retry-After.
"""

import threading
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import Order
from rewards.models import Coupon, CouponEvent, Redemption
from rewards.services.coupons import CouponTerms, coupon_issue
from tests.factories import ProgramFactory, api_key_for

UNKNOWN_CODE = "ZZZZZ-ZZZZZ-ZZZZZ"
COUPON_FIELDS = {
    "code", "kind", "value", "max_discount", "min_order_amount", "currency", "valid_from",
    "valid_until", "status", "member",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_guess_counters(own_cache):
    """The guess counters live in the cache (Redis), which outlives a test's transaction:
    each test counts under its own key prefix (a flush would wipe the counters of the tests
    running beside it, ``-n 2``)."""


def issue(program, *, member=None, kind="percent", value="10", max_discount=None,
          min_order_amount="0", uses=1, valid_days=30) -> Coupon:  # fmt: skip
    terms = CouponTerms(
        kind=kind,
        value=Decimal(value),
        max_discount=None if max_discount is None else Decimal(max_discount),
        min_order_amount=Decimal(min_order_amount),
        valid_days=valid_days,
        uses=uses,
    )
    return coupon_issue(
        program=program, terms=terms, member=member, source=Coupon.Source.PROMOTION, reason="test"
    )


def url(code: str, action: str) -> str:
    return f"/api/v1/coupons/{code}/{action}"


def checkout(amount: str = "100.00", currency: str = "EUR", **more) -> dict:
    return {"order_amount": amount, "currency": currency, **more}


def redeem_body(order: str = "O-1", amount: str = "100.00", **more) -> dict:
    return {"order": order, **checkout(amount, **more)}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"].strip()
    return body


@pytest.fixture
def till(api_for, program) -> APIClient:
    """The shop's checkout: a key with only the ``checkout`` scope."""
    return api_for(program, "checkout")


# --- validate ------------------------------------------------------------------------------


def test_validate_answers_valid_the_discount_and_the_coupon(till, program, member):
    coupon = issue(program, member=member, value="10", min_order_amount="20.00")

    response = till.post(
        url(coupon.display_code, "validate"),
        checkout("123.45", member=member.external_id),
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["valid"] is True
    assert body["discount"] == "12.35"
    assert COUPON_FIELDS <= set(body["coupon"])
    assert body["coupon"]["code"] == coupon.display_code
    assert body["coupon"]["member"] == member.external_id
    assert (body["coupon"]["kind"], body["coupon"]["value"]) == ("percent", "10")
    assert body["coupon"]["min_order_amount"] == "20.00"
    assert body["coupon"]["max_discount"] is None
    assert body["coupon"]["status"] == "active"


def test_validate_changes_nothing(till, program):
    coupon = issue(program)

    for _ in range(3):
        assert till.post(url(coupon.code, "validate"), checkout(), format="json").status_code == 200

    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("active", 0)
    assert not Redemption.objects.exists()


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.display_code,
        lambda c: c.code,
        lambda c: c.display_code.lower(),
        lambda c: " ".join([c.code[:5], c.code[5:10], c.code[10:]]).replace(" ", "%20"),
        lambda c: f"{c.code[:5]}_{c.code[5:10]}.{c.code[10:]}",
    ],
    ids=["grouped", "plain", "lower case", "spaces", "other separators"],
)
def test_the_code_is_accepted_however_it_is_typed(till, program, typed):
    coupon = issue(program)

    response = till.post(url(typed(coupon), "validate"), checkout(), format="json")

    assert response.status_code == 200, response.content
    assert response.json()["coupon"]["code"] == coupon.display_code


@pytest.mark.parametrize(
    ("terms", "amount", "discount"),
    [
        ({"kind": "percent", "value": "10"}, "123.45", "12.35"),  # 12.345 rounds half-up
        ({"kind": "percent", "value": "12.5"}, "10.00", "1.25"),
        ({"kind": "percent", "value": "50", "max_discount": "20.00"}, "100.00", "20.00"),
        ({"kind": "percent", "value": "50", "max_discount": "20.00"}, "30.00", "15.00"),
        ({"kind": "percent", "value": "100"}, "0.01", "0.01"),
        ({"kind": "fixed", "value": "5.00"}, "100.00", "5.00"),
        ({"kind": "fixed", "value": "15.00"}, "10.00", "10.00"),  # never more than the order
        ({"kind": "fixed", "value": "5.00", "min_order_amount": "50.00"}, "50.00", "5.00"),
    ],
)
def test_discount(till, program, terms, amount, discount):
    coupon = issue(program, **terms)

    response = till.post(url(coupon.code, "validate"), checkout(amount), format="json")

    assert response.status_code == 200, response.content
    assert response.json()["discount"] == discount


@pytest.mark.parametrize(
    ("currency", "terms", "amount", "discount"),
    [
        ("JPY", {"kind": "percent", "value": "10"}, "1235", "124"),
        ("JPY", {"kind": "fixed", "value": "500"}, "300", "300"),
        ("KWD", {"kind": "percent", "value": "10"}, "1.005", "0.101"),
        ("KWD", {"kind": "fixed", "value": "1.250"}, "10.000", "1.250"),
    ],
)
def test_discount_in_currencies_with_0_and_3_decimals(api_for, currency, terms, amount, discount):
    program = ProgramFactory(currency=currency)
    coupon = issue(program, **terms)

    response = api_for(program, "checkout").post(
        url(coupon.code, "validate"), checkout(amount, currency), format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["discount"] == discount
    assert response.json()["coupon"]["currency"] == currency


# --- every refusal -------------------------------------------------------------------------


def lapse(coupon: Coupon) -> None:
    now = timezone.now()
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=now - timedelta(days=31), valid_until=now - timedelta(days=1)
    )


def not_yet(coupon: Coupon) -> None:
    now = timezone.now()
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=now + timedelta(days=2), valid_until=now + timedelta(days=32)
    )


def void(coupon: Coupon) -> None:
    Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.VOID)


def used(coupon: Coupon) -> None:
    Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.REDEEMED, uses_count=1)


def expired_by_job(coupon: Coupon) -> None:
    lapse(coupon)
    Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.EXPIRED)


# (id, change to the coupon, extra body, status, code, words the detail must contain)
REFUSALS = [
    ("unknown code", None, {}, 404, "coupon_not_found", ""),
    ("expired (window over)", lapse, {}, 422, "coupon_expired", ""),
    ("expired (by the job)", expired_by_job, {}, 422, "coupon_expired", ""),
    ("not yet valid", not_yet, {}, 422, "coupon_not_yet_valid", ""),
    ("already redeemed", used, {}, 422, "coupon_already_redeemed", ""),
    ("void", void, {}, 422, "coupon_void", ""),
    ("wrong member", None, {"member": "someone-else"}, 422, "coupon_wrong_member", ""),
    ("min order not met", None, {"order_amount": "38.00"}, 422, "coupon_min_order_not_met",
     "12.00 EUR"),
    ("currency mismatch", None, {"currency": "USD"}, 422, "currency_mismatch", "EUR"),
]  # fmt: skip


@pytest.mark.parametrize("action", ["validate", "redeem"])
@pytest.mark.parametrize(
    ("change", "extra", "status", "code", "words"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_every_refusal_has_its_code_status_and_a_detail(
    till, program, member, action, change, extra, status, code, words
):
    coupon = issue(program, member=member, min_order_amount="50.00")
    if change is not None:
        change(coupon)
    code_sent = UNKNOWN_CODE if code == "coupon_not_found" else coupon.display_code
    body = redeem_body(member=member.external_id) if action == "redeem" else checkout(
        member=member.external_id
    )  # fmt: skip
    body.update(extra)

    response = till.post(url(code_sent, action), body, format="json")

    answer = assert_error(response, status, code)
    assert set(answer) == {"code", "detail"}
    assert words in answer["detail"]
    assert not Redemption.objects.exists()


def test_a_refusal_detail_follows_accept_language(till, program):
    coupon = issue(program, min_order_amount="50.00")

    english = till.post(url(coupon.code, "validate"), checkout("38.00"), format="json")
    spanish = till.post(
        url(coupon.code, "validate"), checkout("38.00"), format="json", HTTP_ACCEPT_LANGUAGE="es"
    )

    assert english.json()["code"] == spanish.json()["code"] == "coupon_min_order_not_met"
    assert english.json()["detail"] != spanish.json()["detail"]
    assert "12.00 EUR" in spanish.json()["detail"]


def test_a_coupon_without_a_member_works_for_anyone(till, program):
    coupon = issue(program, member=None)

    for member in (None, "cust-1", "cust-2"):
        body = checkout() if member is None else checkout(member=member)
        assert till.post(url(coupon.code, "validate"), body, format="json").status_code == 200


def test_a_member_coupon_without_a_member_in_the_body_is_accepted(till, program, member):
    coupon = issue(program, member=member)

    response = till.post(url(coupon.code, "validate"), checkout(), format="json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "EUR"}, "order_amount"),
        (checkout("abc"), "order_amount"),
        (checkout("0"), "order_amount"),
        (checkout("-5.00"), "order_amount"),
        (checkout("12.345"), "order_amount"),
        (checkout("NaN"), "order_amount"),
        ({"order_amount": "10.00"}, "currency"),
        (checkout(currency="EURO"), "currency"),
        (checkout(member="shop/42"), "member"),
        (checkout(member="line\nbreak"), "member"),
        (checkout(member=""), "member"),
    ],
)
def test_bad_checkout_input_is_400_validation_error(till, program, body, field):
    coupon = issue(program)

    response = till.post(url(coupon.code, "validate"), body, format="json")

    answer = assert_error(response, 400, "validation_error")
    assert field in answer["fields"]


def test_redeem_needs_the_order_reference(till, program):
    coupon = issue(program)

    response = till.post(url(coupon.code, "redeem"), checkout(), format="json")

    assert "order" in assert_error(response, 400, "validation_error")["fields"]
    assert not Redemption.objects.exists()


def test_malformed_json_is_400_parse_error_with_only_a_position(till, program):
    coupon = issue(program)

    response = till.generic(
        "POST", url(coupon.code, "validate"), '{"order_amount": ', content_type="application/json"
    )

    detail = assert_error(response, 400, "parse_error")["detail"]
    assert "line 1" in detail
    assert "Expecting" not in detail


def test_deeply_nested_json_is_400_parse_error(till, program):
    coupon = issue(program)

    response = till.generic(
        "POST", url(coupon.code, "redeem"), "[" * 100_000, content_type="application/json"
    )

    assert_error(response, 400, "parse_error")


# --- redeem and release --------------------------------------------------------------------


def test_redeem_uses_the_coupon_and_answers_the_discount(till, program, member):
    coupon = issue(program, member=member, kind="fixed", value="7.50")

    response = till.post(
        url(coupon.display_code, "redeem"),
        redeem_body("O-1", "40.00", member=member.external_id),
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["discount"] == "7.50"
    assert response.json()["coupon"]["status"] == "redeemed"
    assert response.json()["coupon"]["uses_count"] == 1
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("redeemed", 1)
    redemption = Redemption.objects.get(coupon=coupon)
    assert (redemption.order_reference, redemption.discount) == ("O-1", Decimal("7.50"))
    assert CouponEvent.objects.filter(coupon=coupon, kind="redeemed").count() == 1


def test_redeem_of_the_same_order_again_answers_the_same_discount(till, program):
    coupon = issue(program)

    first = till.post(url(coupon.code, "redeem"), redeem_body("O-1", "80.00"), format="json")
    again = till.post(url(coupon.code, "redeem"), redeem_body("O-1", "80.00"), format="json")

    assert first.status_code == again.status_code == 200
    assert first.json()["discount"] == again.json()["discount"] == "8.00"
    assert Redemption.objects.filter(coupon=coupon).count() == 1
    coupon.refresh_from_db()
    assert coupon.uses_count == 1


def test_another_order_cannot_redeem_a_used_coupon(till, program):
    coupon = issue(program)
    till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json")

    response = till.post(url(coupon.code, "redeem"), redeem_body("O-2"), format="json")

    assert_error(response, 422, "coupon_already_redeemed")


def test_a_multi_use_coupon_serves_as_many_orders_as_it_allows(till, program):
    coupon = issue(program, uses=2)

    first = till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json")
    second = till.post(url(coupon.code, "redeem"), redeem_body("O-2"), format="json")
    third = till.post(url(coupon.code, "redeem"), redeem_body("O-3"), format="json")

    assert first.json()["coupon"]["status"] == "active"
    assert second.json()["coupon"]["status"] == "redeemed"
    assert_error(third, 422, "coupon_already_redeemed")


def test_redeem_with_the_same_idempotency_key_returns_the_first_answer(till, program):
    coupon = issue(program)
    key = {"HTTP_IDEMPOTENCY_KEY": "checkout-42"}

    first = till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json", **key)
    Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.VOID)  # whatever happens
    again = till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json", **key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert Redemption.objects.count() == 1


def test_redeem_with_the_same_key_and_another_body_is_409(till, program):
    coupon = issue(program)
    key = {"HTTP_IDEMPOTENCY_KEY": "checkout-42"}
    till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json", **key)

    response = till.post(url(coupon.code, "redeem"), redeem_body("O-2"), format="json", **key)

    assert_error(response, 409, "idempotency_conflict")


def test_a_refusal_is_the_first_answer_too(till, program):
    coupon = issue(program)
    till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json")
    key = {"HTTP_IDEMPOTENCY_KEY": "late"}

    refused = till.post(url(coupon.code, "redeem"), redeem_body("O-2"), format="json", **key)
    till.post(url(coupon.code, "release"), {"order": "O-1"}, format="json")
    again = till.post(url(coupon.code, "redeem"), redeem_body("O-2"), format="json", **key)

    assert refused.status_code == again.status_code == 422
    assert again.json() == refused.json()


def test_release_makes_the_coupon_active_again_and_it_can_be_redeemed(till, program):
    coupon = issue(program)
    till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json")

    released = till.post(url(coupon.display_code, "release"), {"order": "O-1"}, format="json")
    redeemed = till.post(url(coupon.code, "redeem"), redeem_body("O-2"), format="json")

    assert released.status_code == 200, released.content
    assert released.json()["coupon"]["status"] == "active"
    assert released.json()["coupon"]["uses_count"] == 0
    assert redeemed.status_code == 200, redeemed.content
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("redeemed", 1)
    kinds = list(CouponEvent.objects.filter(coupon=coupon).values_list("kind", flat=True))
    assert kinds == ["issued", "redeemed", "released", "redeemed"]


def test_releasing_twice_answers_the_same(till, program):
    coupon = issue(program)
    till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json")

    first = till.post(url(coupon.code, "release"), {"order": "O-1"}, format="json")
    again = till.post(url(coupon.code, "release"), {"order": "O-1"}, format="json")

    assert first.status_code == again.status_code == 200
    coupon.refresh_from_db()
    assert coupon.uses_count == 0


def test_a_coupon_that_expired_meanwhile_stays_expired_on_release(till, program):
    coupon = issue(program)
    till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json")
    lapse(coupon)

    response = till.post(url(coupon.code, "release"), {"order": "O-1"}, format="json")

    assert response.status_code == 200
    assert response.json()["coupon"]["status"] == "expired"


def test_release_of_an_order_that_did_not_use_the_coupon_is_404(till, program):
    coupon = issue(program)
    till.post(url(coupon.code, "redeem"), redeem_body("O-1"), format="json")

    response = till.post(url(coupon.code, "release"), {"order": "O-9"}, format="json")

    assert_error(response, 404, "redemption_not_found")
    coupon.refresh_from_db()
    assert coupon.status == "redeemed"


def test_release_of_an_unknown_code_is_404_coupon_not_found(till, program):
    response = till.post(url(UNKNOWN_CODE, "release"), {"order": "O-1"}, format="json")

    assert_error(response, 404, "coupon_not_found")


def test_release_needs_the_order(till, program):
    coupon = issue(program)

    response = till.post(url(coupon.code, "release"), {}, format="json")

    assert "order" in assert_error(response, 400, "validation_error")["fields"]


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_20_concurrent_redeems_of_a_single_use_coupon_one_succeeds():
    program = ProgramFactory()
    raw_key = api_key_for(program, "checkout")
    coupon = issue(program)
    threads_count = 20
    barrier = threading.Barrier(threads_count)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def redeem(n: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
            barrier.wait(timeout=30)
            response = client.post(
                url(coupon.display_code, "redeem"), redeem_body(f"O-{n}"), format="json"
            )
            with lock:
                answers.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(answers, key=str) == sorted(
        [(200, None)] + [(422, "coupon_already_redeemed")] * (threads_count - 1), key=str
    )
    coupon.refresh_from_db()
    assert (coupon.status, coupon.uses_count) == ("redeemed", 1)
    assert Redemption.objects.filter(coupon=coupon).count() == 1


# --- who may call --------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["validate", "redeem", "release"])
def test_a_key_without_the_checkout_scope_cannot_use_coupons(api_for, program, action):
    coupon = issue(program)
    body = {"order": "O-1"} if action == "release" else redeem_body()

    response = api_for(program, "orders,manage").post(url(coupon.code, action), body, format="json")

    assert_error(response, 403, "permission_denied")
    coupon.refresh_from_db()
    assert coupon.uses_count == 0


def test_a_checkout_key_cannot_record_orders(till, program):
    body = {"external_id": "A-1", "member": "cust-1", "amount": "10.00", "currency": "EUR"}

    response = till.post("/api/v1/orders", body, format="json")

    assert_error(response, 403, "permission_denied")
    assert not Order.objects.exists()


def test_no_key_is_401(program):
    coupon = issue(program)

    response = APIClient().post(url(coupon.code, "validate"), checkout(), format="json")

    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize("action", ["validate", "redeem", "release"])
def test_another_merchants_coupon_is_404_coupon_not_found(till, action):
    other = issue(ProgramFactory())
    body = {"order": "O-1"} if action == "release" else redeem_body()

    response = till.post(url(other.display_code, action), body, format="json")

    assert_error(response, 404, "coupon_not_found")
    other.refresh_from_db()
    assert other.uses_count == 0


# --- brute force ---------------------------------------------------------------------------


def guess(client: APIClient, n: int, **more):
    """A well-formed code that does not exist (``n`` makes each guess different)."""
    code = f"ZZZZZ-ZZZZZ-ZZZ{n:02d}"
    return client.post(url(code, "validate"), checkout(**more), format="json")


def assert_rate_limited(response) -> None:
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0


def test_guessing_beyond_the_key_limit_is_429_with_retry_after(till, program, settings):
    settings.COUPON_GUESS_LIMIT_PER_KEY = 3

    answers = [guess(till, n) for n in range(3)]
    limited = guess(till, 3)

    assert [a.json()["code"] for a in answers] == ["coupon_not_found"] * 3
    assert_rate_limited(limited)


def test_once_limited_even_a_real_code_waits(till, program, settings):
    settings.COUPON_GUESS_LIMIT_PER_KEY = 2
    coupon = issue(program)
    guess(till, 0)
    guess(till, 1)

    response = till.post(url(coupon.code, "validate"), checkout(), format="json")

    assert_rate_limited(response)


def test_real_codes_refused_for_a_reason_do_not_count(till, program, settings):
    settings.COUPON_GUESS_LIMIT_PER_KEY = 3
    expired = issue(program)
    lapse(expired)
    good = issue(program)

    first = [guess(till, n) for n in range(2)]
    refusals = [
        till.post(url(expired.code, "validate"), checkout(), format="json") for _ in range(5)
    ]
    fine = [till.post(url(good.code, "validate"), checkout(), format="json") for _ in range(5)]
    third = guess(till, 2)
    fourth = guess(till, 3)

    assert [r.status_code for r in first] == [404, 404]
    assert [r.json()["code"] for r in refusals] == ["coupon_expired"] * 5
    assert [r.status_code for r in fine] == [200] * 5
    assert third.status_code == 404
    assert_rate_limited(fourth)


def test_the_limit_is_per_key(api_for, program, settings):
    settings.COUPON_GUESS_LIMIT_PER_KEY = 2
    first, second = api_for(program, "checkout"), api_for(program, "checkout")
    guess(first, 0)
    guess(first, 1)

    assert_rate_limited(guess(first, 2))
    assert guess(second, 2).status_code == 404


def test_the_limit_is_per_member_across_keys(api_for, program, settings):
    settings.COUPON_GUESS_LIMIT_PER_MEMBER = 2
    keys = [api_for(program, "checkout") for _ in range(3)]

    answers = [guess(client, n, member="cust-7") for n, client in enumerate(keys)]

    assert [a.status_code for a in answers[:2]] == [404, 404]
    assert_rate_limited(answers[2])
    assert guess(keys[2], 9, member="cust-8").status_code == 404


def test_redeem_and_release_guesses_count_too(till, program, settings):
    settings.COUPON_GUESS_LIMIT_PER_KEY = 2
    till.post(url(UNKNOWN_CODE, "redeem"), redeem_body(), format="json")
    till.post(url(UNKNOWN_CODE, "release"), {"order": "O-1"}, format="json")

    assert_rate_limited(till.post(url(UNKNOWN_CODE, "redeem"), redeem_body(), format="json"))


def test_a_429_is_not_kept_as_the_answer_to_an_idempotency_key(till, program, settings):
    settings.COUPON_GUESS_LIMIT_PER_KEY = 1
    coupon = issue(program)
    guess(till, 0)
    key = {"HTTP_IDEMPOTENCY_KEY": "after-the-wait"}

    limited = till.post(url(coupon.code, "redeem"), redeem_body(), format="json", **key)
    settings.COUPON_GUESS_LIMIT_PER_KEY = 10  # as if the window had passed
    retried = till.post(url(coupon.code, "redeem"), redeem_body(), format="json", **key)

    assert_rate_limited(limited)
    assert retried.status_code == 200, retried.content
    assert Redemption.objects.count() == 1


# --- external ids in bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    "external_id", ["shop/42", "a\tb", "line\nbreak", "nul\x00", "del\x7f", ".", ".."]
)
@pytest.mark.parametrize("field", ["external_id", "member"])
def test_an_order_with_an_id_no_url_can_carry_is_refused(api, program, field, external_id):
    body = {"external_id": "A-1", "member": "cust-1", "amount": "10.00", "currency": "EUR"}
    body[field] = external_id

    response = api.post("/api/v1/orders", body, format="json")

    answer = assert_error(response, 400, "validation_error")
    assert field in answer["fields"]
    assert not Order.objects.exists()


@pytest.mark.parametrize("external_id", ["shop 42", "ä-ö", "a.b", "50%", "a?b", "#1"])
def test_an_order_id_with_other_characters_is_reachable(api, program, external_id):
    body = {"external_id": external_id, "member": external_id, "amount": "1.00", "currency": "EUR"}

    assert api.post("/api/v1/orders", body, format="json").status_code == 201
    assert api.get(f"/api/v1/orders/{quote(external_id, safe='')}").status_code == 200
    assert api.get(f"/api/v1/members/{quote(external_id, safe='')}").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("post", url("AB%00CD", "validate"), "coupon_not_found"),
        ("post", url("AB%00CD", "redeem"), "coupon_not_found"),
        ("get", "/api/v1/members/a%00b", "member_not_found"),
        ("get", "/api/v1/members/a%00b/ledger", "member_not_found"),
        ("get", "/api/v1/members/a%00b/coupons", "member_not_found"),
        ("post", "/api/v1/members/a%00b/grants", "member_not_found"),
        ("post", "/api/v1/members/a%00b/rewards", "member_not_found"),
        ("get", "/api/v1/orders/a%00b", "order_not_found"),
        ("post", "/api/v1/orders/a%00b/refunds", "order_not_found"),
    ],
)
def test_a_nul_in_a_path_id_is_not_found_not_a_crash(api, program, method, path, code):
    api.raise_request_exception = False
    body = {**redeem_body(), "points": 5, "reason": "x", "threshold": 5, "external_id": "R-1",
            "amount": "1.00"}  # fmt: skip

    response = getattr(api, method)(path, body, format="json")

    assert_error(response, 404, code)


@pytest.mark.parametrize("external_id", ["a%00b", "line%0Abreak", "tab%09", "%2E%2E"])
def test_put_member_with_an_id_no_url_can_carry_is_400(api, program, external_id):
    api.raise_request_exception = False

    response = api.put(f"/api/v1/members/{external_id}", {"name": "Ann"}, format="json")

    assert "external_id" in assert_error(response, 400, "validation_error")["fields"]
    assert not program.members.exists()
