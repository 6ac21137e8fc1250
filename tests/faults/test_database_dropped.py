"""PostgreSQL drops the connection in the middle of a request: the request fails cleanly
(the API's error body, 500) and nothing of it is written; its retry then succeeds once.

The request is held half way on purpose: another session has inserted, and not yet
committed, the webhook delivery the order is about to write, so the order's transaction
waits on that row's unique index after it has written the order, its ledger entry and the
new balance. Then ``pg_terminate_backend`` cuts the request's connection.
"""

import json
import threading
import urllib.error
import urllib.request

import psycopg
import pytest
from django.db import connection

from loyalty.models import IdempotencyRecord, LedgerEntry, Member, Order
from loyalty.services.ledger import ledger_audit
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.factories import MemberFactory, ProgramFactory, api_key_for
from tests.faults.conftest import database_url, wait_until, waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def _post(url: str, key: str, body: dict, idempotency_key: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
        },  # fmt: skip
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_request_whose_database_connection_is_killed_midway_writes_nothing(live_server):
    program = ProgramFactory()
    key = api_key_for(program, "orders")
    member = MemberFactory(program=program, external_id="ann")
    endpoint = WebhookEndpoint.objects.create(
        merchant=program.merchant, url="https://hooks.example/in", events=["order_recorded"]
    )
    order = {"external_id": "A-1", "member": "ann", "amount": "30.00", "currency": "EUR"}
    url = f"{live_server.url}/api/v1/orders"
    answers: list[tuple[int, dict]] = []

    with psycopg.connect(database_url()) as blocker:
        # The row the order's "order_recorded" webhook will want to insert, uncommitted.
        blocker.execute(
            "INSERT INTO notifications_webhookdelivery (endpoint_id, event, dedupe_key, payload,"
            " status, attempts, next_attempt_at, created_at, last_error)"
            " VALUES (%s, 'order_recorded', 'order_recorded:A-1', '{}', 'pending', 0, now(),"
            " now(), '')",
            [endpoint.pk],
        )
        request = threading.Thread(
            target=lambda: answers.append(_post(url, key, order, "retry-me"))
        )
        request.start()

        pid = wait_until(
            lambda: waiting_on_a_lock(exclude=blocker.info.backend_pid),
            30,
            "the order never reached the webhook insert",
        )
        # Half way: the order's own writes are done, in its open transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        request.join(timeout=60)
        blocker.rollback()

    [(status, body)] = answers
    assert status == 500
    assert body["code"] == "server_error"
    assert not Order.objects.exists()
    assert not LedgerEntry.objects.exists()
    member.refresh_from_db()
    assert member.balance == 0
    assert not IdempotencyRecord.objects.exists()  # so the retry runs for real
    assert not WebhookDelivery.objects.exists()

    status, body = _post(url, key, order, "retry-me")

    assert status == 201
    assert body["points_earned"] == 300
    assert Member.objects.get(pk=member.pk).balance == 300
    assert LedgerEntry.objects.count() == 1
    assert ledger_audit() == []
