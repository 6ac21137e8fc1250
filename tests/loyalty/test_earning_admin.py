"""The backoffice of earning: staff add rules and campaigns to their own program (checked
like the API), see the stacking rule, transfers and the feedback average; never another
merchant's."""

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.models import Campaign, EarningRule
from loyalty.services.feedback import feedback_submit
from tests.factories import MemberFactory, ProgramFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    program = ProgramFactory()
    staff = StaffFactory(merchant=program.merchant)
    client = Client()
    client.force_login(staff)
    return client, program


def test_staff_add_a_rule_to_their_program(staff_client):
    client, program = staff_client

    response = client.post(
        reverse("admin:loyalty_earningrule_add") + "?kind=signup",
        {"name": "Welcome", "active": "on", "points": "100"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = EarningRule.objects.get()
    assert (rule.program, rule.parameters) == (program, {"points": 100})


def test_bad_rule_parameters_show_on_the_form(staff_client):
    client, _program = staff_client

    response = client.post(
        reverse("admin:loyalty_earningrule_add") + "?kind=signup",
        {"name": "Welcome", "points": "-5"},
    )

    assert response.status_code == 200
    assert not EarningRule.objects.exists()
    assert response.context["adminform"].form.errors == {
        "points": ["Ensure this value is greater than or equal to 1."]
    }


def test_campaign_pages_show_the_stacking_rule_and_refuse_bad_dates(staff_client):
    client, _program = staff_client
    fields = {
        "name": "Weekend",
        "active": "on",
        "start_date": "2026-12-05",
        "end_date": "2026-12-06",
        "multiplier": "2",
        "fixed_bonus": "0",
        "min_order_amount": "0",
    }

    refused = client.post(
        reverse("admin:loyalty_campaign_add"), {**fields, "end_date": "2026-12-01"}
    )
    added = client.post(reverse("admin:loyalty_campaign_add"), fields)
    listing = client.get(reverse("admin:loyalty_campaign_changelist"))

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "end_date": ["The campaign must end on or after its first day."]
    }
    assert added.status_code == 302
    assert Campaign.objects.count() == 1
    assert "multiply each other" in listing.content.decode()


def test_another_merchants_rules_are_not_shown(staff_client):
    client, _program = staff_client
    other = EarningRule.objects.create(
        program=ProgramFactory(), kind="signup", name="Theirs", parameters={"points": 1}
    )

    listing = client.get(reverse("admin:loyalty_earningrule_changelist"))
    page = client.get(reverse("admin:loyalty_earningrule_change", args=[other.pk]))

    assert "Theirs" not in listing.content.decode()
    assert page.status_code == 302  # Django's "does not exist" redirect to the index


def test_feedback_list_shows_the_average(staff_client):
    client, program = staff_client
    feedback_submit(member=MemberFactory(program=program), rating=5, wanted_rewards="Free coffee")
    feedback_submit(member=MemberFactory(program=program), rating=2)
    feedback_submit(member=MemberFactory(), rating=1)  # another merchant's

    page = client.get(reverse("admin:loyalty_feedback_changelist")).content.decode()

    assert "Average rating 3.5 of 5 from 2 answers" in page
    assert "Free coffee" in page
