"""``POST /api/v1/orders/quote``: the points an order would earn, line by line and rule by
rule, the bonuses, the coupons and the tier; it writes nothing, and it always agrees with
what ``POST /api/v1/orders`` then earns (a property test over random orders and rules)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.models import Campaign, EarningRule, LedgerEntry, Member, Order
from loyalty.services.orders import order_record
from loyalty.services.quote import order_quote
from rewards.services.thresholds import thresholds_replace
from tests.factories import MemberFactory, ProgramFactory

QUOTE = "/api/v1/orders/quote"
ORDERS = "/api/v1/orders"


def body(**changes):
    order = {
        "external_id": "A-1",
        "member": "cust-1",
        "amount": "60.00",
        "currency": "EUR",
        "lines": [
            {"sku": "COFFEE", "category": "drinks", "quantity": 2, "amount": "10.00"},
            {"sku": "GC-50", "category": "gift-cards", "quantity": 1, "amount": "30.00"},
        ],
    }
    order.update(changes)
    return order


def rules(program):
    EarningRule.objects.create(
        program=program,
        kind="product_bonus",
        name="Coffee bonus",
        parameters={"sku": "COFFEE", "points_per_unit": 25},
    )
    EarningRule.objects.create(
        program=program,
        kind="exclusion",
        name="No gift cards",
        parameters={"category": "gift-cards"},
    )
    EarningRule.objects.create(
        program=program, kind="signup", name="Welcome", parameters={"points": 100}
    )
    today = timezone.localdate()
    Campaign.objects.create(
        program=program,
        name="Double days",
        start_date=today - timedelta(days=1),
        end_date=today + timedelta(days=1),
        multiplier=Decimal(2),
    )


def test_quote_explains_every_line_and_rule(api, program):
    rules(program)

    response = api.post(QUOTE, body(), format="json")

    assert response.status_code == 200, response.content
    quote = response.json()
    earning = quote["points_breakdown"]
    # (60 - 30 gift cards) x 10 = 300, x2 campaign = 600, + 2 x 25 coffee = 650
    assert quote["points_earned"] == 650
    assert earning["base_points"] == 300
    assert earning["excluded"] == [
        {"amount": "30.00", "reason": "GC-50: excluded by rule 'No gift cards'"}
    ]
    assert [line["earns"] for line in earning["lines"]] == [True, False]
    assert earning["lines"][0]["bonus_points"] == 50
    assert earning["multipliers"][0]["source"] == "campaign 'Double days'"
    assert quote["bonuses"] == [
        {"kind": "signup", "points": 100, "reason": "Sign-up bonus (rule 'Welcome'): 100 points"}
    ]
    assert quote["member_exists"] is False
    assert quote["balance_after"] == 750
    assert quote["tier"] is None
    assert "multiply" in earning["stacking_rule"]


def test_quote_writes_nothing(api, program):
    rules(program)
    MemberFactory(program=program, external_id="cust-2")

    with CaptureQueriesContext(connection) as queries:
        for member in ("cust-1", "cust-2"):
            assert api.post(QUOTE, body(member=member), format="json").status_code == 200

    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        or "FOR UPDATE" in q["sql"].upper()
    ]
    # The API key's last use is the authentication's bookkeeping, not the quote's.
    writes = [sql for sql in writes if "loyalty_apikey" not in sql]
    assert writes == []
    assert not Order.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert list(Member.objects.values_list("external_id", flat=True)) == ["cust-2"]


def test_order_result_carries_the_same_breakdown_as_the_quote(api, program):
    rules(program)
    quote = api.post(QUOTE, body(), format="json").json()

    order = api.post(ORDERS, body(), format="json").json()
    again = api.get(f"{ORDERS}/A-1").json()

    assert order["points_earned"] == quote["points_earned"] == 650
    assert order["points_breakdown"] == quote["points_breakdown"]
    assert again["points_breakdown"] == quote["points_breakdown"]
    assert order["balance"] == quote["balance_after"]


def test_quote_lists_the_coupons_it_would_issue(api, program):
    thresholds_replace(
        program=program,
        thresholds=[{"points": 500, "coupon": {"kind": "percent", "value": "10"}}],
    )

    quote = api.post(QUOTE, body(amount="120.00", lines=[]), format="json").json()
    order = api.post(ORDERS, body(amount="120.00", lines=[]), format="json").json()

    assert [c["points"] for c in quote["coupons_issued"]] == [500, 500]
    assert quote["coupons_issued"][0]["coupon"]["value"] == "10"
    assert len(order["coupons_issued"]) == 2


def test_quote_refuses_bad_input_like_an_order(api, program):
    response = api.post(QUOTE, body(currency="USD"), format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "currency_mismatch"

    bad_line = body(lines=[{"sku": "X", "amount": "-1"}])
    response = api.post(QUOTE, bad_line, format="json")
    assert response.status_code == 400
    assert "lines.0.amount" in response.json()["fields"]


def test_quote_needs_the_orders_scope(api_for, program):
    response = api_for(program, "checkout").post(QUOTE, body(), format="json")
    assert response.status_code == 403


# --- property: the quote and the order always agree --------------------------------------

RULES = [
    ("product_bonus", {"sku": "A", "points_per_unit": 10}),
    ("category_bonus", {"category": "x", "multiplier": "1.5"}),
    ("exclusion", {"sku": "B"}),
    ("exclusion", {"category": "y"}),
    ("cap_day", {"points": 300}),
    ("cap_month", {"points": 1000}),
    ("signup", {"points": 50}),
]
CAMPAIGNS = [
    {"multiplier": Decimal(2)},
    {"multiplier": Decimal("1.5")},
    {"fixed_bonus": 100, "min_order_amount": Decimal(50)},
    {"fixed_bonus": 30, "segment": {"locale": "es"}},
    {"fixed_bonus": 70, "tiers": ["Gold"]},
]
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(300), places=2)
lines = st.lists(
    st.fixed_dictionaries(
        {
            "sku": st.sampled_from(["A", "B", "C"]),
            "category": st.sampled_from(["x", "y", ""]),
            "quantity": st.integers(1, 3),
            "amount": st.decimals(min_value=0, max_value=100, places=2),
        }
    ),
    max_size=4,
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rate=st.sampled_from(["1", "10", "2.5", "0.3333"]),
    amount=money,
    order_lines=lines,
    rule_picks=st.sets(st.integers(0, len(RULES) - 1)),
    campaign_picks=st.sets(st.integers(0, len(CAMPAIGNS) - 1)),
    earlier=st.lists(money, max_size=2),
    member_state=st.sampled_from(["new", "en", "es"]),
    threshold=st.sampled_from([None, 100, 700]),
)
def test_quote_and_order_always_agree(
    rate, amount, order_lines, rule_picks, campaign_picks, earlier, member_state, threshold
):
    program = ProgramFactory(earn_rate=Decimal(rate))
    for index in sorted(rule_picks):
        kind, parameters = RULES[index]
        EarningRule.objects.create(program=program, kind=kind, name=kind, parameters=parameters)
    today = timezone.localdate()
    for index in sorted(campaign_picks):
        Campaign.objects.create(
            program=program,
            name=f"c{index}",
            start_date=today - timedelta(days=1),
            end_date=today,
            **CAMPAIGNS[index],
        )
    if threshold:
        thresholds_replace(
            program=program,
            thresholds=[{"points": threshold, "coupon": {"kind": "percent", "value": "5"}}],
        )
    placed_at = timezone.now() - timedelta(minutes=1)
    if member_state != "new":
        MemberFactory(program=program, external_id="m", locale=member_state)
    for number, earlier_amount in enumerate(earlier):
        order_record(
            program=program,
            external_id=f"early-{number}",
            member_external_id="m",
            amount=earlier_amount,
            currency="EUR",
            placed_at=placed_at,
        )
    order = {
        "program": program,
        "external_id": "the-order",
        "member_external_id": "m",
        "amount": amount,
        "currency": "EUR",
        "placed_at": placed_at,
        "lines": order_lines,
    }

    quote = order_quote(**order)
    result = order_record(**order)

    assert result.order.points_earned == quote.earning.total
    assert result.order.earning == quote.earning.as_dict()
    assert [c.points_spent for c in result.coupons_issued] == [c["points"] for c in quote.coupons]
    assert result.balance == quote.balance_after - sum(c["points"] for c in quote.coupons)
