"""The live example on an earning rule's and a campaign's page (issue #20): the order is put
through the program's rules with the rule or campaign as its form holds it, unsaved; a form
its save would refuse gets the reasons in the example's place (never a 500); nothing is
saved; staff of the program only, managers (who may change rules) only."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty.errors import InvalidInput
from loyalty.models import AuditEntry, Campaign, EarningRule, Order
from loyalty.services.merchants import merchant_create
from loyalty.services.quote_example import earning_example
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return merchant_create(slug="acme", name="Acme", currency="EUR").program


def manager(program, role="manager"):
    client = Client()
    client.force_login(StaffFactory(merchant=program.merchant, role=role))
    return client


def campaign_data(**changes):
    data = {
        "name": "Double",
        "name_i18n_es": "",
        "active": "on",
        "start_date": "2020-01-01",
        "end_date": "2099-12-31",
        "multiplier": "2",
        "fixed_bonus": "0",
        "min_order_amount": "",
        "segment_consent_email": "",
        "example_amount": "50",
        "example_tier": "",
    }
    return {**data, **changes}


def saved_campaign(program, **fields):
    values = {"name": "Double", "start_date": date(2020, 1, 1), "end_date": date(2099, 12, 31),
              "multiplier": Decimal(2), **fields}  # fmt: skip
    return Campaign.objects.create(program=program, **values)


# --- the service ---------------------------------------------------------------------------


def test_an_unsaved_rule_counts_in_place_of_its_saved_self(program):
    saved = EarningRule.objects.create(program=program, kind="cap_day", name="Cap",
                                       parameters={"points": 400})  # fmt: skip
    typed = EarningRule.objects.get(pk=saved.pk)
    typed.parameters = {"points": 100}

    assert earning_example(program=program, amount="50").earning.total == 400
    assert earning_example(program=program, amount="50", rule=typed).earning.total == 100
    saved.refresh_from_db()
    assert saved.parameters == {"points": 400}


def test_an_unsaved_rule_its_save_would_refuse_is_refused_by_field(program):
    rule = EarningRule(program=program, kind="cap_day", name="Cap", parameters={"points": -3})

    with pytest.raises(InvalidInput) as refused:
        earning_example(program=program, amount="50", rule=rule)

    assert "points" in str(refused.value.fields) or "parameters" in refused.value.fields


def test_an_inactive_draft_takes_its_saved_self_out(program):
    saved = saved_campaign(program)
    typed = Campaign.objects.get(pk=saved.pk)
    typed.active = False

    assert earning_example(program=program, amount="50").earning.total == 1000
    assert earning_example(program=program, amount="50", campaign=typed).earning.total == 500


def test_a_campaign_that_starts_later_is_shown_on_its_first_day_for_a_member_it_is_for(program):
    start = timezone.localdate() + timedelta(days=40)
    draft = Campaign(program=program, name="Later", start_date=start,
                     end_date=start + timedelta(days=2), multiplier=Decimal(3),
                     segment={"email__endswith": "@acme.com", "locale__in": ["es"]})  # fmt: skip

    shown = earning_example(program=program, amount="50", campaign=draft)

    assert shown.earning.total == 1500
    assert shown.placed_on == start
    assert not Campaign.objects.exists()


# --- the pages -----------------------------------------------------------------------------


def test_the_rule_page_example_counts_the_rule_as_typed_and_saves_nothing(program):
    url = reverse("admin:loyalty_earningrule_add_example") + "?kind=product_bonus"
    data = {"name": "Mugs", "active": "on", "sku": "MUG-1", "points_per_unit": "25",
            "example_amount": "50", "example_tier": ""}  # fmt: skip

    response = manager(program).post(url, data)

    assert response.status_code == 200, response.text
    assert response.context["example"].earning.total == 525
    assert "Mugs" in response.text or "MUG-1" in response.text
    assert not EarningRule.objects.exists()
    assert not Order.objects.exists()
    assert not AuditEntry.objects.exists()


def test_the_campaign_page_example_counts_the_unsaved_multiplier(program):
    saved = saved_campaign(program)
    url = reverse("admin:loyalty_campaign_example", args=[saved.pk])

    response = manager(program).post(url, campaign_data(multiplier="3", example_tier="Gold"))

    assert response.status_code == 200, response.text
    assert response.context["example"].earning.total == 1650  # 500 x 3 x 1.1 (Gold)
    saved.refresh_from_db()
    assert saved.multiplier == Decimal(2)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end_date": "2019-01-01"}, "must end on or after its first day"),
        ({"multiplier": "lots"}, "Enter a number"),
        ({"start_date": ""}, "This field is required"),
        ({"example_amount": "many"}, "Give an order amount"),
    ],
)
def test_a_campaign_as_typed_that_cannot_be_saved_gets_the_reason_not_a_500(
    program, changes, message
):
    url = reverse("admin:loyalty_campaign_add_example")

    response = manager(program).post(url, campaign_data(**changes))

    assert response.status_code == 400
    assert message in response.text
    assert not Campaign.objects.exists()


def test_the_pages_show_the_example_box(program):
    saved = saved_campaign(program)
    client = manager(program)

    rule_page = client.get(reverse("admin:loyalty_earningrule_add") + "?kind=signup")
    campaign_page = client.get(reverse("admin:loyalty_campaign_change", args=[saved.pk]))

    for page in (rule_page, campaign_page):
        assert 'id="earning-example"' in page.text
        assert "data-example-draft" in page.text
    assert '<option value="Platinum">' in campaign_page.text


def test_a_viewer_gets_no_example_and_another_merchant_none_either(program):
    saved = saved_campaign(program)
    url = reverse("admin:loyalty_campaign_example", args=[saved.pk])
    other = merchant_create(slug="other", name="Other", currency="EUR").program

    assert manager(program, "viewer").post(url, campaign_data()).status_code == 403
    assert manager(other).post(url, campaign_data()).status_code in (302, 404)
    assert manager(program).get(url).status_code == 405
    page = manager(program, "viewer").get(reverse("admin:loyalty_campaign_change", args=[saved.pk]))
    assert 'id="earning-example"' not in page.text


def test_a_rule_outside_orders_says_so_in_the_example(program):
    url = reverse("admin:loyalty_earningrule_add_example") + "?kind=signup"
    data = {"name": "Welcome", "active": "on", "points": "100", "example_amount": "50"}

    response = manager(program).post(url, data)

    assert response.status_code == 200
    assert response.context["example"].earning.total == 500
    assert 'data-testid="example-outside-orders"' in response.text
