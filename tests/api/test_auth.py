"""Who may call the integrator API: Bearer keys, their scopes, and one merchant's data per key.

API.md, General: a key belongs to one merchant and has scopes; another merchant's
data answers 404, never 403; only the key's hash is stored.
"""

import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import ApiKey, LedgerEntry, Member, Order, Program, Refund
from loyalty.services.api_keys import api_key_create
from loyalty.services.orders import order_record
from tests.factories import ProgramFactory

MEMBER = "/api/v1/members/cust-a"
ORDER = {"external_id": "A-2", "member": "cust-a", "amount": "10.00", "currency": "EUR"}
GRANT = {"points": 5, "reason": "Goodwill"}
REFUND = {"external_id": "R-1", "amount": "1.00"}
PROGRAM_CHANGE = {"name": "Renamed"}

# Every endpoint implemented so far, with a body that would succeed for the right key.
ENDPOINTS = [
    ("get", MEMBER, None),
    ("put", MEMBER, {"email": "a@example.com"}),
    ("get", f"{MEMBER}/ledger", None),
    ("post", f"{MEMBER}/grants", GRANT),
    ("post", "/api/v1/orders", ORDER),
    ("get", "/api/v1/orders/A-1", None),
    ("post", "/api/v1/orders/A-1/refunds", REFUND),
    ("get", "/api/v1/program", None),
    ("put", "/api/v1/program", PROGRAM_CHANGE),
]
ENDPOINT_IDS = [f"{method.upper()} {path}" for method, path, _body in ENDPOINTS]


@pytest.fixture
def shop(program):
    """Merchant A's program with member ``cust-a`` and its order ``A-1`` (10.00 EUR, 100 points)."""
    order_record(
        program=program,
        external_id="A-1",
        member_external_id="cust-a",
        amount=Decimal("10.00"),
        currency="EUR",
    )
    return program


def call(client: APIClient, method: str, path: str, body: dict | None):
    return getattr(client, method)(path, body, format="json")


def snapshot(program) -> tuple:
    """What any endpoint could change: orders, refunds, ledger, a profile, the program."""
    return (
        Order.objects.count(),
        Refund.objects.count(),
        LedgerEntry.objects.count(),
        Member.objects.get(external_id="cust-a").email,
        Program.objects.values_list("name", "earn_rate").get(pk=program.pk),
    )


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"code", "detail"}
    assert isinstance(body["detail"], str)
    assert body["detail"]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_request_without_authorization_header_is_401_not_authenticated(shop, method, path, body):
    response = call(APIClient(), method, path, body)

    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_unknown_key_is_401_authentication_failed(shop, method, path, body):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer lk_this-key-was-never-issued")

    response = call(client, method, path, body)

    assert_error(response, 401, "authentication_failed")


