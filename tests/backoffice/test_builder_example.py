"""The program page's live example (issue #20, point 2): an order amount and a tier put
through the program's real rules, with the earn rate and the tiers' multipliers as typed;
staff-only and scoped to the staff member's own program."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.models import Campaign, EarningRule, Order
from loyalty.services.merchants import merchant_create
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return merchant_create(slug="acme", name="Acme", currency="EUR").program


def example(client, program, **params):
    url = reverse("admin:loyalty_program_example", args=[program.pk])
    return client.get(url, params)


def manager(program, role="manager"):
    client = Client()
    client.force_login(StaffFactory(merchant=program.merchant, role=role))
    return client


def test_an_order_earns_the_earn_rate_times_the_amount(program):
    response = example(manager(program), program, amount="50")

    assert response.status_code == 200
    assert response.context["example"].earning.total == 500
    assert "earns <strong>500 points</strong>" in response.text
    assert not Order.objects.exists()  # nothing recorded


def test_a_tier_multiplies_and_the_page_values_count_before_saving(program):
    client = manager(program)

    saved = example(client, program, amount="50", tier="Platinum")
    typed = example(client, program, amount="50", tier="Platinum", tier_multiplier="3",
                    earn_rate="2")  # fmt: skip
    new_card = example(client, program, amount="10", tier="Silver", tier_multiplier="1.5")

    assert saved.context["example"].earning.total == 750
    assert typed.context["example"].earning.total == 300
    assert new_card.context["example"].earning.total == 150


def test_saved_rules_and_campaigns_count_and_the_calculation_is_shown(program):
    EarningRule.objects.create(program=program, kind="cap_day", name="Daily cap",
                               parameters={"points": 400})  # fmt: skip
    Campaign.objects.create(program=program, name="Double", start_date="2020-01-01",
                            end_date="2099-12-31", multiplier=Decimal(2))  # fmt: skip

    response = example(manager(program), program, amount="30")

    assert response.context["example"].earning.total == 400
    steps = response.context["example"].earning
    assert steps.base_points == 300
    assert "Double" in response.text
    assert "Daily cap" in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"amount": "lots"}, "Give an order amount"),
        ({"amount": "-5"}, "between 0 and"),
        ({"amount": "5", "earn_rate": "-1"}, "Give points per 1.00"),
        ({"amount": "5", "tier": "Gold", "tier_multiplier": "0.5"}, "multiplier from 1 to 100"),
    ],
)
def test_odd_input_gets_a_plain_error(program, params, message):
    response = example(manager(program), program, **params)

    assert response.status_code == 400
    assert message in response.text


def test_another_merchants_program_is_not_found(program):
    other = merchant_create(slug="other", name="Other", currency="EUR").program

    response = example(manager(program), other, amount="50")

    assert response.status_code in (302, 404)
    assert "example" not in (response.context or {})


def test_a_viewer_may_see_the_example_but_a_customer_may_not(program):
    assert example(manager(program, "viewer"), program, amount="5").status_code == 200
    anonymous = example(Client(), program, amount="5")
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]


def test_the_example_takes_only_get(program):
    url = reverse("admin:loyalty_program_example", args=[program.pk])
    assert manager(program).post(url, {"amount": "5"}).status_code == 405
