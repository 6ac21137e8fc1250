"""The one error shape: every non-2xx answer is ``{code, detail}``, plus ``fields`` for bad input.

API.md, General: ``{"code": "<machine_code>", "detail": "<human text>",
"fields": {...}}`` (``fields`` only for validation errors); ``detail`` follows
Accept-Language. The codes are the contract; the wording is not, so these tests
check that ``detail`` is a non-empty text, never what it says.
"""

import pytest
from rest_framework.test import APIClient

from tests.factories import api_key_for

ORDER = {"external_id": "A-1", "member": "cust-1", "amount": "100.00", "currency": "EUR"}
GRANTS = "/api/v1/members/cust-1/grants"


@pytest.fixture
def clients(api, api_for, program):
    """Merchant A with order A-1 (1000 points for cust-1), refund R-1 and Idempotency-Key K."""
    assert api.post("/api/v1/orders", ORDER, format="json").status_code == 201
    refund = {"external_id": "R-1", "amount": "10.00"}
    assert api.post("/api/v1/orders/A-1/refunds", refund, format="json").status_code == 201
    granted = api.post(
        GRANTS, {"points": 1, "reason": "K"}, format="json", HTTP_IDEMPOTENCY_KEY="K"
    )
    assert granted.status_code == 201
    bad_key = APIClient()
    bad_key.credentials(HTTP_AUTHORIZATION="Bearer lk_nope")
    return {
        "all": api,
        "anonymous": APIClient(),
        "bad key": bad_key,
        "checkout": api_for(program, "checkout"),
    }


# (id, client, method, path, body, extra, status, code)
ERRORS = [
    ("no key", "anonymous", "get", "/api/v1/program", None, {}, 401, "not_authenticated"),
    ("unknown key", "bad key", "get", "/api/v1/program", None, {}, 401,
     "authentication_failed"),
    ("missing scope", "checkout", "post", "/api/v1/orders", ORDER, {}, 403, "permission_denied"),
    ("unknown member", "all", "get", "/api/v1/members/nobody", None, {}, 404,
     "member_not_found"),
    ("unknown order", "all", "get", "/api/v1/orders/nope", None, {}, 404, "order_not_found"),
    ("order conflict", "all", "post", "/api/v1/orders", {**ORDER, "amount": "1.00"}, {}, 409,
     "order_conflict"),
    ("refund conflict", "all", "post", "/api/v1/orders/A-1/refunds",
     {"external_id": "R-1", "amount": "1.00"}, {}, 409, "refund_conflict"),
    ("idempotency conflict", "all", "post", GRANTS, {"points": 2, "reason": "K"},
     {"HTTP_IDEMPOTENCY_KEY": "K"}, 409, "idempotency_conflict"),
    ("currency mismatch", "all", "post", "/api/v1/orders",
     {**ORDER, "external_id": "A-2", "currency": "USD"}, {}, 422, "currency_mismatch"),
    ("insufficient points", "all", "post", GRANTS, {"points": -5000, "reason": "x"}, {}, 422,
     "insufficient_points"),
    ("refund exceeds order", "all", "post", "/api/v1/orders/A-1/refunds",
     {"external_id": "R-2", "amount": "95.00"}, {}, 422, "refund_exceeds_order"),
    ("currency locked", "all", "put", "/api/v1/program", {"currency": "USD"}, {}, 422,
     "currency_locked"),
    ("malformed JSON", "all", "post", "/api/v1/orders", "{", {}, 400, "parse_error"),
    ("not JSON", "all", "post", "/api/v1/orders", "amount=1", {"content_type": "text/plain"},
     415, "unsupported_media_type"),
]  # fmt: skip
VALIDATION_ERRORS = [
    ("bad order", "post", "/api/v1/orders", {**ORDER, "amount": "abc"}, "amount"),
    ("service-level bad order", "post", "/api/v1/orders",
     {**ORDER, "external_id": "A-3", "amount": "0"}, "amount"),
    ("bad grant", "post", GRANTS, {"points": 5}, "reason"),
    ("bad member", "put", "/api/v1/members/cust-1", {"email": "x"}, "email"),
    ("bad refund", "post", "/api/v1/orders/A-1/refunds", {"external_id": "R-3", "amount": "0"},
     "amount"),
    ("bad program", "put", "/api/v1/program", {"earn_rate": "-1"}, "earn_rate"),
    ("body not an object", "post", "/api/v1/orders", [ORDER], "non_field_errors"),
]  # fmt: skip
LANGUAGES = ["en", "es", "ru", "tr", "de", "es-ES,es;q=0.9,en;q=0.5"]