def test_revoked_key_is_401_authentication_failed(shop):
    key, raw = api_key_create(merchant=shop.merchant, scopes=["orders", "manage"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(MEMBER).status_code == 200

    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    response = client.get(MEMBER)

    assert_error(response, 401, "authentication_failed")


@pytest.mark.parametrize(
    "header",
    [
        "Token {key}",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Bearer",
        "Bearer {key} extra",
        "{key}",
        "Bearer: {key}",
        "Bearer lk_\u00e9t\u00e9",
    ],
)
def test_malformed_authorization_header_is_401_authentication_failed(shop, header):
    _key, raw = api_key_create(merchant=shop.merchant, scopes=["orders"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(key=raw))

    response = client.get(MEMBER)

    assert_error(response, 401, "authentication_failed")


def test_bearer_keyword_is_case_insensitive(shop):
    _key, raw = api_key_create(merchant=shop.merchant, scopes=["orders"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {raw}")

    assert client.get(MEMBER).status_code == 200


# (scopes of the key, endpoint) pairs the key may not call.
FORBIDDEN = [
    ("orders", ("post", f"{MEMBER}/grants", GRANT)),
    ("orders", ("get", "/api/v1/program", None)),
    ("orders", ("put", "/api/v1/program", PROGRAM_CHANGE)),
    ("checkout", ("post", "/api/v1/orders", ORDER)),
    ("checkout", ("get", "/api/v1/orders/A-1", None)),
    ("checkout", ("post", "/api/v1/orders/A-1/refunds", REFUND)),
    ("checkout", ("get", MEMBER, None)),
    ("checkout", ("get", f"{MEMBER}/ledger", None)),
    ("checkout", ("put", MEMBER, {"email": "a@example.com"})),
    ("checkout", ("post", f"{MEMBER}/grants", GRANT)),
    ("checkout", ("get", "/api/v1/program", None)),
    ("checkout", ("put", "/api/v1/program", PROGRAM_CHANGE)),
    ("manage", ("post", "/api/v1/orders", ORDER)),
    ("manage", ("get", "/api/v1/orders/A-1", None)),
    ("manage", ("post", "/api/v1/orders/A-1/refunds", REFUND)),
]


@pytest.mark.parametrize(
    ("scopes", "endpoint"),
    FORBIDDEN,
    ids=[f"{scopes}-{m.upper()} {p}" for scopes, (m, p, _b) in FORBIDDEN],
)
def test_key_without_the_scope_is_403_permission_denied_and_changes_nothing(
    shop, api_for, scopes, endpoint
):
    method, path, body = endpoint
    before = snapshot(shop)

    response = call(api_for(shop, scopes), method, path, body)

    assert_error(response, 403, "permission_denied")
    assert snapshot(shop) == before


# (scopes, endpoint, status) calls the key is allowed to make.
ALLOWED = [
    ("orders", ("get", MEMBER, None), 200),
    ("manage", ("get", MEMBER, None), 200),
    ("orders", ("put", MEMBER, {"email": "a@example.com"}), 200),
    ("orders", ("get", f"{MEMBER}/ledger", None), 200),
    ("orders", ("post", "/api/v1/orders", ORDER), 201),
    ("orders", ("get", "/api/v1/orders/A-1", None), 200),
    ("orders", ("post", "/api/v1/orders/A-1/refunds", REFUND), 201),
    ("manage", ("get", "/api/v1/program", None), 200),
    ("manage", ("put", "/api/v1/program", PROGRAM_CHANGE), 200),
    ("manage", ("post", f"{MEMBER}/grants", GRANT), 201),
]


@pytest.mark.parametrize(
    ("scopes", "endpoint", "status"),
    ALLOWED,
    ids=[f"{scopes}-{m.upper()} {p}" for scopes, (m, p, _b), _s in ALLOWED],
)
def test_key_with_the_scope_may_call_the_endpoint(shop, api_for, scopes, endpoint, status):
    method, path, body = endpoint

    response = call(api_for(shop, scopes), method, path, body)

    assert response.status_code == status, response.content


@pytest.fixture
def other_merchant_client(shop, api_for):
    """A key with every scope, of merchant B, whose program has no members or orders."""
    return api_for(ProgramFactory())


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("get", MEMBER, None, "member_not_found"),
        ("get", f"{MEMBER}/ledger", None, "member_not_found"),
        ("post", f"{MEMBER}/grants", GRANT, "member_not_found"),
        ("get", "/api/v1/orders/A-1", None, "order_not_found"),
        ("post", "/api/v1/orders/A-1/refunds", REFUND, "order_not_found"),
    ],
)
def test_other_merchants_key_gets_404_for_this_merchants_data(
    shop, other_merchant_client, method, path, body, code
):
    before = (Refund.objects.count(), LedgerEntry.objects.count())

    response = call(other_merchant_client, method, path, body)

    assert_error(response, 404, code)
    assert (Refund.objects.count(), LedgerEntry.objects.count()) == before
    assert Member.objects.get(program=shop, external_id="cust-a").balance == 100


def test_other_merchants_member_with_the_same_external_id_is_a_separate_member(
    shop, other_merchant_client
):
    response = other_merchant_client.put(MEMBER, {"email": "b@example.com"}, format="json")

    assert response.status_code == 201
    assert response.json()["balance"] == 0
    assert Member.objects.filter(external_id="cust-a").count() == 2
    mine = Member.objects.get(program=shop, external_id="cust-a")
    assert mine.email != "b@example.com"
    assert mine.balance == 100


def test_other_merchants_order_with_the_same_external_id_is_a_separate_order(
    shop, other_merchant_client
):
    body = {"external_id": "A-1", "member": "cust-a", "amount": "50.00", "currency": "EUR"}

    response = other_merchant_client.post("/api/v1/orders", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == 500
    assert Order.objects.get(program=shop, external_id="A-1").amount == Decimal("10.00")


def test_only_the_keys_hash_is_stored(program):
    key, raw = api_key_create(merchant=program.merchant, scopes=["orders"])

    stored = ApiKey.objects.filter(pk=key.pk).values().get()

    assert stored["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert all(raw not in str(value) for value in stored.values())


def test_create_api_key_command_prints_a_working_key_alone_on_the_last_line(program):
    out = StringIO()

    call_command("create_api_key", program.merchant.slug, "--scopes", "orders", stdout=out)

    raw = out.getvalue().strip().splitlines()[-1]
    assert " " not in raw
    key = ApiKey.objects.get(merchant=program.merchant)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post("/api/v1/orders", ORDER, format="json").status_code == 201
