"""The quick start (docs/api/quickstart.md) works as written: a merchant and a key made by
the management commands, a reward threshold, an order that pays for a coupon, the coupon
validated and redeemed at checkout (and refused when used again), and the order's signed
webhook received."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from loyalty.models import Merchant
from notifications.models import WebhookEndpoint
from tests.notifications.test_webhooks import Receiver

pytestmark = pytest.mark.django_db

THRESHOLD = {
    "points": 100,
    "coupon": {"kind": "fixed", "value": "10.00", "min_order_amount": "50.00", "valid_days": 90},
}
ORDER = {
    "external_id": "ORD-1001",
    "member": "cus_1042",
    "amount": "129.90",
    "currency": "EUR",
    "placed_at": "2025-03-14T09:30:00Z",
}
CHECKOUT = {"member": "cus_1042", "order_amount": "64.00", "currency": "EUR"}


def quickstart_key() -> str:
    """Step 1: the commands, as the guide runs them; the key is the last line printed."""
    call_command("create_merchant", "acme", "--name", "Acme Outdoor", "--currency", "EUR",
                 stdout=StringIO())  # fmt: skip
    out = StringIO()
    call_command("create_api_key", "acme", "--scopes", "orders,checkout,manage",
                 "--name", "Shop backend", stdout=out)  # fmt: skip
    return out.getvalue().strip().splitlines()[-1]


def test_quickstart_steps_work_as_written(django_capture_on_commit_callbacks):
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {quickstart_key()}")
    with Receiver() as receiver:
        WebhookEndpoint.objects.create(
            merchant=Merchant.objects.get(slug="acme"), url=receiver.url,
            events=["order_recorded"],
        )  # fmt: skip
        program = api.put("/api/v1/program", {"earn_rate": "1.00", "thresholds": [THRESHOLD]},
                          format="json")  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            order = api.post("/api/v1/orders", ORDER, format="json",
                             HTTP_IDEMPOTENCY_KEY="order-ORD-1001")  # fmt: skip
        code = order.json()["coupons_issued"][0]["code"]
        valid = api.post(f"/api/v1/coupons/{code}/validate", CHECKOUT, format="json")
        redeemed = api.post(f"/api/v1/coupons/{code}/redeem", {**CHECKOUT, "order": "ORD-1002"},
                            format="json", HTTP_IDEMPOTENCY_KEY="redeem-ORD-1002")  # fmt: skip
        again = api.post(f"/api/v1/coupons/{code}/validate", CHECKOUT, format="json")
        (delivered,) = receiver.requests

    assert program.status_code == 200
    assert order.status_code == 201
    assert (order.json()["points_earned"], order.json()["balance"]) == (129, 29)
    assert (valid.status_code, valid.json()["discount"]) == (200, "10.00")
    assert (redeemed.status_code, redeemed.json()["coupon"]["status"]) == (200, "redeemed")
    assert (again.status_code, again.json()["code"]) == (422, "coupon_already_redeemed")
    assert delivered["headers"]["X-Loyalty-Event"] == "order_recorded"
    assert delivered["headers"]["X-Loyalty-Signature"].startswith("sha256=")
