"""Sizes are checked before contents: a list over its limit is refused before any of its
items is validated, and a body over the size the API reads is a 413 in the error shape.

API.md, General: every non-2xx answer is ``{"code", "detail"}``. An order has at most
200 ``lines``; a batch at most 1,000 ``orders``; a body at most
``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (413 ``payload_too_large``, none of it read).
"""

import json

import pytest
from django.test import override_settings
from rest_framework import serializers

from loyalty.api.serializers.orders import OrderLineSerializer
from loyalty.models import IdempotencyRecord, LedgerEntry, Member, Order

ORDER = {"external_id": "A-1", "member": "cust-1", "amount": "10.00", "currency": "EUR"}
LINE = {"sku": "SKU-1", "amount": "1.00"}
TOO_MANY_LINES = "Ensure this field has no more than 200 elements."


@pytest.fixture
def line_checks(monkeypatch):
    """How many order lines the serializers validated."""
    checked = []
    original = OrderLineSerializer.run_validation

    def counted(self, data=serializers.empty):
        checked.append(data)
        return original(self, data)

    monkeypatch.setattr(OrderLineSerializer, "run_validation", counted)
    return checked


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/orders/quote"])
def test_order_with_too_many_lines_is_refused_before_any_line_is_validated(
    api, program, line_checks, path
):
    body = {**ORDER, "lines": [LINE] * 50_000}

    response = api.post(path, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {"lines": [TOO_MANY_LINES]}
    assert line_checks == []
    assert not Order.objects.exists()


def test_batch_order_with_too_many_lines_is_refused_before_its_lines_are_validated(
    api, program, line_checks
):
    body = {"orders": [{**ORDER, "lines": [LINE] * 50_000}, {**ORDER, "external_id": "A-2"}]}

    response = api.post("/api/v1/orders/batch", body, format="json")

    assert response.status_code == 200, response.content
    first, second = response.json()["results"]
    assert first["status"] == "error"
    assert first["error"]["fields"] == {"lines": [TOO_MANY_LINES]}
    assert second["status"] == "created"
    assert line_checks == []
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A-2"]


def test_batch_with_too_many_orders_is_refused_before_any_order_is_looked_at(
    api, program, monkeypatch
):
    looked_at = []
    original = serializers.DictField.run_validation

    def counted(self, data=serializers.empty):
        looked_at.append(data)
        return original(self, data)

    monkeypatch.setattr(serializers.DictField, "run_validation", counted)

    response = api.post("/api/v1/orders/batch", {"orders": [ORDER] * 1001}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {
        "orders": ["Ensure this field has no more than 1000 elements."]
    }
    assert looked_at == []
    assert not Order.objects.exists()


def test_order_with_200_lines_is_still_recorded(api, program):
    response = api.post("/api/v1/orders", {**ORDER, "lines": [LINE] * 200}, format="json")

    assert response.status_code == 201, response.content


LIMIT = 2_000


def padded(body: object, size: int) -> str:
    """``body`` as JSON of exactly ``size`` bytes (trailing whitespace is valid JSON)."""
    text = json.dumps(body)
    assert len(text) <= size
    return text + " " * (size - len(text))


# Every operation that reads a body, with one that would succeed.
WRITES = [
    ("post", "/api/v1/orders", ORDER),
    ("post", "/api/v1/orders/quote", ORDER),
    ("post", "/api/v1/orders/batch", {"orders": [ORDER]}),
    ("put", "/api/v1/members/cust-1", {"email": "a@example.com"}),
    ("put", "/api/v1/program", {"name": "Renamed"}),
    ("post", "/api/v1/coupons/NOPE/validate", {"order_amount": "1.00", "currency": "EUR"}),
]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[p for _m, p, _b in WRITES])
def test_body_over_the_limit_is_413_payload_too_large_in_the_error_shape(
    api, program, method, path, body
):
    response = getattr(api, method)(path, padded(body, LIMIT + 1), content_type="application/json")

    assert response.status_code == 413, response.content
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"code", "detail"}
    assert answer["code"] == "payload_too_large"
    assert str(LIMIT) in answer["detail"]
    assert not Order.objects.exists()
    assert not Member.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_body_of_exactly_the_limit_is_read(api, program):
    response = api.post("/api/v1/orders", padded(ORDER, LIMIT), content_type="application/json")

    assert response.status_code == 201, response.content


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_body_over_the_limit_with_an_idempotency_key_keeps_nothing(api, program):
    body = padded({**ORDER, "lines": [LINE] * 10}, LIMIT + 1)

    response = api.post(
        "/api/v1/orders", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1"
    )
    retry = api.post(
        "/api/v1/orders", json.dumps(ORDER), content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="big-1",
    )  # fmt: skip

    assert response.status_code == 413
    assert retry.status_code == 201, retry.content
    assert LedgerEntry.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_payload_too_large_detail_follows_accept_language(api, program):
    english = api.post("/api/v1/orders", padded(ORDER, LIMIT + 1), content_type="application/json")
    spanish = api.post(
        "/api/v1/orders", padded(ORDER, LIMIT + 1), content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="es",
    )  # fmt: skip

    assert spanish.status_code == 413
    assert spanish.json()["detail"] != english.json()["detail"]
    assert str(LIMIT) in spanish.json()["detail"]


def test_schema_documents_413_for_every_operation_that_takes_a_body(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            response = operation["responses"].get("413")
            assert response is not None, (method, path)
            assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
            assert "payload_too_large" in response["description"]
