"""The OpenAPI document: served without a key, and in agreement with API.md.

API.md, General: ``GET /api/v1/schema/`` serves the OpenAPI document;
``/api/docs/`` renders it. The schema is the full reference and must agree with
the contract.
"""

import importlib

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

# Every path of API.md implemented so far, with its methods.
CONTRACT_PATHS = {
    "/api/v1/members/{external_id}": {"get", "put"},
    "/api/v1/members/{external_id}/ledger": {"get"},
    "/api/v1/members/{external_id}/grants": {"post"},
    "/api/v1/orders": {"post"},
    "/api/v1/orders/{external_id}": {"get"},
    "/api/v1/orders/{external_id}/refunds": {"post"},
    "/api/v1/program": {"get", "put"},
}
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_schema_is_served_without_a_key(db):
    response = APIClient().get("/api/v1/schema/")

    assert response.status_code == 200
    assert b"openapi" in response.content


def test_docs_page_is_served_without_a_key(db):
    response = APIClient().get("/api/docs/")
    # Swagger UI's start-up script is a file of its own (the CSP runs no inline script).
    script = APIClient().get("/api/docs/?script=")

    assert response.status_code == 200
    assert b'src="/api/docs/?script="' in response.content
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"/api/v1/schema/" in script.content


def test_schema_lists_every_contract_path_with_its_methods(schema):
    served = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in schema["paths"].items()
    }

    for path, methods in CONTRACT_PATHS.items():
        assert path in served, path
        assert methods <= served[path], path


def test_every_operation_requires_the_bearer_key(schema):
    schemes = schema["components"]["securitySchemes"]
    (name,) = [name for name, scheme in schemes.items() if scheme.get("scheme") == "bearer"]

    for path, method, operation in operations(schema):
        assert {name: []} in operation.get("security", []), (method, path)


def test_every_operation_documents_the_error_shape_for_auth_failures(schema):
    for path, method, operation in operations(schema):
        for status in ("401", "403"):
            response = operation["responses"].get(status)
            assert response is not None, (method, path, status)
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/Error")
    error = schema["components"]["schemas"]["Error"]
    assert {"code", "detail", "fields"} <= set(error["properties"])
    assert set(error["required"]) == {"code", "detail"}


def test_every_write_documents_the_idempotency_key_header(schema):
    for path, method, operation in operations(schema):
        if method in {"post", "put"}:
            headers = {
                p["name"] for p in operation.get("parameters", []) if p.get("in") == "header"
            }
            assert "Idempotency-Key" in headers, (method, path)


def test_order_response_has_the_contract_fields(schema):
    order = schema["components"]["schemas"]["Order"]

    assert {
        "external_id",
        "member",
        "amount",
        "currency",
        "status",
        "points_earned",
        "balance",
        "coupons_issued",
    } <= set(order["properties"])


def test_ledger_response_is_documented_as_a_cursor_page(schema):
    operation = schema["paths"]["/api/v1/members/{external_id}/ledger"]["get"]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in page:
        page = schema["components"]["schemas"][page["$ref"].rsplit("/", 1)[-1]]

    assert page["type"] == "object"
    assert {"results", "next"} <= set(page["properties"])


def test_program_put_request_requires_no_field(schema):
    body = schema["paths"]["/api/v1/program"]["put"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]

    assert not request.get("required")


# The API's shapes, in the modules they live in (the rewards' in their app). Shapes used only
# as query parameters make no component.
SERIALIZER_MODULES = (
    "loyalty.api.serializers.fields",
    "loyalty.api.serializers.members",
    "loyalty.api.serializers.orders",
    "loyalty.api.serializers.program",
    "rewards.api.serializers",
)
QUERY_ONLY = {"CouponListQuerySerializer"}


def test_each_api_shape_is_one_component_named_after_its_class(schema):
    """Components are named after their classes, whatever module holds them: moving a
    serializer between modules renames nothing integrators read, and no two classes of one
    name may document different shapes under a single component."""
    classes = {}
    for name in SERIALIZER_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, serializers.Serializer)
                and value.__module__ == name
            ):
                assert value.__name__ not in classes, (value, classes.get(value.__name__))
                classes[value.__name__] = value
    components = set(schema["components"]["schemas"])

    shown = {
        name
        for name in classes
        if {name.removesuffix("Serializer"), name.removesuffix("Serializer") + "Request"}
        & components
    }

    base = {"DottedErrorsSerializer"}  # a base class, never a shape of its own
    assert set(classes) - shown == QUERY_ONLY | base
