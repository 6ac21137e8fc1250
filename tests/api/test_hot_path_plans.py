"""Every statement of the hot paths finds its rows through an index.

A statement that reads a whole table costs nothing in a test database and grows with
every member a shop gains: the member lock once did (``… OR pk IN (subquery)``), 1.2 ms
an order at 6,000 members. These tests plan each statement an order, a batch, a refund and
a checkout send, and fail on any full read of a table (``tests.plans``).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import MemberFactory
from tests.plans import full_scans

pytestmark = pytest.mark.django_db

PROGRAM = {
    "earning_rules": [
        {"kind": "signup", "name": "Welcome", "parameters": {"points": 100}},
        {"kind": "referral", "name": "Friends",
         "parameters": {"referrer_points": 200, "referred_points": 100}},
    ],
    "thresholds": [{"points": 500, "coupon": {"kind": "percent", "value": "10", "valid_days": 30}}],
    "tiers": [{"name": "Gold", "min_points": 300, "earn_multiplier": "1.5"}],
}  # fmt: skip


def _statements(call) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    assert response.status_code in (200, 201), response.content
    return [q["sql"] for q in ctx.captured_queries]


def _order(n: int, member: str, amount: str = "60.00") -> dict:
    return {"external_id": f"P-{n}", "member": member, "amount": amount, "currency": "EUR"}


@pytest.fixture
def configured(api, program):
    assert api.put("/api/v1/program", PROGRAM, format="json").status_code == 200
    MemberFactory(program=program, external_id="alice")
    api.put("/api/v1/members/bob", {"referred_by": "alice"}, format="json")
    return api


def test_an_order_reads_no_table_in_full(configured):
    api = configured
    statements = []
    # A new member, a referred member's first order (both locked), a member's next order
    # that crosses the threshold (a coupon) and a tier.
    for n, member in enumerate(["carol", "bob", "bob", "bob"]):
        order = _order(n, member)
        statements += _statements(lambda o=order: api.post("/api/v1/orders", o, format="json"))

    assert full_scans(statements) == []


def test_a_batch_reads_no_table_in_full(configured):
    orders = [_order(n, m) for n, m in enumerate(["dan", "alice", "bob", "dan", "erin"] * 4)]

    statements = _statements(
        lambda: configured.post("/api/v1/orders/batch", {"orders": orders}, format="json")
    )

    assert full_scans(statements) == []


def test_a_refund_and_a_checkout_read_no_table_in_full(configured):
    api = configured
    issued = api.post("/api/v1/orders", _order(1, "fay", "80.00"), format="json").json()
    code = issued["coupons_issued"][0]["code"]
    checkout = {"member": "fay", "order_amount": "120.00", "currency": "EUR"}
    coupon = f"/api/v1/coupons/{code}"
    refund = {"external_id": "R-1", "amount": "20.00"}

    statements = _statements(lambda: api.post(f"{coupon}/validate", checkout, format="json"))
    statements += _statements(
        lambda: api.post(f"{coupon}/redeem", {**checkout, "order": "P-9"}, format="json")
    )
    statements += _statements(lambda: api.post("/api/v1/orders/P-1/refunds", refund,
                                               format="json"))  # fmt: skip

    assert full_scans(statements) == []
