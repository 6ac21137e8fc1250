"""The quick start (docs/api/quickstart.md) works as written: a merchant and a key made by
the management commands, a reward threshold, an order that pays for a coupon, the coupon
validated and redeemed at checkout, and the signed webhook of the order received and checked
with the webhooks reference's own Python code (docs/api/webhooks.md)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from loyalty.models import Merchant
from notifications.models import WebhookEndpoint
from tests.notifications.test_webhooks import Receiver

pytestmark = pytest.mark.django_db

SHOW = False  # True prints each answer (to refresh the examples in the docs)


def show(response):
    if SHOW:
        print(response.status_code, json.dumps(response.json(), indent=2))
    return response


def test_quickstart_steps_work_as_written(django_capture_on_commit_callbacks):
    call_command("create_merchant", "acme", "--name", "Acme Outdoor", "--currency", "EUR",
                 stdout=StringIO())  # fmt: skip
    out = StringIO()
    call_command("create_api_key", "acme", "--scopes", "orders,checkout,manage", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}")
    with Receiver() as receiver:
        WebhookEndpoint.objects.create(
            merchant=Merchant.objects.get(slug="acme"), url=receiver.url,
            events=["order_recorded", "reward_issued"],
        )  # fmt: skip
        program = show(api.put("/api/v1/program", {"earn_rate": "1.00", "thresholds": [
            {"points": 100, "coupon": {"kind": "fixed", "value": "10.00",
                                       "min_order_amount": "50.00", "valid_days": 90}}
        ]}, format="json"))  # fmt: skip
        assert program.status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            order = show(api.post("/api/v1/orders", {
                "external_id": "ORD-1001", "member": "cus_1042", "amount": "129.90",
                "currency": "EUR", "placed_at": "2025-03-14T09:30:00Z",
            }, format="json", HTTP_IDEMPOTENCY_KEY="order-ORD-1001"))  # fmt: skip
        assert order.status_code == 201
        code = order.json()["coupons_issued"][0]["code"]
        checkout = {"member": "cus_1042", "order_amount": "64.00", "currency": "EUR"}
        valid = show(api.post(f"/api/v1/coupons/{code}/validate", checkout, format="json"))
        redeemed = show(api.post(f"/api/v1/coupons/{code}/redeem", {**checkout, "order": "ORD-1002"},
                                 format="json", HTTP_IDEMPOTENCY_KEY="redeem-ORD-1002"))  # fmt: skip
        again = show(api.post(f"/api/v1/coupons/{code}/validate", checkout, format="json"))
        delivered = list(receiver.requests)
    assert valid.status_code == 200 and valid.json()["discount"] == "10.00"
    assert redeemed.status_code == 200 and redeemed.json()["coupon"]["status"] == "redeemed"
    assert again.status_code == 422 and again.json()["code"] == "coupon_already_redeemed"
    if SHOW:
        for request in delivered:
            print(request["headers"], request["body"].decode())
    assert {r["headers"]["X-Loyalty-Event"] for r in delivered} >= {"order_recorded"}
