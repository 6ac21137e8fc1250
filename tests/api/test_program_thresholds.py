"""Reward thresholds and conversion settings through ``GET|PUT /api/v1/program``.

API.md, Program configuration: ``thresholds: [{points, coupon: {kind, value,
max_discount, min_order_amount, valid_days}}]`` are among the settings PUT
changes. Sent, they replace the program's thresholds; with any error nothing
changes, and the errors are named like ``thresholds.0.coupon.value``.
"""

import pytest
from rest_framework.test import APIClient

from loyalty.models import Program
from rewards.models import Coupon, CouponTemplate, RewardThreshold
from rewards.services.thresholds import thresholds_replace
from tests.factories import ProgramFactory

PROGRAM = "/api/v1/program"
TEN_PERCENT = {"kind": "percent", "value": "10"}
THRESHOLDS = [
    {"points": 1000, "coupon": {"kind": "fixed", "value": "15", "min_order_amount": "50",
                                "valid_days": 60, "uses": 2}},
    {"points": 500, "coupon": {"kind": "percent", "value": "12.5", "max_discount": "20"}},
]  # fmt: skip
# A reward's other terms (a free product, the scope, uses per member, an allowance): none.
PLAIN = {
    "product_sku": "",
    "product_category": "",
    "product_quantity": 1,
    "scope": {},
    "uses_per_member": None,
    "allowance_uses": None,
    "allowance_period": "",
}
THRESHOLDS_OUT = [
    {"points": 500, "coupon": {"kind": "percent", "value": "12.5", "max_discount": "20.00",
                               "min_order_amount": "0.00", "valid_days": 30, "uses": 1, **PLAIN}},
    {"points": 1000, "coupon": {"kind": "fixed", "value": "15.00", "max_discount": None,
                                "min_order_amount": "50.00", "valid_days": 60, "uses": 2,
                                **PLAIN}},
]  # fmt: skip


def put(api, body: dict):
    return api.put(PROGRAM, body, format="json")


def test_get_program_has_the_reward_settings(api, program):
    body = api.get(PROGRAM).json()

    assert body["thresholds"] == []
    assert body["conversion_mode"] == "automatic"
    assert body["refund_after_conversion"] == "negative_balance"


def test_put_thresholds_round_trip(api, program):
    response = put(api, {"thresholds": THRESHOLDS})

    assert response.status_code == 200, response.content
    assert response.json()["thresholds"] == THRESHOLDS_OUT
    assert api.get(PROGRAM).json() == response.json()
    assert RewardThreshold.objects.filter(program=program).count() == 2


def test_put_conversion_settings_round_trip(api, program):
    change = {"conversion_mode": "choice", "refund_after_conversion": "void_coupon"}

    response = put(api, change)

    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in change} == change
    program.refresh_from_db()
    assert (program.conversion_mode, program.refund_after_conversion) == ("choice", "void_coupon")


def test_put_thresholds_replaces_them_all(api, program):
    put(api, {"thresholds": THRESHOLDS})

    response = put(api, {"thresholds": [{"points": 2000, "coupon": TEN_PERCENT}]})

    assert [t["points"] for t in response.json()["thresholds"]] == [2000]
    assert list(RewardThreshold.objects.values_list("points", flat=True)) == [2000]
    assert CouponTemplate.objects.count() == 1


def test_put_empty_thresholds_removes_them(api, program):
    put(api, {"thresholds": THRESHOLDS})

    response = put(api, {"thresholds": []})

    assert response.json()["thresholds"] == []
    assert not RewardThreshold.objects.exists()


def test_put_without_thresholds_leaves_them_alone(api, program):
    put(api, {"thresholds": THRESHOLDS})

    response = put(api, {"name": "Club"})

    assert response.json()["thresholds"] == THRESHOLDS_OUT
    assert response.json()["name"] == "Club"


