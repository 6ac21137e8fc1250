"""The OpenAPI document as an integrator's reference (issue #21, point 4): every operation has
a summary, a description that states its scope, examples of its bodies that are valid, and
for every error status the codes it can carry (``x-error-codes``) with an example of each,
all of them codes the API really has. The guides it links to are served. Exactness of the
constraints (point 5): the amount, currency, id and header rules of the document are those
the API enforces."""

import inspect
import json
import re

import jsonschema
import pytest
from rest_framework.test import APIClient

import loyalty.errors
import rewards.errors
from loyalty.api import schema_errors
from loyalty.api.errors import HANDLER_CODES
from loyalty.api.schema import amount_pattern, external_id_pattern, trimmed_text_pattern
from loyalty.api.serializers.fields import AmountField
from loyalty.errors import LoyaltyError
from tests.factories import ProgramFactory, api_key_for

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


def vocabulary() -> set[str]:
    """Every code the API can answer: the services' errors and the handler's own."""
    codes = set(HANDLER_CODES)
    for module in (loyalty.errors, rewards.errors):
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, LoyaltyError) and value.code != LoyaltyError.code:
                codes.add(value.code)
    return codes


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def resolve(schema, node):
    """A sub-schema with its $refs replaced and OpenAPI 3.0's `nullable` and boolean
    `exclusiveMinimum` as JSON Schema's, for jsonschema."""
    if isinstance(node, dict):
        if "$ref" in node:
            return resolve(schema, schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
        out = {key: resolve(schema, value) for key, value in node.items() if key != "nullable"}
        if out.get("exclusiveMinimum") is True:  # OpenAPI 3.0's form: a flag on `minimum`
            out["exclusiveMinimum"] = out.pop("minimum")
        if node.get("nullable") and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [resolve(schema, item) for item in node]
    return node


def test_every_operation_has_a_summary_and_a_description_with_its_scope(schema):
    summaries = set()
    for name, operation in operations(schema):
        summary = operation.get("summary", "")
        assert summary, name
        assert "/" not in summary, name
        summaries.add(summary)
        scopes = operation.get("x-required-scopes")
        assert scopes, name
        assert f"**Scope:** `{scopes[0]}`" in operation["description"], name
    assert len(summaries) == len(list(operations(schema)))  # one for each, none shared


def test_no_internal_docstring_shows_through(schema):
    text = json.dumps(schema)
    for internal in ("Base view", "dotted_fields", "What the schema shows", "``", "serializer"):
        assert internal not in text, internal


def test_every_error_response_has_its_codes_and_an_example_of_each(schema):
    for name, operation in operations(schema):
        for status, response in operation["responses"].items():
            if not status.startswith("4"):
                continue
            codes = response.get("x-error-codes")
            assert codes, (name, status)
            examples = response["content"]["application/json"]["examples"]
            assert [e["value"]["code"] for e in examples.values()] == codes, (name, status)
            for example in examples.values():
                # The envelope of API.md; a checkout refusal may add the lines and the scope.
                assert set(example["value"]) <= {"code", "detail", "fields", "lines", "scope"}
                assert example["value"]["detail"]
            for code in codes:
                assert f"`{code}`" in response["description"], (name, status, code)


def test_every_documented_code_is_one_the_api_has(schema):
    known = vocabulary()
    documented = {
        code
        for _name, operation in operations(schema)
        for response in operation["responses"].values()
        for code in response.get("x-error-codes", [])
    }

    assert documented <= known, documented - known
    assert set(schema_errors.EXAMPLES) <= known, set(schema_errors.EXAMPLES) - known


def test_every_state_dependent_code_is_documented_by_an_operation(schema):
    """The codes a schema-valid request may still get (``STATE_CODES``, which the fuzz test
    allows) are real codes, each in some operation's ``x-error-codes``."""
    documented = {
        code
        for _name, operation in operations(schema)
        for response in operation["responses"].values()
        for code in response.get("x-error-codes", [])
    }

    assert schema_errors.STATE_CODES <= documented, schema_errors.STATE_CODES - documented
    assert "validation_error" not in schema_errors.STATE_CODES


def test_a_status_without_any_code_is_refused():
    with pytest.raises(ValueError, match="no error code"):
        schema_errors.errors(404)
    with pytest.raises(TypeError):
        schema_errors.errors(422, refusd=("insufficient_points",))


def test_checkout_refusals_are_listed_with_their_status(schema):
    redeem = schema["paths"]["/api/v1/coupons/{code}/redeem"]["post"]["responses"]

    assert redeem["404"]["x-error-codes"] == ["coupon_not_found"]
    assert "coupon_min_order_not_met" in redeem["422"]["x-error-codes"]
    assert redeem["429"]["x-error-codes"] == ["rate_limited"]


def test_request_and_response_examples_are_valid_for_their_schemas(schema):
    checked = 0
    for _name, operation in operations(schema):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        for example in body.get("examples", {}).values():
            jsonschema.validate(example["value"], resolve(schema, body["schema"]))
            checked += 1
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            if status.startswith("2"):
                for example in content.get("examples", {}).values():
                    jsonschema.validate(example["value"], resolve(schema, content["schema"]))
                    checked += 1
    assert checked >= 14


def test_the_info_description_links_to_the_guides(schema):
    description = schema["info"]["description"]

    assert "(/api/docs/quickstart/)" in description
    assert "(/api/docs/webhooks/)" in description
    assert "Idempotency-Key" in description
    assert "x-error-codes" in description


def test_every_write_states_the_idempotency_key_limits(schema):
    for name, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            text = parameter.get("description", "")
            if parameter["name"] != "Idempotency-Key" or "no answer is kept" in text:
                continue  # profile links: never kept, so any key goes
            if "ignored" in text:
                assert "maxLength" not in parameter["schema"], name  # not looked at
            else:
                assert parameter["schema"]["minLength"] == 1, name
                assert parameter["schema"]["maxLength"] == 255, name


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_the_api_refuses_an_idempotency_key_outside_the_documented_limits(api, key):
    body = {"external_id": "A-1", "member": "c-1", "amount": "10.00", "currency": "EUR"}

    response = api.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]


