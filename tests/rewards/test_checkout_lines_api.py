"""Reward kinds, scoped coupons and uses beyond one at checkout, over HTTP.

Validate and redeem take the order's lines (sku, category, quantity, unit_price) and the
shipping amount, both optional, and answer the discount line by line. A free product or a
scoped coupon without lines is refused (``coupon_lines_required``); an order with no line
the coupon applies to gets ``no_eligible_items`` with the lines and the coupon's scope.
Uses per member and a perk's allowance per period are counted, and what is left is shown.
"""

import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from rewards.lines import Line
from rewards.models import Coupon, Redemption
from rewards.services.checkout import coupon_validate
from rewards.services.coupons import CouponTerms, coupon_issue
from tests.factories import MemberFactory, ProgramFactory, api_key_for

SHOES = {"sku": "SH-1", "category": "shoes", "quantity": 2, "unit_price": "40.00"}
SOCKS = {"sku": "SO-1", "category": "socks", "quantity": 3, "unit_price": "5.00"}


@pytest.fixture(autouse=True)
def _fresh_guess_counters(own_cache):
    """Guess counters per test (see tests/api/test_checkout.py)."""


@pytest.fixture
def till(api_for, program) -> APIClient:
    return api_for(program, "checkout")


def issue(program, member=None, **terms) -> Coupon:
    terms.setdefault("kind", "percent")
    if "value" in terms:
        terms["value"] = Decimal(terms["value"])
    for name in ("max_discount",):
        if name in terms:
            terms[name] = Decimal(terms[name])
    return coupon_issue(
        program=program,
        terms=CouponTerms(**terms),
        member=member,
        source=Coupon.Source.PROMOTION,
        reason="test",
    )


def post(client, coupon, action, **body):
    body = {"order_amount": "95.00", "currency": "EUR", **body}
    return client.post(f"/api/v1/coupons/{coupon.code}/{action}", body, format="json")


