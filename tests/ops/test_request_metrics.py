"""The per-request metrics and log line, made cheaper, count and say the same."""

import json
import logging
from decimal import Decimal

import pytest
from django.test import Client

from loyalty import metrics
from loyalty.observability import JsonFormatter

pytestmark = pytest.mark.django_db


def _count(**labels: str) -> float:
    return metrics.REQUESTS.labels(**labels)._value.get()


def test_each_method_route_and_status_is_its_own_series(api, client: Client):
    created = {"method": "POST", "route": "orders", "status": "201"}
    refused = {"method": "POST", "route": "orders", "status": "400"}
    before = (_count(**created), _count(**refused))
    order = {"external_id": "m-1", "member": "ann", "amount": "12.00", "currency": "EUR"}

    api.post("/api/v1/orders", order, format="json")
    api.post("/api/v1/orders", {**order, "external_id": "m-2"}, format="json")
    api.post("/api/v1/orders", {**order, "amount": "x"}, format="json")

    assert (_count(**created), _count(**refused)) == (before[0] + 2, before[1] + 1)
    text = client.get("/metrics").content.decode()
    assert 'loyalty_http_request_duration_seconds_count{method="POST",route="orders"}' in text


def test_the_json_line_writes_values_json_cannot_hold_as_text():
    record = logging.LogRecord("loyalty.x", logging.INFO, __file__, 1, "paid", (), None)
    record.request_id = "abc"
    record.amount = Decimal("12.50")

    entry = json.loads(JsonFormatter().format(record))

    assert entry["amount"] == "12.50"
    assert entry["request_id"] == "abc"
