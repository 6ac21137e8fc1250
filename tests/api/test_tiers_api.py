"""Tiers through the HTTP API: program configuration, the member's tier fields, tier history,
the rating on PUT /members, counting grants, and the badge card (JSON and public page)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import Member
from loyalty.services.tier_job import tiers_evaluate
from loyalty.services.tier_settings import tiers_seed_defaults
from loyalty.services.tiers import tier_override
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

TIERS = [
    {"name": "Gold", "min_points": 200, "window_days": 90, "earn_multiplier": "1.1"},
    {
        "name": "Platinum",
        "min_points": 1000,
        "window_days": 90,
        "earn_multiplier": "1.5",
        "badge": "#7f8c8d",
        "benefits": ["Early access to sales"],
        "flags": ["early_access"],
        "name_i18n": {},
        "benefits_i18n": {},
    },
    {"name": "Star", "min_points": 3000, "window_days": 30, "min_rating": "4.7"},
]


def post_order(api, external_id, amount, member="m-1", **extra):
    body = {"external_id": external_id, "member": member, "amount": amount, "currency": "EUR"}
    response = api.post("/api/v1/orders", {**body, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_put_program_replaces_tiers_and_get_shows_them(api):
    response = api.put(
        "/api/v1/program",
        {"tiers": TIERS, "tier_grace_days": 7, "tier_notice_days": 10},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = api.get("/api/v1/program").json()
    assert body["tier_grace_days"] == 7
    assert body["tier_notice_days"] == 10
    assert [t["name"] for t in body["tiers"]] == ["Gold", "Platinum", "Star"]
    platinum = body["tiers"][1]
    assert platinum == {
        "name": "Platinum",
        "min_points": 1000,
        "window_days": 90,
        "earn_multiplier": "1.500",
        "min_rating": None,
        "badge": "#7f8c8d",
        "benefits": ["Early access to sales"],
        "flags": ["early_access"],
        "name_i18n": {},
        "benefits_i18n": {},
        "perk": None,
    }
    assert body["tiers"][2]["min_rating"] == "4.70"


@pytest.mark.parametrize(
    ("tier", "field"),
    [
        ({"name": "Gold", "min_points": -1}, "tiers.0.min_points"),
        ({"name": "Gold", "min_points": 10, "earn_multiplier": "0.5"}, "tiers.0.earn_multiplier"),
        ({"name": "Gold", "min_points": 10, "window_days": 0}, "tiers.0.window_days"),
        ({"name": "Gold", "min_points": 10, "flags": ["Early Access"]}, "tiers.0.flags.0"),
        ({"min_points": 10}, "tiers.0.name"),
    ],
)
def test_put_program_refuses_bad_tiers_and_changes_nothing(api, program, tier, field):
    tiers_seed_defaults(program=program)
    response = api.put("/api/v1/program", {"tiers": [tier], "name": "New"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    program.refresh_from_db()
    assert program.name != "New"
    assert program.tiers.count() == 3


def test_two_tiers_at_the_same_points_are_refused(api):
    tiers = [{"name": "A", "min_points": 10}, {"name": "B", "min_points": 10}]
    response = api.put("/api/v1/program", {"tiers": tiers}, format="json")
    assert response.status_code == 400
    assert "tiers.1.min_points" in response.json()["fields"]


def test_member_detail_shows_tier_next_tier_safe_until_and_flags(api, program):
    api.put("/api/v1/program", {"tiers": TIERS}, format="json")
    program.earn_rate = Decimal(1)
    program.save()
    placed = timezone.now() - timedelta(days=10)
    post_order(api, "A-1", "1200.00", placed_at=placed.isoformat())
    body = api.get("/api/v1/members/m-1").json()
    assert body["tier"] == "Platinum"
    assert body["flags"] == ["early_access"]
    assert body["tier_benefits"] == ["Early access to sales"]
    assert body["tier_earn_multiplier"] == "1.500"
    assert body["tier_badge"] == "#7f8c8d"
    safe_until = timezone.localdate(placed + timedelta(days=90)).isoformat()
    assert body["tier_safe_until"] == safe_until
    assert body["tier_keep"] == {"points_needed": 1000, "by": safe_until}
    assert body["next_tier"] == {
        "name": "Star",
        "name_i18n": {},
        "points_missing": 1800,
        "min_points": 3000,
        "window_points": 1200,
        "min_rating": "4.70",
    }


def test_member_without_tiers_has_null_tier_and_empty_flags(api):
    post_order(api, "A-1", "10.00")
    body = api.get("/api/v1/members/m-1").json()
    assert body["tier"] is None
    assert body["flags"] == []
    assert body["tier_safe_until"] is None
    assert body["next_tier"] is None


def test_member_detail_queries_do_not_grow_with_orders(api, program):
    tiers_seed_defaults(program=program)
    post_order(api, "A-1", "10.00")
    with CaptureQueriesContext(connection) as few:
        assert api.get("/api/v1/members/m-1").status_code == 200
    for n in range(2, 12):
        post_order(api, f"A-{n}", "10.00")
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/v1/members/m-1").status_code == 200
    assert len(many) == len(few)


def test_the_ledger_reason_shows_the_multiplier(api, program):
    api.put("/api/v1/program", {"tiers": TIERS, "earn_rate": "10"}, format="json")
    post_order(api, "A-0", "100.00")  # 1000 points: Platinum from now on
    order = post_order(api, "A-1", "1.00")
    assert order["points_earned"] == 15
    ledger = api.get("/api/v1/members/m-1/ledger").json()["results"]
    assert ledger[0]["reason"] == "Order #A-1: 1.00 EUR x 10 points x 1.5 Platinum = 15 points"


def test_tier_history_lists_changes_newest_first(api, program):
    api.put("/api/v1/program", {"tiers": TIERS, "earn_rate": "1"}, format="json")
    post_order(api, "A-1", "250.00")
    post_order(api, "A-2", "900.00")
    member = Member.objects.get(external_id="m-1")
    member.program = program
    tier_override(
        member=member, tier=None, reason="Fraud check", until=timezone.now() + timedelta(days=3)
    )
    response = api.get("/api/v1/members/m-1/tier-history")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["kind"], r["from_tier"], r["to_tier"]) for r in rows] == [
        ("override", "Platinum", None),
        ("up", "Gold", "Platinum"),
        ("up", None, "Gold"),
    ]
    assert rows[0]["reason"] == "Fraud check"
    assert rows[0]["until"] is not None


def test_tier_history_of_another_merchants_member_is_404(api, api_for):
    other = ProgramFactory()
    post_order(api_for(other), "A-1", "10.00", member="theirs")
    response = api.get("/api/v1/members/theirs/tier-history")
    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_put_member_sets_the_rating_and_it_gates_a_tier(api, program):
    api.put(
        "/api/v1/program",
        {"tiers": [{"name": "Star", "min_points": 10, "min_rating": "4.7"}], "earn_rate": "1"},
        format="json",
    )
    response = api.put("/api/v1/members/m-1", {"rating": "4.5"}, format="json")
    assert response.status_code == 201
    assert response.json()["rating"] == "4.50"
    post_order(api, "A-1", "20.00")
    assert api.get("/api/v1/members/m-1").json()["tier"] is None
    api.put("/api/v1/members/m-1", {"rating": "4.8"}, format="json")
    tiers_evaluate()  # a new rating counts at the daily evaluation
    assert api.get("/api/v1/members/m-1").json()["tier"] == "Star"
    bad = api.put("/api/v1/members/m-1", {"rating": "-1"}, format="json")
    assert bad.status_code == 400
    assert "rating" in bad.json()["fields"]


def test_a_grant_counts_toward_tiers_only_when_it_says_so(api, program):
    api.put("/api/v1/program", {"tiers": TIERS}, format="json")
    post_order(api, "A-1", "0.10")
    grant = {"points": 300, "reason": "Welcome"}
    assert api.post("/api/v1/members/m-1/grants", grant, format="json").status_code == 201
    assert api.get("/api/v1/members/m-1").json()["tier"] is None
    counted = {**grant, "counts_for_tier": True}
    assert api.post("/api/v1/members/m-1/grants", counted, format="json").status_code == 201
    assert api.get("/api/v1/members/m-1").json()["tier"] == "Gold"


def test_badge_card_is_off_until_turned_on_and_has_an_unguessable_url(api, client, program):
    tiers_seed_defaults(program=program)
    program.earn_rate = Decimal(1)
    program.save()
    post_order(api, "A-1", "250.00")
    post_order(api, "A-2", "5.00")
    card = api.get("/api/v1/members/m-1/badge").json()
    assert card["enabled"] is False
    assert card["url"] is None
    assert card["tier"] == "Gold"
    assert card["orders"] == 2
    on = api.put("/api/v1/members/m-1/badge", {"enabled": True}, format="json").json()
    assert on["enabled"] is True
    url = on["url"]
    token = url.rstrip("/").rsplit("/", 1)[-1]
    assert len(token) >= 32
    page = client.get(f"/badge/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Gold" in html
    assert "m-1" not in html  # nothing that identifies the member
    assert page["X-Robots-Tag"] == "noindex"
    # Off: the same address is a 404, like any made-up one; on again: the same address.
    api.put("/api/v1/members/m-1/badge", {"enabled": False}, format="json")
    assert client.get(f"/badge/{token}/").status_code == 404
    assert client.get("/badge/not-a-token/").status_code == 404
    again = api.put("/api/v1/members/m-1/badge", {"enabled": True}, format="json").json()
    assert again["url"] == url


def test_badge_put_needs_a_boolean(api):
    post_order(api, "A-1", "5.00")
    response = api.put("/api/v1/members/m-1/badge", {}, format="json")
    assert response.status_code == 400
    assert "enabled" in response.json()["fields"]


def test_schema_documents_the_tier_endpoints(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/members/{external_id}/tier-history" in schema["paths"]
    assert "/api/v1/members/{external_id}/badge" in schema["paths"]
    member = schema["components"]["schemas"]["Member"]["properties"]
    assert {"tier", "tier_safe_until", "tier_keep", "flags", "next_tier"} <= set(member)
