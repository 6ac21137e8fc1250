"""A new program starts from the seeds' program (issue #20, point 3): 10 points per 1.00, a
10 % coupon at 5,000 points, points valid 365 days reset by each order, reminders 60/30/14/7,
Gold/Platinum/Diamond at 200/1,000/2,000 points in 90 days; early access for Diamond only,
the badge card for Platinum and Diamond only. The demo is built from the same definition."""

from decimal import Decimal

import pytest

from loyalty import demo
from loyalty.models import Merchant, Tier
from loyalty.services.merchants import merchant_create
from loyalty.services.tier_settings import tiers_describe
from rewards.services.thresholds import thresholds_describe

pytestmark = pytest.mark.django_db


def test_a_new_merchant_gets_the_default_program():
    program = merchant_create(slug="fresh", name="Fresh", currency="EUR").program

    program.refresh_from_db()
    assert program.earn_rate == Decimal(10)
    assert program.points_validity_days == 365
    assert program.reset_validity_on_order is True
    assert program.reminder_offsets_days == [60, 30, 14, 7]
    assert thresholds_describe(program=program) == [
        {
            "points": 5000,
            "coupon": {
                "kind": "percent",
                "value": Decimal(10),
                "max_discount": None,
                "min_order_amount": Decimal(100),
                "valid_days": 30,
                "uses": 1,
                # A percent off the whole order, usable once, by anyone holding it.
                "product_sku": "",
                "product_category": "",
                "product_quantity": 1,
                "scope": {},
                "uses_per_member": None,
                "allowance_uses": None,
                "allowance_period": "",
            },
        }
    ]
    tiers = {t["name"]: t for t in tiers_describe(program=program)}
    assert [(n, t["min_points"], t["window_days"]) for n, t in tiers.items()] == [
        ("Gold", 200, 90),
        ("Platinum", 1000, 90),
        ("Diamond", 2000, 90),
    ]
    assert [n for n, t in tiers.items() if "early_access" in t["flags"]] == ["Diamond"]
    assert [n for n, t in tiers.items() if "badge_card" in t["flags"]] == ["Platinum", "Diamond"]


def test_the_demo_is_the_default_program():
    merchant = demo.demo_merchant()
    demo.demo_program(merchant.program)
    fresh = merchant_create(slug="other", name="Other", currency="EUR").program

    demo_program = Merchant.objects.get(slug=demo.DEMO_SLUG).program
    assert thresholds_describe(program=demo_program) == thresholds_describe(program=fresh)
    assert tiers_describe(program=demo_program) == tiers_describe(program=fresh)


def test_a_demo_written_before_the_defaults_gets_them_once():
    merchant = demo.demo_merchant()
    program = merchant.program
    Tier.objects.filter(program=program).delete()
    program.thresholds.all().delete()

    demo.demo_program(program)
    demo.demo_program(program)

    assert [t["name"] for t in tiers_describe(program=program)] == ["Gold", "Platinum", "Diamond"]
    assert len(thresholds_describe(program=program)) == 1
