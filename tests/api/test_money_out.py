"""Every amount that leaves the platform (API answers and webhook payloads) is written in the
currency's minor unit ("129.90" EUR, "1299" JPY, "12.345" KWD), never as stored with 3
decimals ("129.900"): ``loyalty.money.money_str``."""

import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from loyalty import money
from notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import ProgramFactory, api_key_for

# own_cache: the coupon-guess counters of earlier tests (the fuzz test) do not reach these.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_cache")]

# The keys whose values are amounts of money in the program's currency, wherever they appear.
AMOUNT_KEYS = frozenset({
    "amount", "discount", "shipping_discount", "refunded_amount", "points_base",
    "min_order_amount", "max_discount", "shipping", "tax", "paid_with_gift_card", "order_amount",
})  # fmt: skip


def amount_re(currency: str) -> re.Pattern[str]:
    decimals = money.minor_unit(currency)
    return re.compile(r"[0-9]+" + (rf"\.[0-9]{{{decimals}}}" if decimals else ""))


def amounts(node, path=""):
    """(path, value) of every amount in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in AMOUNT_KEYS and isinstance(value, str):
                yield f"{path}.{key}", value
            else:
                yield from amounts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from amounts(value, f"{path}.{index}")


# A currency of each minor unit, and amounts in it that a program of it takes.
CASES = [
    pytest.param("EUR", "129.9", "5", "10.5", id="EUR-2"),
    pytest.param("JPY", "12990", "500", "1050", id="JPY-0"),
    pytest.param("KWD", "129.905", "5.5", "10.125", id="KWD-3"),
]


def make_shop(currency: str):
    """A program in ``currency`` with an endpoint for every event, and a client of its key."""
    program = ProgramFactory(
        currency=currency, earn_rate=Decimal("0.1") if currency == "JPY" else Decimal("10")
    )
    WebhookEndpoint.objects.create(
        merchant=program.merchant, url="http://127.0.0.1:9/hooks", events=WebhookEvent.values
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program)}")
    return program, client


@pytest.fixture
def shop(db):
    return make_shop


def run_the_shop(client, currency: str, amount: str, fixed: str, minimum: str) -> list[dict]:
    """Thresholds, a campaign, an order that reaches a reward, the reward redeemed, a quote, a
    refund: every answer on the way."""
    answers = []
    put = client.put(
        "/api/v1/program",
        {
            "thresholds": [{"points": 1000, "coupon": {"kind": "fixed", "value": fixed,
                                                      "min_order_amount": minimum,
                                                      "valid_days": 30}}],
            "campaigns": [{"name": "Spring", "start_date": "2020-01-01",
                           "end_date": "2020-01-31", "multiplier": "2",
                           "min_order_amount": minimum}],
        },
        format="json",
    )  # fmt: skip
    assert put.status_code == 200, put.json()
    answers.append(put.json())
    order = client.post(
        "/api/v1/orders",
        {"external_id": "ORD-1001", "member": "cus_1042", "amount": amount,
         "currency": currency, "breakdown": {"shipping": minimum}},
        format="json",
    )  # fmt: skip
    assert order.status_code == 201, order.json()
    answers.append(order.json())
    (coupon,) = order.json()["coupons_issued"]
    redeem = client.post(
        f"/api/v1/coupons/{coupon['code']}/redeem",
        {"order": "ORD-1002", "member": "cus_1042", "order_amount": amount, "currency": currency},
        format="json",
    )  # fmt: skip
    assert redeem.status_code == 200, redeem.json()
    answers.append(redeem.json())
    quote = client.post(
        "/api/v1/orders/quote",
        {"external_id": "ORD-Q", "member": "cus_1042", "amount": amount, "currency": currency},
        format="json",
    )
    assert quote.status_code == 200, quote.json()
    answers.append(quote.json())
    refund = client.post(
        "/api/v1/orders/ORD-1001/refunds", {"external_id": "RF-1", "amount": minimum}, format="json"
    )
    assert refund.status_code == 201, refund.json()
    answers.append(refund.json())
    for path in ("/api/v1/orders/ORD-1001", "/api/v1/members/cus_1042/coupons", "/api/v1/program"):
        response = client.get(path)
        assert response.status_code == 200, path
        answers.append(response.json())
    return answers


@pytest.mark.parametrize(("currency", "amount", "fixed", "minimum"), CASES)
def test_api_answers_write_amounts_in_the_currencys_minor_unit(
    shop, currency, amount, fixed, minimum
):
    _program, client = shop(currency)

    answers = run_the_shop(client, currency, amount, fixed, minimum)

    found = [pair for answer in answers for pair in amounts(answer)]
    assert len(found) > 20
    wrong = [(path, value) for path, value in found if not amount_re(currency).fullmatch(value)]
    assert not wrong, wrong


@pytest.mark.parametrize(("currency", "amount", "fixed", "minimum"), CASES)
def test_webhook_payloads_write_amounts_in_the_currencys_minor_unit(
    shop, currency, amount, fixed, minimum
):
    program, client = shop(currency)

    run_the_shop(client, currency, amount, fixed, minimum)

    payloads = {
        row.event: row.payload
        for row in WebhookDelivery.objects.filter(endpoint__merchant=program.merchant)
    }
    assert payloads["order_recorded"]["amount"] == money.money_str(Decimal(amount), currency)
    assert payloads["reward_issued"]["value"] == money.money_str(Decimal(fixed), currency)
    assert payloads["reward_issued"]["currency"] == currency
    redeemed = payloads["coupon_redeemed"]
    assert redeemed["discount"] == money.money_str(Decimal(fixed), currency)
    assert redeemed["shipping_discount"] == money.money_str(Decimal(0), currency)
    found = [pair for payload in payloads.values() for pair in amounts(payload)]
    wrong = [(path, value) for path, value in found if not amount_re(currency).fullmatch(value)]
    assert not wrong, wrong


def test_a_percent_reward_is_written_as_a_percentage(shop):
    program, client = shop("EUR")
    client.put(
        "/api/v1/program",
        {"thresholds": [{"points": 150, "coupon": {"kind": "percent", "value": "12.5",
                                                   "min_order_amount": "0",
                                                   "valid_days": 30}}]},
        format="json",
    )  # fmt: skip

    client.post(
        "/api/v1/orders",
        {"external_id": "ORD-1", "member": "cus_1", "amount": "20", "currency": "EUR"},
        format="json",
    )

    payload = WebhookDelivery.objects.get(event="reward_issued").payload
    assert payload["kind"] == "percent"
    assert payload["value"] == "12.5"


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [("129.900", "EUR", "129.90"), ("129.905", "EUR", "129.91"), ("1299.000", "JPY", "1299"),
     ("12.5", "KWD", "12.500"), ("0", "EUR", "0.00"), ("1E+3", "JPY", "1000"),
     ("1000000000", "USD", "1000000000.00")],
)  # fmt: skip
def test_money_str_is_the_currencys_minor_unit_half_up(amount, currency, text):
    assert money.money_str(Decimal(amount), currency) == text


@pytest.mark.parametrize(
    ("currency", "good", "bad"),
    [("EUR", "129.90", "129.900"), ("JPY", "12990", "12990.00"), ("KWD", "12.990", "12.99")],
)
def test_the_document_states_answers_amounts_in_the_currencys_minor_unit(currency, good, bad):
    """So the fuzz test's response checks hold every answer's amounts to it too."""
    doc = APIClient().get("/api/v1/schema/", {"format": "json", "currency": currency}).json()
    parts = doc["components"]["schemas"]

    fields = [("Order", "amount"), ("Order", "refunded_amount"), ("EarnBreakdown", "points_base"),
              ("CouponRedemption", "discount"), ("Coupon", "min_order_amount"),
              ("RefundDetail", "amount")]  # fmt: skip
    for component, field in fields:
        pattern = parts[component]["properties"][field]["pattern"]
        assert re.match(pattern, good), (component, field)
        assert not re.match(pattern, bad), (component, field)
