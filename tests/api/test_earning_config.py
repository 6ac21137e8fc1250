"""Earning rules, campaigns and transfer settings through ``GET|PUT /api/v1/program``;
birth dates and referrals through ``PUT /members/{id}``; transfers through
``POST /members/{id}/transfers``."""

import pytest

from loyalty.models import Campaign, EarningRule, LedgerEntry, Member
from tests.factories import MemberFactory

PROGRAM = "/api/v1/program"
RULES = [
    {"kind": "signup", "name": "Welcome", "parameters": {"points": 100}},
    {"kind": "cap_day", "name": "Daily cap", "parameters": {"points": 5000}},
    {"kind": "product_bonus", "name": "Coffee", "parameters": {"sku": "C", "points_per_unit": 5}},
]
CAMPAIGNS = [
    {
        "name": "December +500",
        "start_date": "2026-12-01",
        "end_date": "2026-12-31",
        "fixed_bonus": 500,
        "min_order_amount": "80.00",
        "segment": {"locale__in": ["es", "en"]},
    }
]


def test_put_program_replaces_rules_and_campaigns(api, program):
    response = api.put(
        PROGRAM,
        {"earning_rules": RULES, "campaigns": CAMPAIGNS, "time_zone": "Europe/Madrid"},
        format="json",
    )

    assert response.status_code == 200, response.content
    out = response.json()
    assert {r["name"] for r in out["earning_rules"]} == {"Welcome", "Daily cap", "Coffee"}
    assert out["campaigns"][0]["fixed_bonus"] == 500
    assert out["campaigns"][0]["multiplier"] == "1.00"
    assert out["time_zone"] == "Europe/Madrid"
    assert "multiply" in out["stacking_rule"]
    assert api.get(PROGRAM).json()["earning_rules"] == out["earning_rules"]

    api.put(PROGRAM, {"earning_rules": []}, format="json")
    assert not EarningRule.objects.exists()
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"earning_rules": [{"kind": "signup", "name": "x", "parameters": {"points": -1}}]},
         "earning_rules.0.parameters"),
        ({"campaigns": [{**CAMPAIGNS[0], "segment": {"program__merchant": 1}}]},
         "campaigns.0.segment"),
        ({"campaigns": [{**CAMPAIGNS[0], "end_date": "2026-11-01"}]}, "campaigns.0.end_date"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ],
)  # fmt: skip
def test_bad_rules_change_nothing(api, program, change, field):
    api.put(PROGRAM, {"earning_rules": RULES}, format="json")

    response = api.put(PROGRAM, {"name": "Renamed", **change}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    program.refresh_from_db()
    assert program.name != "Renamed"
    assert EarningRule.objects.count() == 3


def test_member_birth_date_and_referral_by_put(api, program):
    MemberFactory(program=program, external_id="alice")

    created = api.put(
        "/api/v1/members/bob",
        {"birth_date": "1990-02-28", "referred_by": "alice"},
        format="json",
    )
    kept = api.put("/api/v1/members/bob", {"name": "Bob"}, format="json")
    looped = api.put("/api/v1/members/alice", {"referred_by": "bob"}, format="json")

    assert created.status_code == 201
    assert kept.status_code == 200
    bob = Member.objects.get(external_id="bob")
    assert str(bob.birth_date) == "1990-02-28"
    assert bob.referred_by.external_id == "alice"
    assert looped.status_code == 400
    assert "referred_by" in looped.json()["fields"]


def test_transfer_over_the_api_once_per_idempotency_key(api, program):
    program.transfers_enabled = True
    program.save()
    MemberFactory(program=program, external_id="ann")
    MemberFactory(program=program, external_id="ben")
    api.post("/api/v1/members/ann/grants", {"points": 500, "reason": "Start"}, format="json")

    def send():
        return api.post(
            "/api/v1/members/ann/transfers",
            {"to": "ben", "points": 200, "note": "For you"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="t-1",
        )

    first, again = send(), send()

    assert first.status_code == 201, first.content
    assert first.json() == again.json()
    assert (first.json()["balance"], first.json()["recipient_balance"]) == (300, 200)
    assert LedgerEntry.objects.filter(kind__startswith="transfer").count() == 2


def test_transfer_refusals_over_the_api(api, program):
    MemberFactory(program=program, external_id="ann")
    MemberFactory(program=program, external_id="ben")

    disabled = api.post("/api/v1/members/ann/transfers", {"to": "ben", "points": 1}, format="json")
    program.transfers_enabled = True
    program.save()
    poor = api.post("/api/v1/members/ann/transfers", {"to": "ben", "points": 1}, format="json")
    unknown = api.post("/api/v1/members/zed/transfers", {"to": "ben", "points": 1}, format="json")

    assert (disabled.status_code, disabled.json()["code"]) == (422, "transfers_disabled")
    assert (poor.status_code, poor.json()["code"]) == (422, "insufficient_points")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "member_not_found")
