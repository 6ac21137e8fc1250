"""Which key may call what: the schema states each operation's scopes, the API enforces exactly
those, and a `checkout` key never reads member data.

API.md, General: `orders` (orders, refunds, member reads), `checkout` (coupon
validate/redeem/release only: no member data, no coupon lists), `manage` (program
configuration, grants, member reads). A key without the scope gets 403
``permission_denied``; another merchant's data is a 404, never a 403.
"""

import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from loyalty.models import ApiKey
from rewards.models import Coupon
from rewards.services.coupons import CouponTerms, coupon_issue
from tests.factories import MemberFactory, ProgramFactory

SCOPES = [scope.value for scope in ApiKey.Scope]
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}
# A value for each path parameter: nothing of the kind exists, so an allowed call ends in a
# 404 or a 400 and changes nothing that matters here.
PATH_VALUES = {"external_id": "nobody", "code": "NOPE-NOPE-NOPE"}


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


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES[match.group(1)], path)


def test_every_operation_declares_the_scopes_it_needs(schema):
    for path, method, operation in operations(schema):
        declared = operation.get("x-required-scopes")

        assert declared, (method, path)
        assert set(declared) <= set(SCOPES), (method, path, declared)
        for scope in declared:
            assert f"`{scope}`" in operation["description"], (method, path, scope)


def test_declared_scopes_are_exactly_what_the_api_enforces(schema, program, api_for):
    """Each operation, called by a key with each single scope and by a key with every scope it
    does not declare: refused with 403 exactly when the key holds none of the declared ones."""
    clients = {scopes: api_for(program, scopes) for scopes in SCOPES}
    wrong: list[tuple] = []

    for path, method, operation in operations(schema):
        declared = set(operation["x-required-scopes"])
        lacking = ",".join(scope for scope in SCOPES if scope not in declared)
        if lacking and lacking not in clients:
            clients[lacking] = api_for(program, lacking)
        for scopes in [*SCOPES, lacking] if lacking else SCOPES:
            response = getattr(clients[scopes], method)(concrete(path), {}, format="json")
            allowed = bool(declared & set(scopes.split(",")))
            refused = response.status_code == 403
            if refused:
                assert response.json()["code"] == "permission_denied"
            if refused == allowed or response.status_code == 401:
                wrong.append((method.upper(), path, scopes, response.status_code))

    assert wrong == []


MEMBER_READS = ["", "/coupons", "/ledger", "/tier-history", "/badge"]


@pytest.fixture
def member_with_a_coupon(program):
    member = MemberFactory(program=program, email="ana@example.com", name="Ana Lopez")
    coupon = coupon_issue(
        program=program,
        terms=CouponTerms(kind="percent", value=Decimal("10")),
        member=member,
        source=Coupon.Source.PROMOTION,
        reason="test",
    )
    return member, coupon


@pytest.mark.parametrize("suffix", MEMBER_READS)
def test_checkout_key_reads_no_member_data(api_for, program, member_with_a_coupon, suffix):
    member, coupon = member_with_a_coupon

    response = api_for(program, "checkout").get(f"/api/v1/members/{member.external_id}{suffix}")

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    for secret in (member.email, member.name, coupon.code):
        assert secret not in response.content.decode()


@pytest.mark.parametrize("scopes", ["orders", "manage"])
@pytest.mark.parametrize("suffix", MEMBER_READS)
def test_orders_and_manage_keys_read_member_data(
    api_for, program, member_with_a_coupon, scopes, suffix
):
    member, _coupon = member_with_a_coupon

    response = api_for(program, scopes).get(f"/api/v1/members/{member.external_id}{suffix}")

    assert response.status_code == 200, response.content


def test_checkout_key_still_validates_and_redeems_a_code_it_is_given(
    api_for, program, member_with_a_coupon
):
    member, coupon = member_with_a_coupon
    checkout = api_for(program, "checkout")
    body = {"member": member.external_id, "order_amount": "50.00", "currency": "EUR"}

    validated = checkout.post(f"/api/v1/coupons/{coupon.code}/validate", body, format="json")
    redeemed = checkout.post(
        f"/api/v1/coupons/{coupon.code}/redeem", {**body, "order": "A-1"}, format="json"
    )

    assert validated.status_code == 200, validated.content
    assert redeemed.status_code == 200, redeemed.content


@pytest.mark.parametrize("suffix", MEMBER_READS)
def test_another_merchants_key_with_the_scope_gets_404_for_member_reads(
    api_for, program, member_with_a_coupon, suffix
):
    member, _coupon = member_with_a_coupon
    other = api_for(ProgramFactory(), "orders,manage")

    response = other.get(f"/api/v1/members/{member.external_id}{suffix}")

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "member_not_found"
