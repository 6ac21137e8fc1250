"""Probes, request ids, structured logs and Prometheus metrics."""

import hmac
import json
import logging
import socket

import pytest
from django.test import Client

from loyalty.observability import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_without_touching_anything(client: Client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(client: Client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_is_unavailable_when_the_broker_is_down(client: Client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "unreachable"},
    }


def test_a_request_gets_an_id_and_a_callers_sane_id_is_kept(client: Client):
    generated = client.get("/healthz")["X-Request-ID"]
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc")["X-Request-ID"]
    refused = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]

    assert len(generated) == 32
    assert kept == "lb-1234.abc"
    assert refused != "bad id\nwith newline"
    assert len(refused) == 32


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())  # as the console handler of LOGGING has it

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_lines_written_during_a_request_carry_its_id(api):
    keep = _Keep()
    logger = logging.getLogger("loyalty.request")
    logger.addHandler(keep)
    try:
        response = api.get("/api/v1/members/nobody", HTTP_X_REQUEST_ID="trace-42")
    finally:
        logger.removeHandler(keep)

    assert response.status_code == 404
    [line] = keep.records
    assert line.request_id == "trace-42"
    assert line.status == 404
    assert line.route == "member"
    assert line.getMessage().startswith("GET /api/v1/members/nobody 404 ")


def test_the_json_formatter_writes_one_object_with_the_request_id_and_extras():
    record = logging.LogRecord(
        "loyalty.x", logging.WARNING, __file__, 1, "hello %s", ("you",), None
    )
    record.request_id = "abc"
    record.order = "A-1"

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "hello you"
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "abc"
    assert entry["order"] == "A-1"


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}}" if labels else f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_orders_points_and_the_outbox_backlog(api, client: Client):
    before = client.get("/metrics").content.decode()

    api.post(
        "/api/v1/orders",
        {"external_id": "m-1", "member": "ann", "amount": "12.00", "currency": "EUR"},
        format="json",
    )
    after = client.get("/metrics").content.decode()

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("loyalty_orders_total", result="created") == 1
    assert grew("loyalty_points_issued_total") == 120
    assert grew("loyalty_http_requests_total", method="POST", route="orders", status="201") == 1
    assert 'loyalty_outbox_backlog{outbox="notifications"}' in after
    assert "loyalty_http_request_duration_seconds_bucket" in after


def test_metrics_can_require_a_token(client: Client, settings):
    settings.METRICS_TOKEN = "s3cret"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


@pytest.mark.parametrize(
    "header", ["Bearer s3cre", "Bearer s3cret2", "bearer s3cret", "s3cret", "Bearer  s3cret", ""]
)
def test_metrics_refuse_anything_but_the_exact_token(client: Client, settings, header):
    settings.METRICS_TOKEN = "s3cret"

    response = client.get("/metrics", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"loyalty_" not in response.content


def test_the_metrics_token_is_compared_in_constant_time(client: Client, settings, monkeypatch):
    """Every answer goes through ``hmac.compare_digest``, over digests of equal length: a
    prefix of the token takes as long to refuse as any other guess."""
    settings.METRICS_TOKEN = "s3cret"
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)

    refused = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3").status_code
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code

    assert (refused, allowed) == (401, 200)
    assert len(compared) == 2
    assert all(len(a) == len(b) == 32 for a, b in compared)


def test_djangos_own_log_of_a_refused_request_carries_its_id_and_the_id_ends_with_it(api):
    from loyalty.observability import current_request_id

    keep = _Keep()
    logger = logging.getLogger("django.request")
    logger.addHandler(keep)
    try:
        api.get("/api/v1/members/nobody", HTTP_X_REQUEST_ID="trace-43")
    finally:
        logger.removeHandler(keep)

    assert [r.request_id for r in keep.records] == ["trace-43"]
    assert current_request_id() == "-"
