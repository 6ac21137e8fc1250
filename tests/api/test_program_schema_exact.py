"""PUT /program's rule lists as the document states them (issue #21, point 5): what the schema
calls valid the API takes, what it refuses the API refuses, and the rules between items that
JSON Schema cannot state are in the fields' words (and are all the fuzz test filters)."""

import jsonschema
import pytest
from rest_framework.test import APIClient

from tests.api.test_schema_docs import resolve
from tests.api.test_schemathesis import rule_lists_break_a_rule
from tests.factories import ProgramFactory, api_key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc():
    return APIClient().get("/api/v1/schema/", {"format": "json", "currency": "EUR"}).json()


@pytest.fixture
def api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(ProgramFactory())}")
    return client


def valid(doc, component: str, value) -> bool:
    try:
        jsonschema.validate(value, resolve(doc, doc["components"]["schemas"][component]))
    except jsonschema.ValidationError:
        return False
    return True


RULES = [
    ({"kind": "signup", "name": "Welcome", "parameters": {"points": 100}}, True),
    ({"kind": "referral", "name": "Friends",
      "parameters": {"referrer_points": 50, "referred_points": 25}}, True),
    ({"kind": "product_bonus", "name": "Mugs", "parameters": {"sku": "MUG-1", "multiplier": "1.5"}},
     True),
    ({"kind": "category_bonus", "name": "Coffee",
      "parameters": {"category": "coffee", "points_per_unit": 5, "multiplier": 2}}, True),
    ({"kind": "exclusion", "name": "No gift cards", "parameters": {"category": "gift-cards"}},
     True),
    ({"kind": "signup", "name": "Welcome", "parameters": {"referrer_points": 5,
                                                          "referred_points": 5}}, False),
    ({"kind": "product_bonus", "name": "Mugs", "parameters": {"sku": "MUG-1"}}, False),
    ({"kind": "product_bonus", "name": "Mugs", "parameters": {"sku": "MUG-1", "multiplier": "1"}},
     False),
    ({"kind": "exclusion", "name": "Both", "parameters": {"sku": "A", "category": "b"}}, False),
    ({"kind": "cap_day", "name": "Cap", "parameters": {"points": 0}}, False),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "ok"), RULES)
def test_an_earning_rules_parameters_follow_its_kind_in_the_schema_and_the_api(doc, api, rule, ok):
    assert valid(doc, "EarningRuleRequest", rule) is ok

    response = api.put("/api/v1/program", {"earning_rules": [rule]}, format="json")

    assert response.status_code == (200 if ok else 400), response.json()


CAMPAIGN = {"name": "Spring", "start_date": "2026-03-01", "end_date": "2026-03-31",
            "multiplier": "2"}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "ok"),
    [({}, True), ({"segment": {"locale": "es", "consent_email": True,
                               "created_at__gte": "2025-01-01"}}, True),
     ({"name_i18n": {"es": "Primavera"}}, True), ({"name_i18n": ""}, True),
     ({"multiplier": "0.5"}, False), ({"segment": {"password": "x"}}, False),
     ({"segment": {"consent_email__in": [True]}}, False),
     ({"name_i18n": {"xx": "?"}}, False), ({"name_i18n": {"es": "a\x00"}}, False),
     ({"segment": {"name": "a\x00"}}, False)],
)  # fmt: skip
def test_a_campaign_is_what_the_schema_says(doc, api, change, ok):
    campaign = {**CAMPAIGN, **change}

    assert valid(doc, "CampaignRequest", campaign) is ok
    response = api.put("/api/v1/program", {"campaigns": [campaign]}, format="json")
    assert response.status_code == (200 if ok else 400), response.json()


def test_a_nul_in_a_text_per_language_is_refused_not_a_server_error(api):
    tier = {"name": "Gold", "min_points": 100, "benefits_i18n": {"es": ["a\x00b"]}}

    response = api.put("/api/v1/program", {"tiers": [tier]}, format="json")

    assert response.status_code == 400
    assert "tiers.0.benefits_i18n" in response.json()["fields"]


def test_a_number_where_text_is_due_is_refused(api):
    response = api.put("/api/v1/members/cus_1", {"name": 42}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()["fields"]


@pytest.mark.parametrize(
    ("body", "breaks"),
    [({"tiers": [{"name": "Gold", "min_points": 1}, {"name": " gold ", "min_points": 2}]}, True),
     ({"tiers": [{"name": "Gold", "min_points": 1}, {"name": "Silver", "min_points": 1}]}, True),
     ({"tiers": [{"name": "Gold", "min_points": 1}, {"name": "Silver", "min_points": 2}]}, False),
     ({"thresholds": [{"points": 5, "coupon": {"kind": "fixed", "value": "5"}}] * 2}, True),
     ({"thresholds": [{"points": 5, "coupon": {"kind": "percent", "value": "150"}}]}, True),
     ({"thresholds": [{"points": 5, "coupon": {"kind": "percent", "value": "15"}}]}, False),
     ({"campaigns": [{**CAMPAIGN, "end_date": "2026-02-01"}]}, True),
     ({"campaigns": [{**CAMPAIGN, "multiplier": "1"}]}, True),
     ({"campaigns": [{**CAMPAIGN, "multiplier": "1", "fixed_bonus": 5}]}, False),
     ({"campaigns": [CAMPAIGN], "earning_rules": []}, False)],
)  # fmt: skip
def test_the_fuzz_filter_leaves_out_only_the_rules_between_items(api, body, breaks):
    assert rule_lists_break_a_rule(body) is breaks
    # what it leaves out the API refuses; what it keeps the API takes
    response = api.put("/api/v1/program", body, format="json")
    assert response.status_code == (400 if breaks else 200), response.json()


@pytest.mark.parametrize(
    ("component", "field", "words"),
    [("TierRequest", "name", "Unique among the program's tiers, in any case"),
     ("TierRequest", "min_points", "no two tiers at the same points"),
     ("ThresholdInRequest", "points", "no two thresholds at the same points"),
     ("CampaignRequest", "end_date", "not before `start_date`"),
     ("CampaignRequest", "multiplier", "a multiplier above 1, a `fixed_bonus`, or both")],
)  # fmt: skip
def test_each_filtered_rule_is_stated_where_an_integrator_reads_it(doc, component, field, words):
    assert words in doc["components"]["schemas"][component]["properties"][field]["description"]


def test_put_program_documents_what_its_data_may_refuse(doc):
    responses = doc["paths"]["/api/v1/program"]["put"]["responses"]

    assert responses["422"]["x-error-codes"] == ["validity_mode_locked", "currency_locked"]