def test_settings_and_thresholds_change_together(api, program):
    response = put(
        api,
        {"currency": "JPY", "thresholds": [{"points": 100, "coupon": {"kind": "fixed",
                                                                       "value": "500"}}]},
    )  # fmt: skip

    assert response.status_code == 200, response.content
    assert response.json()["currency"] == "JPY"
    assert response.json()["thresholds"][0]["coupon"]["value"] == "500"


def test_issued_coupons_keep_their_terms_when_thresholds_change(api, program):
    put(api, {"thresholds": [{"points": 500, "coupon": TEN_PERCENT}]})
    body = {"external_id": "A-1", "member": "cust-1", "amount": "50.00", "currency": "EUR"}
    (issued,) = api.post("/api/v1/orders", body, format="json").json()["coupons_issued"]

    put(api, {"thresholds": [{"points": 500, "coupon": {"kind": "percent", "value": "50"}}]})

    coupons = api.get("/api/v1/members/cust-1/coupons").json()["results"]
    assert [(c["code"], c["value"]) for c in coupons] == [(issued["code"], "10")]
    assert Coupon.objects.get().value == 10


def test_new_thresholds_apply_to_the_next_order(api, program):
    put(api, {"thresholds": [{"points": 300, "coupon": TEN_PERCENT}]})
    body = {"external_id": "A-1", "member": "cust-1", "amount": "35.00", "currency": "EUR"}

    response = api.post("/api/v1/orders", body, format="json")

    assert len(response.json()["coupons_issued"]) == 1
    assert response.json()["balance"] == 50


@pytest.mark.parametrize(
    ("thresholds", "field"),
    [
        # refused by the input's form
        ("500", "thresholds"),
        ([{"points": 0, "coupon": TEN_PERCENT}], "thresholds.0.points"),
        ([{"points": "many", "coupon": TEN_PERCENT}], "thresholds.0.points"),
        ([{"coupon": TEN_PERCENT}], "thresholds.0.points"),
        ([{"points": 500}], "thresholds.0.coupon"),
        ([{"points": 500, "coupon": {"value": "10"}}], "thresholds.0.coupon.kind"),
        ([{"points": 500, "coupon": {"kind": "bogus", "value": "10"}}],
         "thresholds.0.coupon.kind"),
        ([{"points": 500, "coupon": TEN_PERCENT},
          {"points": 900, "coupon": {"kind": "fixed", "value": "x"}}],
         "thresholds.1.coupon.value"),
        ([{"points": 500, "coupon": {**TEN_PERCENT, "valid_days": 0}}],
         "thresholds.0.coupon.valid_days"),
        # refused by the rules (the service)
        ([{"points": 500, "coupon": {"kind": "percent", "value": "150"}}],
         "thresholds.0.coupon.value"),
        ([{"points": 500, "coupon": {"kind": "fixed", "value": "0"}}],
         "thresholds.0.coupon.value"),
        ([{"points": 500, "coupon": {"kind": "fixed", "value": "5.001"}}],
         "thresholds.0.coupon.value"),
        ([{"points": 500, "coupon": {**TEN_PERCENT, "max_discount": "-1"}}],
         "thresholds.0.coupon.max_discount"),
        ([{"points": 500, "coupon": TEN_PERCENT}, {"points": 500, "coupon": TEN_PERCENT}],
         "thresholds.1.points"),
    ],
)  # fmt: skip
def test_invalid_thresholds_are_400_with_field_keys_and_change_nothing(
    api, program, thresholds, field
):
    thresholds_replace(program=program, thresholds=[{"points": 100, "coupon": TEN_PERCENT}])
    before = Program.objects.values().get(pk=program.pk)

    response = put(api, {"name": "Changed too", "thresholds": thresholds})

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    fields = response.json()["fields"]
    assert field in fields, fields
    assert all(isinstance(m, str) and m for m in fields[field])
    assert Program.objects.values().get(pk=program.pk) == before
    assert list(RewardThreshold.objects.values_list("points", flat=True)) == [100]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"conversion_mode": "sometimes"}, "conversion_mode"),
     ({"refund_after_conversion": "keep"}, "refund_after_conversion")],
)  # fmt: skip
def test_invalid_conversion_settings_are_400(api, program, change, field):
    response = put(api, change)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_put_thresholds_needs_the_manage_scope(api_for, program):
    response = put(api_for(program, "orders,checkout"), {"thresholds": THRESHOLDS})

    assert response.status_code == 403
    assert not RewardThreshold.objects.exists()