def send(client: APIClient, method: str, path: str, body, extra: dict, language: str):
    extra = {**extra, "HTTP_ACCEPT_LANGUAGE": language}
    if isinstance(body, str):
        content_type = extra.pop("content_type", "application/json")
        return client.generic(method.upper(), path, body, content_type=content_type, **extra)
    return getattr(client, method)(path, body, format="json", **extra)


@pytest.mark.parametrize(
    ("client", "method", "path", "body", "extra", "status", "code"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_error_body_is_exactly_code_and_detail_in_every_language(
    clients, client, method, path, body, extra, status, code
):
    for language in LANGUAGES:
        response = send(clients[client], method, path, body, extra, language)

        assert response.status_code == status, (language, response.content)
        assert response["Content-Type"].startswith("application/json")
        answer = response.json()
        assert set(answer) == {"code", "detail"}, language
        assert answer["code"] == code, language
        assert isinstance(answer["detail"], str)
        assert answer["detail"].strip(), language


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [case[1:] for case in VALIDATION_ERRORS],
    ids=[case[0] for case in VALIDATION_ERRORS],
)
def test_validation_error_body_is_code_detail_and_fields_in_every_language(
    clients, method, path, body, field
):
    for language in LANGUAGES:
        response = send(clients["all"], method, path, body, {}, language)

        assert response.status_code == 400, (language, response.content)
        answer = response.json()
        assert set(answer) == {"code", "detail", "fields"}, language
        assert answer["code"] == "validation_error", language
        assert isinstance(answer["detail"], str)
        assert answer["detail"].strip(), language
        assert field in answer["fields"], language
        problems = answer["fields"][field]
        assert isinstance(problems, list)
        assert problems
        assert all(isinstance(problem, str) and problem.strip() for problem in problems)


def test_nested_validation_errors_keep_their_path_in_fields(clients):
    response = clients["all"].post(
        "/api/v1/orders",
        {**ORDER, "external_id": "A-9", "breakdown": {"tax": "x"}},
        format="json",
    )

    assert response.status_code == 400
    assert "tax" in response.json()["fields"]["breakdown"]


def test_401_tells_the_client_how_to_authenticate(clients):
    response = clients["anonymous"].get("/api/v1/program")

    assert response["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/program"),
        ("post", "/api/v1/members/cust-1"),
        ("patch", "/api/v1/orders/A-1"),
        ("get", "/api/v1/orders"),
    ],
)
def test_unsupported_method_is_405_method_not_allowed(clients, method, path):
    response = getattr(clients["all"], method)(path, {}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.json()) == {"code", "detail"}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/api/v1/orders/", "/api/v1/members/x/y"]
)
def test_unknown_api_path_is_a_json_404_whatever_the_method(program, method, path):
    # CSRF checks on, as a real client meets them (the test client skips them by default):
    # an integrator's POST to a mistyped path learns it is mistyped, not a CSRF page.
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program)}")

    response = getattr(client, method)(path, {"a": 1}, format="json")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"
    assert set(response.json()) == {"code", "detail"}


def test_key_is_checked_before_the_body_is_parsed(program):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program, 'checkout')}")

    response = client.generic("POST", "/api/v1/orders", "{", content_type="application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_crash_answers_500_in_the_error_shape(api, program, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("loyalty.api.orders.order_get", crash)
    api.raise_request_exception = False

    response = api.get("/api/v1/orders/A-1")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"code", "detail"}
    assert response.json()["detail"]
    assert "boom" not in response.json()["detail"]