AMOUNTS = ["0", "1", "12.50", "12.500", "12.505", "0.01", "0.001", "007", "1000000000",
           "1000000001", "999999999.99", "1.", ".5", "-1", "+1", "1e3", " 1", "", "1.0000",
           "1000000000.000", "0000000000000000000001.5"]  # fmt: skip


@pytest.mark.parametrize("text", AMOUNTS)
def test_the_amount_pattern_is_what_the_field_and_services_take(text):
    """Without a currency: what the field takes, up to the 3 decimals some currencies have,
    0 to 1000000000."""
    from decimal import Decimal

    from rest_framework.exceptions import ValidationError

    try:
        value = AmountField().run_validation(text)
        taken = Decimal(0) <= value <= Decimal(1000000000)
    except ValidationError:
        taken = False

    assert bool(re.match(amount_pattern(3, above_zero=False), text)) == taken, text


def test_the_document_a_key_gets_is_exact_for_its_programs_currency(db):
    program = ProgramFactory(currency="JPY")
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program)}")

    keyed = api.get("/api/v1/schema/", {"format": "json"}).json()
    anyone = APIClient().get("/api/v1/schema/", {"format": "json"}).json()

    order = keyed["components"]["schemas"]["OrderInRequest"]["properties"]
    assert order["currency"]["pattern"] == "^[Jj][Pp][Yy]$"
    text, number = order["amount"]["anyOf"]
    assert re.match(text["pattern"], "1250")
    assert not re.match(text["pattern"], "12.50")  # yen have no decimals
    assert number["multipleOf"] == 1
    generic = anyone["components"]["schemas"]["OrderInRequest"]["properties"]
    assert generic["currency"]["pattern"] == "^[A-Za-z]{3}$"
    assert re.match(generic["amount"]["anyOf"][0]["pattern"], "12.505")


@pytest.mark.parametrize(
    ("value", "valid"),
    [("cus_1042", True), ("a b", True), ("ü", True), (".", False), ("..", False),
     ("...", True), ("a/b", False), ("a\tb", False), ("a\x85b", False)],
)  # fmt: skip
def test_the_external_id_pattern_is_the_id_rule(value, valid):
    from loyalty.ids import external_id_problem

    assert bool(re.match(external_id_pattern(), value)) == valid
    assert (external_id_problem(value) is None) == valid


def test_an_order_links_to_what_reads_it(schema):
    operation_ids = {operation["operationId"] for _name, operation in operations(schema)}
    created = schema["paths"]["/api/v1/orders"]["post"]["responses"]["201"]["links"]

    assert {link["operationId"] for link in created.values()} >= {
        "order_get", "order_refund", "member_get"
    }  # fmt: skip
    assert {link["operationId"] for link in created.values()} <= operation_ids
    assert created["GetOrder"]["parameters"] == {"external_id": "$response.body#/external_id"}


@pytest.mark.parametrize(
    ("component", "field", "words"),
    [("OrderInRequest", "breakdown", "must not exceed `amount`"),
     ("OrderInRequest", "placed_at", "Not in the future"),
     ("GrantInRequest", "counts_for_tier", "only for a grant"),
     ("MemberInRequest", "referred_by", "existing member"),
     ("CouponTermsInRequest", "value", "at most 100")],
)  # fmt: skip
def test_rules_between_fields_are_stated_in_words(schema, component, field, words):
    """What JSON Schema cannot say (and the fuzz test does not generate) the field says."""
    assert words in schema["components"]["schemas"][component]["properties"][field]["description"]


@pytest.mark.parametrize("blank", [False, True])
@pytest.mark.parametrize(
    "text",
    ["a", "ab", "abc", " abc ", "\x0cabc\x85", "\ufeffabc", "a  c", "", "   ", "\u3000",
     "abcd", " abcd", "abc\x00", "a\x1fbc", "\x1fab\x1f", "a\ufeff\ufeff"],
)  # fmt: skip
def test_the_text_pattern_is_what_drfs_charfield_takes(text, blank):
    """Trimmed, at most 3 characters: padding does not count, NUL never, blank if allowed."""
    from rest_framework import serializers as drf

    field = drf.CharField(max_length=3, allow_blank=blank)
    try:
        field.run_validation(text)
        accepted = True
    except drf.ValidationError:
        accepted = False

    assert bool(re.search(trimmed_text_pattern(3, blank=blank), text)) is accepted
