"""A member's coupons over HTTP: where they come from, how they look, how to list and give them.

API.md: a coupon is ``{code, kind, value, max_discount, min_order_amount,
currency, valid_from, valid_until, status, member}``; ``GET
/members/{external_id}/coupons?status=...`` lists them as a cursor page; ``POST
/members/{external_id}/coupons`` (scope manage) gives one with a reason. An order
or grant that reaches a reward threshold lists its coupons in ``coupons_issued``,
and the ledger shows the conversion as a ``reward`` entry naming the coupon.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.models import LedgerEntry
from loyalty.services.coupon_voids import coupon_void
from loyalty.services.points import points_grant
from rewards.models import Coupon, CouponEvent
from rewards.services.coupons import CouponTerms, coupon_issue
from rewards.services.thresholds import thresholds_replace
from tests.factories import MemberFactory, ProgramFactory

ORDERS = "/api/v1/orders"
COUPON_FIELDS = {
    "code", "kind", "value", "max_discount", "min_order_amount", "currency", "valid_from",
    "valid_until", "status", "member", "uses_allowed", "uses_count", "source", "terms",
}  # fmt: skip


def coupons_url(external_id: str, query: str = "") -> str:
    return f"/api/v1/members/{external_id}/coupons{query}"


def order(api, external_id: str, amount: str, member: str = "cust-1"):
    body = {"external_id": external_id, "member": member, "amount": amount, "currency": "EUR"}
    return api.post(ORDERS, body, format="json")


def reward_at(program, points: int = 500, **coupon) -> None:
    thresholds_replace(
        program=program,
        thresholds=[{"points": points, "coupon": {"kind": "percent", "value": "10", **coupon}}],
    )


def issue(program, member, *, status: str | None = None, **terms) -> Coupon:
    coupon = coupon_issue(
        program=program,
        terms=CouponTerms(**{"kind": "percent", "value": Decimal("10"), **terms}),
        member=member,
        source=Coupon.Source.PROMOTION,
        reason="test",
    )
    if status is not None:
        Coupon.objects.filter(pk=coupon.pk).update(status=status)
        coupon.refresh_from_db()
    return coupon


def lapse(coupon: Coupon) -> None:
    now = timezone.now()
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=now - timedelta(days=31), valid_until=now - timedelta(days=1)
    )


# --- coupons from thresholds ---------------------------------------------------------------


def test_an_order_crossing_a_threshold_lists_its_coupon(api, program):
    reward_at(program, 500, max_discount="20.00", min_order_amount="30.00")

    response = order(api, "A-1", "60.00")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points_earned"], body["balance"]) == (600, 100)
    (coupon,) = body["coupons_issued"]
    assert COUPON_FIELDS <= set(coupon)
    assert coupon["kind"] == "percent"
    assert coupon["value"] == "10"
    assert coupon["max_discount"] == "20.00"
    assert coupon["min_order_amount"] == "30.00"
    assert coupon["currency"] == "EUR"
    assert coupon["status"] == "active"
    assert coupon["member"] == "cust-1"
    assert coupon["source"] == "reward"
    assert (coupon["uses_allowed"], coupon["uses_count"]) == (1, 0)
    assert "10" in coupon["terms"]
    valid_from, valid_until = (
        parse_datetime(coupon["valid_from"]),
        parse_datetime(coupon["valid_until"]),
    )
    assert valid_until - valid_from == timedelta(days=30)
    stored = Coupon.objects.get()
    assert coupon["code"] == stored.display_code


def test_the_ledger_shows_the_reward_entry_with_its_coupon_code(api, program):
    reward_at(program, 500)
    code = order(api, "A-1", "60.00").json()["coupons_issued"][0]["code"]

    entries = api.get("/api/v1/members/cust-1/ledger").json()["results"]

    assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [
        ("reward", -500, 100),
        ("earn", 600, 600),
    ]
    assert entries[0]["coupon"] == code
    assert entries[0]["order"] == "A-1"
    assert code in entries[0]["reason"]
    assert entries[1]["coupon"] is None


def test_an_order_crossing_a_threshold_twice_issues_two_coupons(api, program):
    reward_at(program, 500)

    body = order(api, "A-1", "110.00").json()

    assert body["balance"] == 100
    codes = [c["code"] for c in body["coupons_issued"]]
    assert len(codes) == len(set(codes)) == 2
    ledger = LedgerEntry.objects.filter(member__external_id="cust-1")
    assert sum(ledger.values_list("points", flat=True)) == 100


def test_a_replayed_order_lists_the_same_coupons(api, program):
    reward_at(program, 500)
    first = order(api, "A-1", "60.00")

    again = order(api, "A-1", "60.00")

    assert again.status_code == 200
    assert again.json()["coupons_issued"] == first.json()["coupons_issued"]
    assert Coupon.objects.count() == 1


def test_get_order_lists_the_coupons_it_paid_for(api, program):
    reward_at(program, 500)
    issued = order(api, "A-1", "60.00").json()["coupons_issued"]

    response = api.get(f"{ORDERS}/A-1")

    assert response.status_code == 200
    assert response.json()["coupons_issued"] == issued


def test_an_order_below_every_threshold_issues_nothing(api, program):
    reward_at(program, 500)

    body = order(api, "A-1", "49.99").json()

    assert body["coupons_issued"] == []
    assert body["balance"] == 499


def test_a_grant_crossing_a_threshold_lists_its_coupon_and_the_balance(api, member):
    reward_at(member.program, 500)

    response = api.post(
        f"/api/v1/members/{member.external_id}/grants",
        {"points": 700, "reason": "Apology"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["balance"] == 200
    assert body["entry"]["balance_after"] == 700
    (coupon,) = body["coupons_issued"]
    assert coupon["member"] == member.external_id
    assert coupon["source"] == "reward"


def test_a_grant_below_the_threshold_lists_no_coupons(api, member):
    response = api.post(
        f"/api/v1/members/{member.external_id}/grants", {"points": 5, "reason": "Hi"}, format="json"
    )

    assert response.json()["coupons_issued"] == []
    assert response.json()["balance"] == 5


def test_member_next_reward_is_the_nearest_threshold(api, program):
    reward_at(program, 500)
    order(api, "A-1", "12.00")

    body = api.get("/api/v1/members/cust-1").json()

    assert body["next_reward"] == {"threshold": 500, "points_missing": 380}


def test_member_next_reward_is_null_without_thresholds(api, member):
    assert api.get(f"/api/v1/members/{member.external_id}").json()["next_reward"] is None


def test_a_fixed_coupon_shows_amounts_in_the_currency(api, program):
    reward_at(program, 500, kind="fixed", value="5")

    (coupon,) = order(api, "A-1", "50.00").json()["coupons_issued"]

    assert (coupon["kind"], coupon["value"], coupon["max_discount"]) == ("fixed", "5.00", None)
    assert coupon["min_order_amount"] == "0.00"


# --- the member's coupons ------------------------------------------------------------------


@pytest.fixture
def wallet(program, member):
    """``member`` with an active, a redeemed, a void, an expired and a lapsed coupon."""
    coupons = {
        "active": issue(program, member),
        "redeemed": issue(program, member, status="redeemed"),
        "void": issue(program, member, status="void"),
        "expired": issue(program, member, status="expired"),
        "lapsed": issue(program, member),  # window over; the expiry job has not run yet
    }
    lapse(coupons["expired"])
    lapse(coupons["lapsed"])
    issue(program, MemberFactory(program=program))  # another member's
    return coupons


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [coupon["code"] for coupon in response.json()["results"]]


def test_member_coupons_lists_them_newest_first(api, member, wallet):
    response = api.get(coupons_url(member.external_id))

    assert set(response.json()) >= {"results", "next"}
    assert codes(response) == [c.display_code for c in reversed(wallet.values())]
    assert all(COUPON_FIELDS <= set(c) for c in response.json()["results"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", ["active"]),
        ("redeemed", ["redeemed"]),
        ("void", ["void"]),
        ("expired", ["lapsed", "expired"]),
    ],
)
def test_member_coupons_filtered_by_status(api, member, wallet, status, expected):
    response = api.get(coupons_url(member.external_id, f"?status={status}"))

    assert codes(response) == [wallet[name].display_code for name in expected]
    assert {c["status"] for c in response.json()["results"]} == {status}


@pytest.mark.parametrize("status", ["used", "ACTIVE", "active,void"])
def test_member_coupons_with_an_unknown_status_is_400(api, member, status):
    response = api.get(coupons_url(member.external_id, f"?status={status}"))

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "status" in response.json()["fields"]


def test_member_coupons_pages_with_a_cursor(api, program, member):
    issued = [issue(program, member).display_code for _ in range(5)]
    url: str | None = coupons_url(member.external_id, "?limit=2")
    seen: list[str] = []
    pages = 0

    while url is not None:
        response = api.get(url)
        seen += codes(response)
        url = response.json()["next"]
        pages += 1

    assert pages == 3
    assert seen == list(reversed(issued))


@pytest.mark.parametrize("cursor", ["garbage", "bz1hYmM=", "cD1hYmM="])  # o=abc, p=abc
def test_a_bad_cursor_is_400_invalid_cursor(api, member, cursor):
    issue(member.program, member)

    for url in (
        coupons_url(member.external_id, f"?cursor={cursor}"),
        f"/api/v1/members/{member.external_id}/ledger?cursor={cursor}",
    ):
        response = api.get(url)

        assert response.status_code == 400, (url, response.content)
        assert response.json()["code"] == "invalid_cursor"
        assert set(response.json()) == {"code", "detail"}


def test_member_coupons_of_an_unknown_member_is_404(api, program):
    response = api.get(coupons_url("nobody"))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_another_merchants_member_is_404(api, program):
    other = MemberFactory(program=ProgramFactory(), external_id="shared-id")
    issue(other.program, other)

    response = api.get(coupons_url("shared-id"))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


@pytest.mark.parametrize("scopes", ["orders", "manage"])
def test_member_coupons_may_be_read_with_the_orders_or_manage_scope(
    api_for, program, member, scopes
):
    issue(program, member)

    assert api_for(program, scopes).get(coupons_url(member.external_id)).status_code == 200


def test_member_coupons_are_not_listed_to_a_checkout_key(api_for, program, member):
    coupon = issue(program, member)

    response = api_for(program, "checkout").get(coupons_url(member.external_id))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert coupon.code not in response.content.decode()


# --- giving a coupon -----------------------------------------------------------------------


def give(api, external_id: str, body: dict, **extra):
    return api.post(coupons_url(external_id), body, format="json", **extra)


GIFT = {
    "reason": "Parcel arrived late",
    "coupon": {"kind": "fixed", "value": "5.00", "min_order_amount": "20", "valid_days": 14},
}


def test_post_member_coupon_issues_a_compensation_coupon(api, member):
    response = give(api, member.external_id, GIFT)

    assert response.status_code == 201, response.content
    body = response.json()
    assert COUPON_FIELDS <= set(body)
    assert (body["kind"], body["value"], body["min_order_amount"]) == ("fixed", "5.00", "20.00")
    assert (body["member"], body["source"], body["status"]) == (
        member.external_id,
        "compensation",
        "active",
    )
    valid_from, valid_until = (
        parse_datetime(body["valid_from"]),
        parse_datetime(body["valid_until"]),
    )
    assert valid_until - valid_from == timedelta(days=14)
    coupon = Coupon.objects.get()
    assert coupon.display_code == body["code"]
    assert coupon.reason == "Parcel arrived late"
    event = CouponEvent.objects.get(coupon=coupon)
    assert (event.kind, event.reason) == ("issued", "Parcel arrived late")


def test_post_member_coupon_as_a_promotion_with_defaults(api, member):
    body = {"reason": "Spring sale", "source": "promotion",
            "coupon": {"kind": "percent", "value": "15", "max_discount": "25.00"}}  # fmt: skip

    response = give(api, member.external_id, body)

    assert response.status_code == 201, response.content
    assert response.json()["source"] == "promotion"
    assert (response.json()["value"], response.json()["max_discount"]) == ("15", "25.00")
    assert response.json()["uses_allowed"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"coupon": GIFT["coupon"]}, "reason"),
        ({**GIFT, "reason": ""}, "reason"),
        ({**GIFT, "reason": "   "}, "reason"),
        ({**GIFT, "reason": None}, "reason"),
        ({**GIFT, "source": "reward"}, "source"),
        ({"reason": "x"}, "coupon"),
        ({**GIFT, "coupon": {"value": "5"}}, "coupon.kind"),
        ({**GIFT, "coupon": {"kind": "bogus", "value": "5"}}, "coupon.kind"),
        ({**GIFT, "coupon": {"kind": "fixed"}}, "coupon.value"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "abc"}}, "coupon.value"),
        ({**GIFT, "coupon": {"kind": "percent", "value": "150"}}, "coupon.value"),
        ({**GIFT, "coupon": {"kind": "percent", "value": "0"}}, "coupon.value"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5.001"}}, "coupon.value"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "valid_days": 0}},
         "coupon.valid_days"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "uses": 0}}, "coupon.uses"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "min_order_amount": "-1"}},
         "coupon.min_order_amount"),
        # reward kinds, scopes and uses beyond one
        ({**GIFT, "coupon": {"kind": "free_product"}}, "coupon.product_sku"),
        ({**GIFT, "coupon": {"kind": "free_product", "product_sku": "A",
                             "product_category": "b"}}, "coupon.product_sku"),
        ({**GIFT, "coupon": {"kind": "free_product", "product_sku": "A", "value": "5"}},
         "coupon.value"),
        ({**GIFT, "coupon": {"kind": "free_product", "product_sku": "A", "product_quantity": 0}},
         "coupon.product_quantity"),
        ({**GIFT, "coupon": {"kind": "free_product", "product_sku": "A",
                             "scope": {"exclude_skus": ["B"]}}}, "coupon.scope"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "product_sku": "A"}},
         "coupon.product_sku"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "scope": {"include_sku": ["A"]}}},
         "coupon.scope.include_sku"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "scope": {"include_skus": [""]}}},
         "coupon.scope.include_skus.0"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "uses": 2, "uses_per_member": 3}},
         "coupon.uses_per_member"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "uses": 4, "allowance_uses": 2}},
         "coupon.allowance_period"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "allowance_period": "quarter"}},
         "coupon.allowance_uses"),
        ({**GIFT, "coupon": {"kind": "fixed", "value": "5", "uses": 4, "allowance_uses": 2,
                             "allowance_period": "week"}}, "coupon.allowance_period"),
    ],
)  # fmt: skip
def test_post_member_coupon_with_bad_input_is_400_and_issues_nothing(api, member, body, field):
    response = give(api, member.external_id, body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"], response.json()["fields"]
    assert not Coupon.objects.exists()


def test_post_member_coupon_issues_a_free_product_and_a_perk_with_an_allowance(api, member):
    product = {"kind": "free_product", "product_category": "coffee", "max_discount": "4.50"}
    perk = {
        "kind": "free_shipping",
        "uses": 8,
        "valid_days": 365,
        "allowance_uses": 2,
        "allowance_period": "quarter",
        "scope": {"exclude_categories": ["furniture"]},
    }

    first = give(api, member.external_id, {**GIFT, "coupon": product})
    second = give(api, member.external_id, {**GIFT, "coupon": perk})

    assert first.status_code == 201, first.content
    assert first.json()["product"] == {"sku": "", "category": "coffee", "quantity": 1}
    assert first.json()["value"] == "0.00"
    assert "category coffee" in first.json()["terms"]
    assert second.status_code == 201, second.content
    assert second.json()["allowance"]["uses"] == 2
    assert second.json()["allowance"]["left"] == 2
    assert second.json()["uses_left"] == 8
    assert second.json()["scope"] == {"exclude_categories": ["furniture"]}
    assert "free shipping" in second.json()["terms"]


def test_post_member_coupon_for_an_unknown_member_is_404(api, program):
    response = give(api, "nobody", GIFT)

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert not Coupon.objects.exists()


@pytest.mark.parametrize("scopes", ["orders", "checkout"])
def test_post_member_coupon_needs_the_manage_scope(api_for, program, member, scopes):
    response = give(api_for(program, scopes), member.external_id, GIFT)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Coupon.objects.exists()


def test_post_member_coupon_with_an_idempotency_key_issues_once(api, member):
    key = {"HTTP_IDEMPOTENCY_KEY": "gift-1"}

    first = give(api, member.external_id, GIFT, **key)
    again = give(api, member.external_id, GIFT, **key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Coupon.objects.count() == 1


def test_a_given_coupon_works_at_checkout(api, member):
    code = give(api, member.external_id, GIFT).json()["code"]

    response = api.post(
        f"/api/v1/coupons/{code}/validate",
        {"member": member.external_id, "order_amount": "30.00", "currency": "EUR"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["discount"] == "5.00"


def test_the_ledger_names_the_coupon_a_void_gives_points_back_for(api, program, member):
    reward_at(program, 500)
    points_grant(program=program, member_external_id=member.external_id, points=500, reason="x")
    coupon = Coupon.objects.get()
    coupon_void(program=program, code=coupon.code, reason="mistake")

    entries = api.get(f"/api/v1/members/{member.external_id}/ledger").json()["results"]

    assert [(e["kind"], e["coupon"]) for e in entries] == [
        ("adjustment", coupon.display_code),
        ("reward", coupon.display_code),
        ("grant", None),
    ]
