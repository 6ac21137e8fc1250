"""A tier's perk through the HTTP API: set as coupon terms on PUT /program, shown on GET, the
perk coupon with its allowance in the member's coupon list; a promotion's allowance per
customer at checkout."""

from decimal import Decimal

import pytest

from rewards.models import CouponTemplate
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db

PERK = {
    "kind": "free_shipping", "max_discount": "9.90", "valid_days": 365, "uses": 8,
    "allowance_uses": 2, "allowance_period": "quarter",
}  # fmt: skip


def put_tiers(api, tiers):
    return api.put("/api/v1/program", {"tiers": tiers}, format="json")


def test_a_tier_takes_its_perk_as_coupon_terms_and_shows_it(api, program):
    response = put_tiers(api, [{"name": "Gold", "min_points": 200, "perk": PERK}])

    assert response.status_code == 200, response.json()
    (gold,) = api.get("/api/v1/program").json()["tiers"]
    assert gold["perk"]["kind"] == "free_shipping"
    assert (gold["perk"]["allowance_uses"], gold["perk"]["allowance_period"]) == (2, "quarter")
    assert gold["perk"]["max_discount"] == "9.90"
    template = CouponTemplate.objects.get(pk=gold["perk"]["id"])
    assert template.program_id == program.pk


def test_sending_the_same_perk_again_keeps_its_template(api, program):
    put_tiers(api, [{"name": "Gold", "min_points": 200, "perk": PERK}])
    first = api.get("/api/v1/program").json()["tiers"][0]["perk"]["id"]

    put_tiers(api, [{"name": "Gold", "min_points": 200, "perk": {**PERK, "allowance_uses": 3}}])
    put_tiers(api, [{"name": "Gold", "min_points": 250}])  # not sent: kept

    perk = api.get("/api/v1/program").json()["tiers"][0]["perk"]
    assert (perk["id"], perk["allowance_uses"]) == (first, 3)
    assert CouponTemplate.objects.filter(program=program).count() == 1


def test_bad_perk_terms_are_refused_and_nothing_changes(api, program):
    response = put_tiers(
        api, [{"name": "Gold", "min_points": 200, "perk": {**PERK, "allowance_uses": 9}}]
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "tiers.0.perk.allowance_uses" in response.json()["fields"]
    assert program.tiers.count() == 0


def test_the_member_reaching_gold_sees_the_perk_and_its_allowance(api, program):
    program.earn_rate = Decimal(1)
    program.save()
    put_tiers(api, [{"name": "Gold", "min_points": 200, "perk": PERK}])
    body = {"external_id": "A", "member": "m-1", "amount": "250.00", "currency": "EUR"}
    assert api.post("/api/v1/orders", body, format="json").status_code == 201

    (coupon,) = api.get("/api/v1/members/m-1/coupons").json()["results"]

    assert (coupon["source"], coupon["member"], coupon["kind"]) == ("perk", "m-1", "free_shipping")
    assert coupon["allowance"]["left"] == 2
    assert coupon["uses_left"] == 8


def test_a_promotion_with_an_allowance_needs_the_member_at_checkout(api, program):
    coupon = CouponFactory(program=program, member=None, source="promotion", uses_allowed=50,
                           allowance_uses=2, allowance_period="quarter")  # fmt: skip
    body = {"order_amount": "40.00", "currency": "EUR"}

    refused = api.post(f"/api/v1/coupons/{coupon.code}/validate", body, format="json")
    ann = api.post(f"/api/v1/coupons/{coupon.code}/validate", {**body, "member": "ann"},
                   format="json")  # fmt: skip

    assert refused.status_code == 422
    assert refused.json()["code"] == "coupon_member_required"
    assert ann.status_code == 200
    assert ann.json()["coupon"]["allowance"]["left"] == 2


def test_a_promotions_allowance_is_each_customers(api, program):
    coupon = CouponFactory(program=program, member=None, source="promotion", uses_allowed=50,
                           allowance_uses=2, allowance_period="quarter")  # fmt: skip
    url = f"/api/v1/coupons/{coupon.code}/redeem"

    def redeem(order, member):
        body = {"order": order, "order_amount": "40.00", "currency": "EUR", "member": member}
        return api.post(url, body, format="json")

    assert redeem("O-1", "ann").json()["coupon"]["allowance"]["left"] == 1
    assert redeem("O-2", "ann").json()["coupon"]["allowance"]["left"] == 0
    third = redeem("O-3", "ann")
    bob = redeem("O-4", "bob")

    assert third.json()["code"] == "coupon_allowance_used_up"
    assert bob.status_code == 200
    assert bob.json()["coupon"]["allowance"]["left"] == 1