def refused(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["detail"].strip()
    return body


def test_a_scoped_coupon_is_answered_line_by_line(till, program):
    coupon = issue(program, value="10", scope={"include_categories": ["shoes"]})

    response = post(till, coupon, "validate", lines=[SHOES, SOCKS])

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["discount"] == "8.00"
    assert body["shipping_discount"] == "0.00"
    assert body["lines"] == [
        {"index": 0, "sku": "SH-1", "eligible": True, "discount": "8.00"},
        {"index": 1, "sku": "SO-1", "eligible": False, "discount": "0.00"},
    ]
    assert body["coupon"]["scope"] == {"include_categories": ["shoes"]}
    assert "category shoes" in body["coupon"]["terms"]


def test_a_scoped_coupon_without_lines_is_refused_with_what_it_applies_to(till, program):
    coupon = issue(program, value="10", scope={"include_skus": ["SH-1"]})

    body = refused(post(till, coupon, "validate"), 422, "coupon_lines_required")

    assert "SKU SH-1" in body["detail"]


def test_no_eligible_items_says_which_lines_do_not_qualify_and_what_would(till, program):
    coupon = issue(
        program, value="10", scope={"include_categories": ["shoes"], "exclude_skus": ["SH-9"]}
    )

    body = refused(
        post(till, coupon, "redeem", order="O-1", lines=[SOCKS]), 422, "no_eligible_items"
    )

    assert body["lines"] == [{"index": 0, "sku": "SO-1", "eligible": False, "discount": "0.00"}]
    assert body["scope"] == {"include_categories": ["shoes"], "exclude_skus": ["SH-9"]}
    assert "category shoes" in body["detail"]
    assert not Redemption.objects.exists()
    coupon.refresh_from_db()
    assert coupon.uses_count == 0


def test_a_redemption_keeps_its_lines_and_answers_them_again(till, program):
    coupon = issue(program, value="10", scope={"include_categories": ["shoes"]})

    first = post(till, coupon, "redeem", order="O-1", lines=[SHOES, SOCKS]).json()
    again = post(till, coupon, "redeem", order="O-1", lines=[SHOES, SOCKS]).json()

    assert first["lines"] == again["lines"]
    assert (first["discount"], again["discount"]) == ("8.00", "8.00")
    assert Redemption.objects.get().lines[0]["discount"] == "8.00"


def test_a_free_product_takes_off_its_product_up_to_its_value(till, program):
    coupon = issue(
        program, kind="free_product", product_sku="SO-1", product_quantity=2, max_discount="9.00"
    )

    body = post(till, coupon, "validate", lines=[SHOES, SOCKS]).json()

    assert body["discount"] == "9.00"  # two socks are 10.00, worth at most 9.00
    assert [line["discount"] for line in body["lines"]] == ["0.00", "9.00"]
    assert body["coupon"]["product"] == {"sku": "SO-1", "category": "", "quantity": 2}
    assert body["coupon"]["kind"] == "free_product"
    refused(post(till, coupon, "validate"), 422, "coupon_lines_required")
    refused(post(till, coupon, "validate", lines=[SHOES]), 422, "no_eligible_items")


def test_free_shipping_answers_a_shipping_discount(till, program):
    coupon = issue(program, kind="free_shipping", max_discount="5.00")

    body = post(till, coupon, "validate", shipping_amount="6.90").json()

    assert (body["discount"], body["shipping_discount"]) == ("5.00", "5.00")
    missing = refused(post(till, coupon, "validate"), 400, "validation_error")
    assert "shipping_amount" in missing["fields"]


def test_a_plain_coupon_without_lines_answers_as_before(till, program):
    coupon = issue(program, value="10")

    body = post(till, coupon, "validate").json()

    assert (body["discount"], body["shipping_discount"], body["lines"]) == ("9.50", "0.00", [])
    assert body["coupon"]["uses_left"] == 1
    assert body["coupon"]["allowance"] is None
    assert body["coupon"]["product"] is None
    assert body["coupon"]["scope"] == {}


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([{**SHOES, "unit_price": "-1"}], "lines.0.unit_price"),
        ([{**SHOES, "unit_price": "1.005"}], "lines.0.unit_price"),
        ([{**SHOES, "quantity": 0}], "lines.0.quantity"),
        ([{**SHOES, "sku": ""}], "lines.0.sku"),
        ([{**SHOES, "sku": "x" * 101}], "lines.0.sku"),
    ],
)
def test_odd_lines_are_refused_by_field_and_change_nothing(till, program, lines, field):
    coupon = issue(program, value="10")

    body = refused(post(till, coupon, "redeem", order="O-1", lines=lines), 400, "validation_error")

    assert field in body["fields"]
    assert not Redemption.objects.exists()


def test_uses_per_member_of_a_promotion_are_counted_per_customer(till, program):
    coupon = issue(program, value="10", uses=5, uses_per_member=1)

    assert post(till, coupon, "redeem", order="O-1", member="ann").status_code == 200
    refused(
        post(till, coupon, "redeem", order="O-2", member="ann"), 422, "coupon_member_limit_reached"
    )
    assert post(till, coupon, "redeem", order="O-3", member="bob").status_code == 200
    refused(post(till, coupon, "validate"), 422, "coupon_member_required")

    # the first order is cancelled: ann may use it again
    till.post(f"/api/v1/coupons/{coupon.code}/release", {"order": "O-1"}, format="json")
    body = post(till, coupon, "redeem", order="O-4", member="ann").json()
    assert body["coupon"]["uses_left"] == 3


