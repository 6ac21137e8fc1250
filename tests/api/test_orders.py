"""Orders over HTTP: earning once, replays and conflicts, the breakdown, and bad input.

API.md, Orders: 201 with the order's result; an unknown member is created; the
same external id with the same body answers 200 and earns nothing, with another
body 409 order_conflict; another currency 422 currency_mismatch. Bad input is
refused with a 4xx and a code, and leaves no trace.
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.models import LedgerEntry, Member, Order

ORDERS = "/api/v1/orders"
ORDER_FIELDS = {
    "external_id", "member", "amount", "currency", "status", "points_earned", "balance",
    "coupons_issued",
}  # fmt: skip


def order_body(**changes):
    """A valid order (123.45 EUR for ``cust-1``); ``None`` values drop the field."""
    body = {"external_id": "A-1", "member": "cust-1", "amount": "123.45", "currency": "EUR"}
    body.update(changes)
    return {name: value for name, value in body.items() if value is not None}


def counts() -> tuple[int, int, int]:
    return Order.objects.count(), Member.objects.count(), LedgerEntry.objects.count()


def test_order_is_201_with_its_result(api, program):
    response = api.post(ORDERS, order_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert ORDER_FIELDS <= set(body)
    assert {name: body[name] for name in ORDER_FIELDS} == {
        "external_id": "A-1",
        "member": "cust-1",
        "amount": "123.45",
        "currency": "EUR",
        "status": "paid",
        "points_earned": 1234,
        "balance": 1234,
        "coupons_issued": [],
    }


def test_order_for_an_unknown_member_creates_the_member(api, program):
    assert not Member.objects.exists()

    api.post(ORDERS, order_body(member="new-customer"), format="json")

    member = Member.objects.get(program=program, external_id="new-customer")
    assert member.balance == 1234
    assert api.get("/api/v1/members/new-customer").json()["balance"] == 1234


def test_order_for_a_known_member_adds_to_its_balance(api, member):
    api.post(ORDERS, order_body(member=member.external_id, external_id="A-1"), format="json")

    response = api.post(
        ORDERS,
        order_body(member=member.external_id, external_id="A-2", amount="10.00"),
        format="json",
    )

    assert response.json()["points_earned"] == 100
    assert response.json()["balance"] == 1334
    assert Member.objects.count() == 1


def test_the_same_order_again_is_200_with_the_first_result_and_earns_nothing(api, program):
    first = api.post(ORDERS, order_body(), format="json")

    again = api.post(ORDERS, order_body(), format="json")

    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert Member.objects.get(external_id="cust-1").balance == 1234
    assert LedgerEntry.objects.count() == 1
    assert Order.objects.count() == 1


def test_the_same_order_with_an_equal_amount_written_differently_is_a_replay(api, program):
    api.post(ORDERS, order_body(amount="10.5"), format="json")

    again = api.post(ORDERS, order_body(amount="10.50"), format="json")

    assert again.status_code == 200
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "123.46"},
        {"member": "cust-2"},
        {"placed_at": "2024-01-01T10:00:00+00:00"},
        {"breakdown": {"shipping": "5.00"}},
    ],
)
def test_the_same_external_id_with_another_body_is_409_order_conflict(api, program, changes):
    api.post(ORDERS, order_body(), format="json")
    before = counts()

    response = api.post(ORDERS, order_body(**changes), format="json")

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "order_conflict"
    assert counts() == before
    assert Member.objects.get(external_id="cust-1").balance == 1234
    assert Order.objects.get().amount == Decimal("123.45")


def test_order_in_another_currency_is_422_currency_mismatch_and_changes_nothing(api, program):
    response = api.post(ORDERS, order_body(currency="USD"), format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "currency_mismatch"
    assert counts() == (0, 0, 0)


def test_currency_code_is_case_insensitive(api, program):
    response = api.post(ORDERS, order_body(currency="eur"), format="json")

    assert response.status_code == 201
    assert response.json()["currency"] == "EUR"


def test_placed_at_is_optional_and_defaults_to_now(api, program):
    before = timezone.now()

    response = api.post(ORDERS, order_body(), format="json")

    placed_at = parse_datetime(response.json()["placed_at"])
    assert before - timedelta(seconds=1) <= placed_at <= timezone.now()


def test_placed_at_is_honoured(api, program):
    placed_at = (timezone.now() - timedelta(days=3)).replace(microsecond=0)

    response = api.post(ORDERS, order_body(placed_at=placed_at.isoformat()), format="json")

    assert response.status_code == 201, response.content
    assert parse_datetime(response.json()["placed_at"]) == placed_at
    assert Order.objects.get().placed_at == placed_at
    assert Member.objects.get().last_order_at == placed_at


def test_placed_at_with_another_offset_is_the_same_instant(api, program):
    response = api.post(ORDERS, order_body(placed_at="2024-03-01T12:00:00+02:00"), format="json")

    assert response.status_code == 201
    assert Order.objects.get().placed_at == parse_datetime("2024-03-01T10:00:00Z")


def test_amount_sent_as_a_json_number_is_exact(api, program):
    raw = '{"external_id": "A-1", "member": "cust-1", "amount": 12.5, "currency": "EUR"}'

    response = api.generic("POST", ORDERS, raw, content_type="application/json")

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "12.50"
    assert response.json()["points_earned"] == 125
    assert Order.objects.get().amount == Decimal("12.5")


def test_amount_that_floats_cannot_hold_stays_exact(api, program):
    raw = '{"external_id": "A-1", "member": "cust-1", "amount": 0.29, "currency": "EUR"}'

    response = api.generic("POST", ORDERS, raw, content_type="application/json")

    # As a float, 0.29 * 10 is 2.8999999999999995, which would floor to 2.
    assert response.json()["points_earned"] == 2
    assert response.json()["amount"] == "0.29"
    assert Order.objects.get().amount == Decimal("0.29")


def test_the_largest_order_at_the_highest_rate_earns_exactly(api, program):
    assert api.put("/api/v1/program", {"earn_rate": "100000"}, format="json").status_code == 200

    response = api.post(ORDERS, order_body(amount="1000000000.00"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == 100_000_000_000_000
    assert response.json()["balance"] == 100_000_000_000_000
    assert api.get("/api/v1/members/cust-1").json()["balance"] == 100_000_000_000_000


@pytest.mark.parametrize(
    ("flags", "breakdown", "points"),
    [
        ({}, {}, 1000),
        ({}, {"shipping": "10.00"}, 900),
        ({"earn_on_shipping": True}, {"shipping": "10.00"}, 1000),
        ({}, {"tax": "19.00"}, 1000),
        ({"earn_on_tax": False}, {"tax": "19.00"}, 810),
        ({}, {"paid_with_gift_card": "20.00"}, 800),
        ({"earn_on_gift_card": True}, {"paid_with_gift_card": "20.00"}, 1000),
        ({}, {"discount": "15.00"}, 1000),
        ({"earn_on_discount": True}, {"discount": "15.00"}, 1150),
        (
            {"earn_on_tax": False},
            {"shipping": "5.00", "tax": "15.00", "paid_with_gift_card": "30.00"},
            500,
        ),
    ],
)
def test_breakdown_changes_points_by_the_programs_flags(api, program, flags, breakdown, points):
    for name, value in flags.items():
        setattr(program, name, value)
    program.save()

    response = api.post(ORDERS, order_body(amount="100.00", breakdown=breakdown), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == points
    assert Member.objects.get().balance == points


def test_get_order_answers_the_recorded_order(api, program):
    created = api.post(ORDERS, order_body(), format="json").json()

    response = api.get(f"{ORDERS}/A-1")

    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in ORDER_FIELDS} == {
        name: created[name] for name in ORDER_FIELDS
    }


def test_get_order_shows_the_balance_now(api, program):
    api.post(ORDERS, order_body(), format="json")
    api.post(ORDERS, order_body(external_id="A-2", amount="1.00"), format="json")

    response = api.get(f"{ORDERS}/A-1")

    assert response.json()["balance"] == 1244


def test_get_unknown_order_is_404_order_not_found(api, program):
    response = api.get(f"{ORDERS}/nope")

    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"
    assert set(response.json()) == {"code", "detail"}


def future() -> str:
    return (timezone.now() + timedelta(days=1)).isoformat()


JSON = "application/json"
# (id, raw body, content type, status, code): each must be refused and leave no trace.
BAD_INPUT = [
    ("amount 0", order_body(amount="0"), JSON, 400, "validation_error"),
    ("amount 0.00", order_body(amount="0.00"), JSON, 400, "validation_error"),
    ("amount -1", order_body(amount="-1"), JSON, 400, "validation_error"),
    ("amount -1 number", order_body(amount=-1), JSON, 400, "validation_error"),
    ("amount NaN", order_body(amount="NaN"), JSON, 400, "validation_error"),
    ("amount Infinity", order_body(amount="Infinity"), JSON, 400, "validation_error"),
    ("amount -Infinity", order_body(amount="-Infinity"), JSON, 400, "validation_error"),
    ("amount 1e30", order_body(amount="1e30"), JSON, 400, "validation_error"),
    ("amount over the maximum", order_body(amount="1000000000.01"), JSON, 400,
     "validation_error"),
    ("amount abc", order_body(amount="abc"), JSON, 400, "validation_error"),
    ("amount empty", order_body(amount=""), JSON, 400, "validation_error"),
    ("amount true", order_body(amount=True), JSON, 400, "validation_error"),
    ("amount 12.345 EUR", order_body(amount="12.345"), JSON, 400, "validation_error"),
    ("amount 12.345 number",
     '{"external_id": "A-1", "member": "c", "amount": 12.345, "currency": "EUR"}', JSON, 400,
     "validation_error"),
    ("amount 0.001", order_body(amount="0.001"), JSON, 400, "validation_error"),
    ("missing amount", order_body(amount=None), JSON, 400, "validation_error"),
    ("missing member", order_body(member=None), JSON, 400, "validation_error"),
    ("blank member", order_body(member=""), JSON, 400, "validation_error"),
    ("missing external_id", order_body(external_id=None), JSON, 400, "validation_error"),
    ("blank external_id", order_body(external_id=""), JSON, 400, "validation_error"),
    ("currency EURO", order_body(currency="EURO"), JSON, 400, "validation_error"),
    ("currency E1R", order_body(currency="E1R"), JSON, 400, "validation_error"),
    ("currency null", {**order_body(), "currency": None}, JSON, 400, "validation_error"),
    ("missing currency", order_body(currency=None), JSON, 400, "validation_error"),
    ("external_id of 192 chars", order_body(external_id="x" * 192), JSON, 400,
     "validation_error"),
    ("member of 192 chars", order_body(member="m" * 192), JSON, 400, "validation_error"),
    ("shipping larger than amount",
     order_body(amount="10.00", breakdown={"shipping": "20.00"}), JSON, 400, "validation_error"),
    ("tax and gift card larger than amount",
     order_body(amount="10.00", breakdown={"tax": "6.00", "paid_with_gift_card": "6.00"}),
     JSON, 400, "validation_error"),
    ("negative shipping", order_body(breakdown={"shipping": "-1.00"}), JSON, 400,
     "validation_error"),
    ("breakdown shipping NaN", order_body(breakdown={"shipping": "NaN"}), JSON, 400,
     "validation_error"),
    ("breakdown not an object", order_body(breakdown="5.00"), JSON, 400, "validation_error"),
    ("placed_at in the future", order_body(placed_at=future()), JSON, 400, "validation_error"),
    ("placed_at not a date", order_body(placed_at="yesterday"), JSON, 400, "validation_error"),
    ("malformed JSON", '{"external_id": "A-1", "amount": ', JSON, 400, "parse_error"),
    ("JSON NaN literal", '{"external_id": "A-1", "member": "c", "amount": NaN, "currency": "EUR"}',
     JSON, 400, "validation_error"),
    ("JSON Infinity literal",
     '{"external_id": "A-1", "member": "c", "amount": Infinity, "currency": "EUR"}',
     JSON, 400, "validation_error"),
    ("JSON array body", [order_body()], JSON, 400, "validation_error"),
    ("JSON string body", '"A-1"', JSON, 400, "validation_error"),
    ("JSON null body", "null", JSON, 400, "validation_error"),
    ("empty body", "", JSON, 400, "validation_error"),
    ("not UTF-8", b'{"external_id": "\xff"}', JSON, 400, "parse_error"),
    ("text/plain body", json.dumps(order_body()), "text/plain", 415, "unsupported_media_type"),
    ("form body", "external_id=A-1&member=c&amount=1&currency=EUR",
     "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
]  # fmt: skip


def raw(body) -> str | bytes:
    """Dicts and lists as JSON; strings and bytes are sent as they are."""
    if isinstance(body, (str, bytes)):
        return body
    return json.dumps(body)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_order_input_is_refused_and_leaves_no_trace(
    api, program, body, content_type, status, code
):
    response = api.generic("POST", ORDERS, raw(body), content_type=content_type)

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert isinstance(response.json()["detail"], str)
    assert response.json()["detail"]
    assert counts() == (0, 0, 0)


def test_validation_error_names_the_bad_fields(api, program):
    response = api.post(
        ORDERS, order_body(amount="abc", currency="EURO", member=None), format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"amount", "currency", "member"}


def test_bad_input_for_a_known_member_leaves_its_balance(api, member):
    response = api.post(ORDERS, order_body(member=member.external_id, amount="-5"), format="json")

    assert response.status_code == 400
    member.refresh_from_db()
    assert member.balance == 0
    assert not Order.objects.exists()


def test_deeply_nested_json_is_400_parse_error_and_leaves_no_trace(api, program):
    response = api.generic("POST", ORDERS, "[" * 100_000, content_type=JSON)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert counts() == (0, 0, 0)


def test_an_order_id_with_a_slash_is_refused_or_reachable(api, program):
    created = api.post(ORDERS, order_body(external_id="2024/0001"), format="json")
    if created.status_code == 400:
        return  # refusing such ids up front keeps the contract too

    assert created.status_code == 201
    assert api.get(f"{ORDERS}/2024%2F0001").status_code == 200
    refund = api.post(
        f"{ORDERS}/2024%2F0001/refunds", {"external_id": "R-1", "amount": "1.00"}, format="json"
    )
    assert refund.status_code == 201


def test_a_member_id_with_a_slash_is_refused_or_reachable(api, program):
    created = api.post(ORDERS, order_body(member="shop/42"), format="json")
    if created.status_code == 400:
        return  # refusing such ids up front keeps the contract too

    assert created.status_code == 201
    response = api.get("/api/v1/members/shop%2F42")
    assert response.status_code == 200
    assert response.json()["balance"] == 1234
