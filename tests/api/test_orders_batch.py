"""POST /api/v1/orders/batch: many orders, each handled as a single order would be."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import LedgerEntry, Member, Order
from loyalty.services.ledger import ledger_audit
from tests.factories import ProgramFactory, api_key_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/batch"


def _order(n: int, member: str = "", amount: str = "10.00", **extra):
    return {"external_id": f"B-{n}", "member": member or f"m-{n % 7}", "amount": amount,
            "currency": "EUR", **extra}  # fmt: skip


def test_a_batch_records_every_order_and_answers_one_result_each_in_order(api, program):
    orders = [_order(n) for n in range(20)]

    response = api.post(URL, {"orders": orders}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["replayed"], body["failed"]) == (20, 0, 0)
    assert [r["external_id"] for r in body["results"]] == [o["external_id"] for o in orders]
    assert [r["index"] for r in body["results"]] == list(range(20))
    assert all(r["status"] == "created" and r["order"]["points_earned"] == 100
               for r in body["results"])  # fmt: skip
    assert Order.objects.filter(program=program).count() == 20
    # One member's orders are recorded in the order sent: balances climb along them.
    balances = [r["order"]["balance"] for r in body["results"] if r["order"]["member"] == "m-3"]
    assert balances == sorted(balances) == [100, 200, 300]
    assert ledger_audit() == []


def test_a_batch_earns_exactly_what_the_same_orders_sent_one_by_one_earn(api, api_for, program):
    single_program = ProgramFactory()
    single = api_for(single_program)
    orders = [_order(n, amount=f"{n + 1}.99") for n in range(15)]

    api.post(URL, {"orders": orders}, format="json")
    for order in orders:
        single.post("/api/v1/orders", order, format="json")

    batch_members = dict(
        Member.objects.filter(program=program).values_list("external_id", "balance")
    )
    single_members = dict(
        Member.objects.filter(program=single_program).values_list("external_id", "balance")
    )
    assert batch_members == single_members
    assert len(batch_members) == 7


def test_a_bad_order_gets_its_own_error_changes_nothing_and_the_others_are_recorded(api, program):
    orders = [
        _order(1, member="ann"),
        _order(2, member="new-bob", currency="USD"),  # the program is in EUR
        _order(3, member="new-cid", amount="-5"),  # refused by the input serializer
        _order(4, member="ann", amount="0.001"),  # more decimals than EUR has
        _order(5, member="dee"),
    ]

    body = api.post(URL, {"orders": orders}, format="json").json()

    assert [r["status"] for r in body["results"]] == [
        "created", "error", "error", "error", "created"
    ]  # fmt: skip
    assert body["results"][1]["error"]["code"] == "currency_mismatch"
    assert body["results"][2]["error"]["code"] == "validation_error"
    assert "amount" in body["results"][2]["error"]["fields"]
    assert body["results"][3]["error"]["code"] == "validation_error"
    assert body["failed"] == 3
    assert set(Order.objects.values_list("external_id", flat=True)) == {"B-1", "B-5"}
    # The members of the refused orders were not created on the fly.
    assert not Member.objects.filter(external_id__in=["new-bob", "new-cid"]).exists()


def test_sending_a_batch_again_replays_every_order_and_earns_nothing(api, program):
    orders = [_order(n) for n in range(10)]
    first = api.post(URL, {"orders": orders}, format="json").json()

    again = api.post(URL, {"orders": orders}, format="json").json()

    assert (again["created"], again["replayed"]) == (0, 10)
    assert [r["order"] for r in again["results"]] == [r["order"] for r in first["results"]]
    assert LedgerEntry.objects.count() == 10


def test_an_order_sent_again_with_other_data_is_a_conflict_for_that_order_only(api, program):
    api.post("/api/v1/orders", _order(1, member="ann"), format="json")

    body = api.post(
        URL, {"orders": [_order(1, member="ann", amount="99.00"), _order(2)]}, format="json"
    ).json()

    assert body["results"][0]["error"]["code"] == "order_conflict"
    assert body["results"][1]["status"] == "created"


@pytest.mark.parametrize("orders", [[], [{"x": 1}] * 1001, "not a list"])
def test_an_empty_oversized_or_malformed_batch_is_refused_whole(api, program, orders):
    response = api.post(URL, {"orders": orders}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not Order.objects.exists()


def test_a_batch_honours_the_idempotency_key(api, program):
    orders = [_order(n) for n in range(3)]
    first = api.post(URL, {"orders": orders}, format="json", HTTP_IDEMPOTENCY_KEY="sync-1")
    again = api.post(URL, {"orders": orders}, format="json", HTTP_IDEMPOTENCY_KEY="sync-1")
    other = api.post(URL, {"orders": orders[:1]}, format="json", HTTP_IDEMPOTENCY_KEY="sync-1")

    assert again.json() == first.json()
    assert other.status_code == 409


# Transactional, as in production: the program's settings are kept once a batch commits.
@pytest.mark.django_db(transaction=True)
def test_queries_per_order_in_a_batch_are_constant(api, program):
    # Warm up: members exist, so both batches do the same work per order.
    api.post(URL, {"orders": [_order(n, member=f"q-{n}") for n in range(40)]}, format="json")

    def queries(count: int, start: int) -> int:
        orders = [_order(start + n, member=f"q-{n}") for n in range(count)]
        with CaptureQueriesContext(connection) as ctx:
            body = api.post(URL, {"orders": orders}, format="json").json()
        assert body["created"] == count
        return len(ctx.captured_queries)

    ten, thirty = queries(10, 1000), queries(30, 2000)

    # Orders, entries and balances are written together (loyalty.storage.unit).
    assert thirty == ten == queries(10, 3000)
    # Key look-up, webhook endpoints, begin, recorded ids looked up, members locked, the ids
    # of the orders and the entries (one statement), a COPY each, the members' tier days (one
    # upsert), the balances, commit. The program's settings come from the cache kept across
    # requests (loyalty.snapshot).
    assert ten == 11


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_the_same_members_in_opposite_orders_all_succeed():
    program = ProgramFactory()
    key = api_key_for(program)
    members = [f"c-{n}" for n in range(12)]
    Member.objects.bulk_create(
        [Member(program=program, external_id=m) for m in members[:6]]
    )  # half exist, half are created by the batches
    batches = [
        [_order(n, member=m) for n, m in enumerate(members)],
        [_order(100 + n, member=m) for n, m in enumerate(reversed(members))],
        [_order(200 + n, member=m) for n, m in enumerate(members[::2] + members[1::2])],
    ]
    answers: list[int] = []
    barrier = threading.Barrier(len(batches))

    def send(orders):
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        barrier.wait()
        try:
            answers.append(client.post(URL, {"orders": orders}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200, 200, 200]
    assert Order.objects.filter(program=program).count() == 36
    assert all(m.balance == 300 for m in Member.objects.filter(program=program))
    assert ledger_audit() == []