def test_a_perk_allowance_is_used_up_for_the_quarter_and_comes_back_the_next(api, program):
    member = MemberFactory(program=program)
    with time_machine.travel("2026-02-10 12:00Z"):
        coupon = issue(program, member, value="10", uses=8, valid_days=365,
                       allowance_uses=2, allowance_period="quarter")  # fmt: skip
        for order in ("O-1", "O-2"):
            assert post(api, coupon, "redeem", order=order).status_code == 200
        body = refused(post(api, coupon, "redeem", order="O-3"), 422, "coupon_allowance_used_up")
        assert "2026" in body["detail"]
        listed = api.get(f"/api/v1/members/{member.external_id}/coupons").json()["results"][0]
        assert listed["uses_left"] == 6
        assert listed["allowance"] == {
            "uses": 2, "period": "quarter", "left": 0, "resets_at": "2026-04-01T00:00:00Z"
        }  # fmt: skip
    with time_machine.travel("2026-04-02 12:00Z"):
        body = post(api, coupon, "redeem", order="O-3").json()
        assert body["coupon"]["allowance"]["left"] == 1
        assert body["coupon"]["uses_left"] == 5


def test_the_allowance_period_follows_the_program_time_zone(api):
    program = ProgramFactory(time_zone="Asia/Tokyo")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program)}")
    member = MemberFactory(program=program)
    # 31 March 16:00 UTC is 1 April 01:00 in Tokyo: a new quarter there
    with time_machine.travel("2026-03-31 10:00Z"):
        coupon = issue(program, member, value="10", uses=8, valid_days=365,
                       allowance_uses=1, allowance_period="quarter")  # fmt: skip
        assert post(client, coupon, "redeem", order="O-1").status_code == 200
    with time_machine.travel("2026-03-31 16:00Z"):
        assert post(client, coupon, "redeem", order="O-2").status_code == 200


def test_another_merchants_scoped_coupon_is_not_found(till):
    other = issue(ProgramFactory(), value="10", scope={"include_skus": ["SH-1"]})

    refused(post(till, other, "validate", lines=[SHOES]), 404, "coupon_not_found")


def test_the_schema_states_the_new_fields_with_their_limits_and_the_refusal_shape():
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()
    parts = schema["components"]["schemas"]

    line = parts["CheckoutLineRequest"]["properties"]
    # 1 to 100 characters once trimmed: said by the pattern (maxLength would count the blanks)
    assert re.match(line["sku"]["pattern"], " " + "S" * 100 + " ")
    assert not re.match(line["sku"]["pattern"], "S" * 101)
    assert not re.match(line["sku"]["pattern"], "   ")
    assert "1 to 100 characters" in line["sku"]["description"]
    assert line["quantity"]["minimum"] == 1
    checkout = parts["CheckoutInRequest"]["properties"]
    assert (checkout["lines"]["minItems"], checkout["lines"]["maxItems"]) == (1, 200)
    coupon = parts["Coupon"]["properties"]
    assert {"uses_left", "allowance", "product", "scope", "uses_per_member"} <= set(coupon)
    assert set(parts["Allowance"]["properties"]) == {"uses", "period", "left", "resets_at"}
    assert {"lines", "scope"} <= set(parts["CheckoutRefusal"]["properties"])
    terms = parts["CouponTermsInRequest"]["properties"]
    assert terms["product_quantity"]["maximum"] == 100
    assert terms["uses_per_member"]["maximum"] == 1000
    validate = schema["paths"]["/api/v1/coupons/{code}/validate"]["post"]["responses"]["422"]
    assert validate["content"]["application/json"]["schema"]["$ref"].endswith("CheckoutRefusal")


def test_limits_cost_queries_only_on_coupons_that_have_them(program):
    plain = issue(program, value="10")
    scoped = issue(program, value="10", scope={"include_categories": ["shoes"]})
    limited = issue(program, value="10", uses=8, uses_per_member=2, allowance_uses=2,
                    allowance_period="month")  # fmt: skip
    shoes = [Line(sku="SH-1", category="shoes", quantity=1, unit_price=Decimal("40.00"))]

    def queries(coupon, **more):
        with CaptureQueriesContext(connection) as captured:
            coupon_validate(program=program, code=coupon.code, order_amount=Decimal("40.00"),
                            currency="EUR", member_external_id="ann", **more)  # fmt: skip
        return len(captured)

    # the look-up alone; lines are answered in Python; each limit is one count
    assert queries(plain) == 1
    assert queries(scoped, lines=shoes) == 1
    assert queries(limited) == 3
