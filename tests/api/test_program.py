"""Program configuration over HTTP (scope ``manage``): read, change any subset, refuse bad values.

API.md, Program configuration: GET|PUT /api/v1/program, the same settings the
admin edits.
"""

from decimal import Decimal

import pytest

from loyalty.models import Program
from tests.factories import ProgramFactory

PROGRAM = "/api/v1/program"
FIELDS = {
    "name", "currency", "earn_rate", "points_validity_days", "reset_validity_on_order",
    "reminder_offsets_days",
}  # fmt: skip


def order(api, external_id: str = "A-1", amount: str = "10.00", currency: str = "EUR"):
    body = {"external_id": external_id, "member": "cust-1", "amount": amount, "currency": currency}
    return api.post("/api/v1/orders", body, format="json")


def test_get_program_has_the_contract_shape(api, program):
    response = api.get(PROGRAM)

    assert response.status_code == 200
    body = response.json()
    assert FIELDS <= set(body)
    assert body["name"] == program.name
    assert body["currency"] == "EUR"
    assert Decimal(body["earn_rate"]) == Decimal("10")
    assert body["points_validity_days"] == 365
    assert body["reset_validity_on_order"] is True
    assert body["reminder_offsets_days"] == [60, 30, 14, 7]


def test_put_changes_only_the_fields_sent(api, program):
    before = api.get(PROGRAM).json()

    response = api.put(PROGRAM, {"earn_rate": "2.5"}, format="json")

    assert response.status_code == 200, response.content
    assert Decimal(response.json()["earn_rate"]) == Decimal("2.5")
    assert {k: v for k, v in response.json().items() if k != "earn_rate"} == {
        k: v for k, v in before.items() if k != "earn_rate"
    }
    program.refresh_from_db()
    assert program.earn_rate == Decimal("2.5")


def test_an_order_after_an_earn_rate_change_earns_at_the_new_rate(api, program):
    assert order(api, "A-1").json()["points_earned"] == 100

    api.put(PROGRAM, {"earn_rate": "2.5"}, format="json")

    assert order(api, "A-2").json()["points_earned"] == 25


def test_put_answers_the_new_settings_and_get_reads_them_back(api, program):
    change = {
        "name": "Club",
        "points_validity_days": None,
        "reset_validity_on_order": False,
        "reminder_offsets_days": [7, 30],
    }

    response = api.put(PROGRAM, change, format="json")

    assert response.status_code == 200, response.content
    again = api.get(PROGRAM).json()
    assert again == response.json()
    assert again["name"] == "Club"
    assert again["points_validity_days"] is None
    assert again["reset_validity_on_order"] is False
    assert sorted(again["reminder_offsets_days"]) == [7, 30]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"earn_rate": "-1"}, "earn_rate"),
        ({"earn_rate": "abc"}, "earn_rate"),
        ({"earn_rate": "NaN"}, "earn_rate"),
        ({"earn_rate": None}, "earn_rate"),
        ({"earn_rate": "100001"}, "earn_rate"),
        ({"earn_rate": "0.00001"}, "earn_rate"),
        ({"points_validity_days": 0}, "points_validity_days"),
        ({"points_validity_days": -30}, "points_validity_days"),
        ({"points_validity_days": "soon"}, "points_validity_days"),
        ({"reminder_offsets_days": 7}, "reminder_offsets_days"),
        ({"reminder_offsets_days": "7,14"}, "reminder_offsets_days"),
        ({"reminder_offsets_days": {"days": 7}}, "reminder_offsets_days"),
        ({"reminder_offsets_days": [7, "x"]}, "reminder_offsets_days"),
        ({"reminder_offsets_days": [0]}, "reminder_offsets_days"),
        ({"reminder_offsets_days": list(range(1, 14))}, "reminder_offsets_days"),
        ({"currency": "EURO"}, "currency"),
        ({"name": ""}, "name"),
        ({"reset_validity_on_order": "sometimes"}, "reset_validity_on_order"),
    ],
)
def test_invalid_setting_is_400_validation_error_and_changes_nothing(api, program, change, field):
    before = Program.objects.values().get(pk=program.pk)

    response = api.put(PROGRAM, {"name": "Changed too", **change}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert Program.objects.values().get(pk=program.pk) == before


def test_currency_changes_while_there_are_no_orders(api, program):
    response = api.put(PROGRAM, {"currency": "usd"}, format="json")

    assert response.status_code == 200
    assert response.json()["currency"] == "USD"
    assert order(api, currency="USD").status_code == 201


def test_currency_change_after_orders_is_422_currency_locked(api, program):
    order(api)

    response = api.put(PROGRAM, {"currency": "USD", "name": "Changed too"}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "currency_locked"
    program.refresh_from_db()
    assert (program.currency, program.name) == ("EUR", program.name)
    assert program.name != "Changed too"


def test_sending_the_current_currency_after_orders_is_fine(api, program):
    order(api)

    response = api.put(PROGRAM, {"currency": "EUR", "earn_rate": "3"}, format="json")

    assert response.status_code == 200


def test_program_change_does_not_reach_another_merchant(api, api_for, program):
    other = ProgramFactory()

    api.put(PROGRAM, {"earn_rate": "1"}, format="json")

    other.refresh_from_db()
    assert other.earn_rate == Decimal("10")
    assert Decimal(api_for(other).get(PROGRAM).json()["earn_rate"]) == Decimal("10")