def test_thresholds_of_another_merchant_stay_apart(api, api_for, program):
    other = ProgramFactory()
    put(api_for(other), {"thresholds": [{"points": 42, "coupon": TEN_PERCENT}]})

    assert api.get(PROGRAM).json()["thresholds"] == []
    assert put(api, {"thresholds": THRESHOLDS}).status_code == 200
    assert [t["points"] for t in api_for(other).get(PROGRAM).json()["thresholds"]] == [42]


def test_put_with_the_same_idempotency_key_applies_once(api, program):
    key = {"HTTP_IDEMPOTENCY_KEY": "config-1"}

    first = api.put(PROGRAM, {"thresholds": THRESHOLDS}, format="json", **key)
    again = api.put(PROGRAM, {"thresholds": THRESHOLDS}, format="json", **key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


# --- the schema ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/v1/schema/", {"format": "json"})
    return response.json()


def component(schema, ref_holder: dict) -> dict:
    ref = ref_holder["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_schema_documents_thresholds_in_the_program(schema):
    get = schema["paths"]["/api/v1/program"]["get"]
    program = component(schema, get["responses"]["200"]["content"]["application/json"]["schema"])
    put_body = schema["paths"]["/api/v1/program"]["put"]["requestBody"]
    request = component(schema, put_body["content"]["application/json"]["schema"])

    assert {"thresholds", "conversion_mode", "refund_after_conversion"} <= set(
        program["properties"]
    )
    assert {"thresholds", "conversion_mode", "refund_after_conversion"} <= set(
        request["properties"]
    )
    assert not request.get("required")


NEW_OPERATIONS = {
    ("/api/v1/coupons/{code}/validate", "post"): "coupon_validate",
    ("/api/v1/coupons/{code}/redeem", "post"): "coupon_redeem",
    ("/api/v1/coupons/{code}/release", "post"): "coupon_release",
    ("/api/v1/members/{external_id}/coupons", "get"): "member_coupons",
    ("/api/v1/members/{external_id}/coupons", "post"): "member_coupon_issue",
    ("/api/v1/members/{external_id}/rewards", "post"): "member_reward_claim",
}


@pytest.mark.parametrize(("path", "method"), list(NEW_OPERATIONS), ids=str)
def test_schema_documents_the_rewards_operations(schema, path, method):
    operation = schema["paths"][path][method]

    assert operation["operationId"] == NEW_OPERATIONS[path, method]
    assert {"401", "403"} <= set(operation["responses"])
    ok = next(code for code in operation["responses"] if code.startswith("2"))
    assert "$ref" in operation["responses"][ok]["content"]["application/json"]["schema"]


def test_schema_documents_the_coupons_list_as_a_cursor_page(schema):
    operation = schema["paths"]["/api/v1/members/{external_id}/coupons"]["get"]
    page = component(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
    status = next(p for p in operation["parameters"] if p["name"] == "status")

    assert {"results", "next", "previous"} <= set(page["properties"])
    assert set(status["schema"]["enum"]) == {"active", "redeemed", "expired", "void"}


def test_schema_documents_429_with_the_error_shape_at_checkout(schema):
    for action in ("validate", "redeem", "release"):
        responses = schema["paths"][f"/api/v1/coupons/{{code}}/{action}"]["post"]["responses"]
        assert responses["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
