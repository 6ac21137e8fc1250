"""Idempotency-Key over HTTP: the first answer to a write is replayed, and the write applies once.

API.md, General: the same key with the same body returns the first answer again
(same status and body); with a different body, 409 idempotency_conflict.
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from loyalty.api import views
from loyalty.models import LedgerEntry, Member, Order, Program, Refund
from tests.factories import MemberFactory, ProgramFactory, api_key_for

KEY = "3f1c2a9e-retry-me"


def with_key(key: str = KEY) -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": key}


@pytest.fixture
def shop(api, member):
    """``member`` with 1000 points from order A-1 (100.00 EUR)."""
    body = {
        "external_id": "A-1",
        "member": member.external_id,
        "amount": "100.00",
        "currency": "EUR",
    }
    assert api.post("/api/v1/orders", body, format="json").status_code == 201
    return member


def writes(member):
    """Every write that takes an Idempotency-Key: id -> (method, path, body, another body)."""
    m = f"/api/v1/members/{member.external_id}"
    order = {
        "external_id": "A-2",
        "member": member.external_id,
        "amount": "10.00",
        "currency": "EUR",
    }
    return {
        "POST orders": ("post", "/api/v1/orders", order, {**order, "amount": "11.00"}),
        "POST grants": (
            "post",
            f"{m}/grants",
            {"points": 5, "reason": "Hi"},
            {"points": 6, "reason": "Hi"},
        ),
        "POST refunds": (
            "post",
            "/api/v1/orders/A-1/refunds",
            {"external_id": "R-1", "amount": "10.00"},
            {"external_id": "R-1", "amount": "20.00"},
        ),
        "PUT member": ("put", m, {"email": "a@example.com"}, {"email": "b@example.com"}),
        "PUT program": ("put", "/api/v1/program", {"earn_rate": "2"}, {"earn_rate": "3"}),
    }


WRITES = ["POST orders", "POST grants", "POST refunds", "PUT member", "PUT program"]


def state(member) -> tuple:
    member.refresh_from_db()
    return (
        Order.objects.count(),
        Refund.objects.count(),
        LedgerEntry.objects.count(),
        member.balance,
        member.email,
        Program.objects.get(pk=member.program_id).earn_rate,
    )


@pytest.mark.parametrize("write", WRITES)
def test_same_key_and_body_replays_the_first_status_and_body_and_applies_once(api, shop, write):
    method, path, body, _other = writes(shop)[write]
    first = getattr(api, method)(path, body, format="json", **with_key())
    assert first.status_code in (200, 201), first.content
    after_first = state(shop)

    again = getattr(api, method)(path, body, format="json", **with_key())

    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert state(shop) == after_first


def test_order_retried_with_the_key_answers_201_again_not_the_200_of_a_replay(api, program):
    body = {"external_id": "A-1", "member": "c", "amount": "10.00", "currency": "EUR"}
    first = api.post("/api/v1/orders", body, format="json", **with_key())

    again = api.post("/api/v1/orders", body, format="json", **with_key())

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert LedgerEntry.objects.count() == 1


def test_grant_retried_with_the_key_applies_once(api, member):
    path = f"/api/v1/members/{member.external_id}/grants"
    answers = [
        api.post(path, {"points": 25, "reason": "Birthday"}, format="json", **with_key())
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert LedgerEntry.objects.filter(member=member).count() == 1
    member.refresh_from_db()
    assert member.balance == 25


def test_without_a_key_two_grants_apply_twice(api, member):
    path = f"/api/v1/members/{member.external_id}/grants"

    api.post(path, {"points": 25, "reason": "Birthday"}, format="json")
    api.post(path, {"points": 25, "reason": "Birthday"}, format="json")

    member.refresh_from_db()
    assert member.balance == 50


@pytest.mark.parametrize("write", WRITES)
def test_same_key_with_another_body_is_409_idempotency_conflict(api, shop, write):
    method, path, body, other = writes(shop)[write]
    getattr(api, method)(path, body, format="json", **with_key())
    after_first = state(shop)

    response = getattr(api, method)(path, other, format="json", **with_key())

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "idempotency_conflict"
    assert set(response.json()) == {"code", "detail"}
    assert state(shop) == after_first


def test_same_key_on_another_path_is_409_idempotency_conflict(api, program):
    first, second = MemberFactory(program=program), MemberFactory(program=program)
    body = {"points": 5, "reason": "Hi"}
    api.post(f"/api/v1/members/{first.external_id}/grants", body, format="json", **with_key())

    response = api.post(
        f"/api/v1/members/{second.external_id}/grants", body, format="json", **with_key()
    )

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    second.refresh_from_db()
    assert second.balance == 0


@pytest.mark.parametrize("key", ["k" * 256, "k" * 1000, ""])
def test_key_of_0_or_over_255_chars_is_400_and_applies_nothing(api, member, key):
    response = api.post(
        f"/api/v1/members/{member.external_id}/grants",
        {"points": 5, "reason": "Hi"},
        format="json",
        **with_key(key),
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert "Idempotency-Key" in response.json()["fields"]
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize("write", WRITES)
def test_key_of_255_chars_is_accepted(api, shop, write):
    method, path, body, _other = writes(shop)[write]

    response = getattr(api, method)(path, body, format="json", **with_key("k" * 255))

    assert response.status_code in (200, 201), response.content


def test_the_same_key_of_two_merchants_is_independent(api_for, program):
    other = ProgramFactory()
    answers = []
    for shop_program in (program, other):
        MemberFactory(program=shop_program, external_id="cust-1")
        answers.append(
            api_for(shop_program).post(
                "/api/v1/members/cust-1/grants",
                {"points": 5, "reason": "Hi"},
                format="json",
                **with_key(),
            )
        )

    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["entry"]["id"] != answers[1].json()["entry"]["id"]
    assert sorted(Member.objects.values_list("balance", flat=True)) == [5, 5]


def test_an_error_answer_is_replayed_for_its_key(api, member):
    path = f"/api/v1/members/{member.external_id}/grants"
    deduct = {"points": -500, "reason": "Redeemed"}
    refused = api.post(path, deduct, format="json", **with_key())
    assert refused.status_code == 422
    assert refused.json()["code"] == "insufficient_points"
    api.post(path, {"points": 1000, "reason": "Top up"}, format="json")

    again = api.post(path, deduct, format="json", **with_key())

    assert again.status_code == 422
    assert again.json() == refused.json()
    member.refresh_from_db()
    assert member.balance == 1000


def test_a_validation_error_is_replayed_for_its_key(api, member):
    path = f"/api/v1/members/{member.external_id}/grants"
    first = api.post(path, {"points": 5}, format="json", **with_key())

    again = api.post(path, {"points": 5}, format="json", **with_key())

    assert (first.status_code, again.status_code) == (400, 400)
    assert again.json() == first.json()


def test_a_retry_after_a_server_error_runs_for_real(api, member, monkeypatch):
    real_grant = views.points_grant
    calls = []

    def crash_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real_grant(**kwargs)

    monkeypatch.setattr(views, "points_grant", crash_once)
    api.raise_request_exception = False
    path = f"/api/v1/members/{member.external_id}/grants"

    crashed = api.post(path, {"points": 5, "reason": "Hi"}, format="json", **with_key())
    retried = api.post(path, {"points": 5, "reason": "Hi"}, format="json", **with_key())

    assert crashed.status_code == 500
    assert retried.status_code == 201, retried.content
    member.refresh_from_db()
    assert member.balance == 5


def test_a_replay_needs_the_same_merchants_key_but_any_of_its_keys_will_do(api_for, member):
    path = f"/api/v1/members/{member.external_id}/grants"
    first = api_for(member.program, "manage").post(
        path, {"points": 5, "reason": "Hi"}, format="json", **with_key()
    )

    again = api_for(member.program, "manage").post(
        path, {"points": 5, "reason": "Hi"}, format="json", **with_key()
    )

    assert again.json() == first.json()
    member.refresh_from_db()
    assert member.balance == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_the_same_key_apply_once_and_answer_alike(program):
    member = MemberFactory(program=program)
    raw_key = api_key_for(program)
    path = f"/api/v1/members/{member.external_id}/grants"
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    answers: list[tuple[int, object]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
            barrier.wait(timeout=10)
            response = client.post(
                path, {"points": 25, "reason": "Retry storm"}, format="json", **with_key()
            )
            with lock:
                answers.append((response.status_code, response.json()))
        except BaseException as exc:  # reported to the main thread below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert len(answers) == threads_count
    assert {status for status, _body in answers} == {201}
    assert all(body == answers[0][1] for _status, body in answers)
    assert LedgerEntry.objects.filter(member=member).count() == 1
    member.refresh_from_db()
    assert member.balance == 25
