"""An Idempotency-Key is claimed by one ``INSERT .. ON CONFLICT DO NOTHING``.

A taken key no longer needs a savepoint around the insert: a keyed order costs the
record's insert and its answer's update more than an order without a key (the
transaction itself is the order's own), and a replay reads the kept answer.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import IdempotencyRecord, Order

pytestmark = pytest.mark.django_db


def post(api, external_id: str, **headers) -> tuple[int, dict, list[str]]:
    order = {"external_id": external_id, "member": "ann", "amount": "10.00", "currency": "EUR"}
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("/api/v1/orders", order, format="json", **headers)
    return response.status_code, response.json(), [q["sql"] for q in ctx.captured_queries]


def test_a_keyed_order_costs_the_claim_and_the_answer_more(api, program):
    post(api, "Q-0")
    _, _, plain = post(api, "Q-1")

    status, body, keyed = post(api, "Q-2", HTTP_IDEMPOTENCY_KEY="k-1")

    assert status == 201
    # The claim, the answer's update, and the outer transaction, which inside a test's own
    # transaction is one more savepoint and its release.
    assert len(keyed) - len(plain) == 4
    record = IdempotencyRecord.objects.get(key="k-1")
    assert record.merchant_id == program.merchant_id
    assert record.status_code == 201
    assert json.loads(record.response) == body
    assert record.created_at is not None


def test_a_replay_reads_the_kept_answer_and_records_nothing_new(api, program):
    _, first, _ = post(api, "Q-1", HTTP_IDEMPOTENCY_KEY="k-1")

    status, again, queries = post(api, "Q-1", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (status, again) == (201, first)
    assert not [q for q in queries if "loyalty_order" in q]
    assert IdempotencyRecord.objects.count() == 1
    assert Order.objects.count() == 1


def test_a_taken_key_with_another_body_is_a_conflict_and_records_nothing(api, program):
    post(api, "Q-1", HTTP_IDEMPOTENCY_KEY="k-1")

    status, body, _ = post(api, "Q-2", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (status, body["code"]) == (409, "idempotency_conflict")
    assert IdempotencyRecord.objects.count() == 1
    assert Order.objects.count() == 1
