"""The program's settings kept across requests (``loyalty.snapshot``) are never stale.

Each test first shows the cache at work (an order that reads none of the settings tables),
then changes the settings in one way and checks that the very next order uses the change.
Without the trigger that raises ``settings_version`` (or with a kept list that a rollback
should have dropped) that order would be handed the old settings and the test fails.

Transactional: the cache keeps only what committed transactions read, as in production.
"""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import Campaign, Member, Program, Tier
from loyalty.services.earning_config import rules_replace
from loyalty.services.tiers import program_tiers
from loyalty.snapshot import program_snapshot
from rewards.services.thresholds import thresholds_replace
from tests.factories import ProgramFactory, StaffFactory, api_key_for
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS_TABLES = ('"loyalty_earningrule"', '"loyalty_campaign"', '"loyalty_tier"',
                   '"rewards_rewardthreshold"', '"rewards_coupontemplate"')  # fmt: skip
numbers = itertools.count()


@pytest.fixture
def shop() -> Program:
    return ProgramFactory(earn_rate=Decimal(1))  # 1 point per 1.00: amounts are points


@pytest.fixture
def client(shop) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(shop)}")
    return client


def order(client: APIClient, member: str = "ann", amount: str = "100.00") -> dict:
    body = {"external_id": f"o-{next(numbers)}", "member": member, "amount": amount,
            "currency": "EUR"}  # fmt: skip
    response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def settings_reads(call) -> tuple[list[str], object]:
    """The queries ``call`` makes on the settings tables, and its result."""
    with CaptureQueriesContext(connection) as ctx:
        result = call()
    reads = [q["sql"] for q in ctx.captured_queries if any(t in q["sql"] for t in SETTINGS_TABLES)]
    return reads, result


def kept_order(client: APIClient, **kwargs) -> dict:
    """An order served entirely from the kept settings (the cache is at work)."""
    reads, body = settings_reads(lambda: order(client, **kwargs))
    assert reads == []
    assert isinstance(body, dict)
    return body


def campaign(program: Program, multiplier: int) -> Campaign:
    today = timezone.localdate()
    return Campaign.objects.create(
        program=program, name="Boost", start_date=today - timedelta(days=1),
        end_date=today + timedelta(days=1), multiplier=Decimal(multiplier),
    )  # fmt: skip


def test_put_program_tiers_and_thresholds_apply_to_the_next_order(client, shop):
    gold = Tier.objects.create(program=shop, name="Gold", min_points=10_000)
    order(client)
    Member.objects.filter(external_id="ann").update(tier=gold)
    assert kept_order(client)["points_earned"] == 100

    response = client.put(
        "/api/v1/program",
        {
            "tiers": [{"name": "Gold", "min_points": 10_000, "earn_multiplier": "2"}],
            "thresholds": [{"points": 300, "coupon": {"kind": "fixed", "value": "5"}}],
        },
        format="json",
    )
    body = order(client)

    assert response.status_code == 200, response.content
    # The writer reads its own change back, though its Program was loaded before it.
    assert [Decimal(t["earn_multiplier"]) for t in response.json()["tiers"]] == [2]
    assert body["points_earned"] == 200
    assert [c["value"] for c in body["coupons_issued"]] == ["5.00"]


def test_a_service_change_applies_to_the_next_order(client, shop):
    order(client, member="bob")
    assert kept_order(client, member="cy")["balance"] == 100

    rules_replace(
        program=Program.objects.get(pk=shop.pk),
        rules=[{"kind": "signup", "name": "Welcome", "parameters": {"points": 50}}],
    )

    assert order(client, member="dee")["balance"] == 150


def test_a_queryset_update_applies_to_the_next_order(client, shop):
    campaign(shop, 2)
    order(client)
    assert kept_order(client)["points_earned"] == 200

    Campaign.objects.filter(program=shop).update(multiplier=Decimal(3))

    assert order(client)["points_earned"] == 300


def test_a_delete_applies_to_the_next_order(client, shop):
    campaign(shop, 2)
    order(client)
    assert kept_order(client)["points_earned"] == 200

    Campaign.objects.filter(program=shop).delete()

    assert order(client)["points_earned"] == 100


def test_raw_sql_on_a_coupon_template_applies_to_the_next_order(client, shop):
    thresholds_replace(
        program=shop, thresholds=[{"points": 150, "coupon": {"kind": "fixed", "value": "5"}}]
    )
    order(client)
    assert [c["value"] for c in kept_order(client)["coupons_issued"]] == ["5.00"]

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rewards_coupontemplate SET value = 7 WHERE program_id = %s", [shop.pk]
        )

    assert [c["value"] for c in order(client)["coupons_issued"]] == ["7.00"]


def test_an_admin_change_applies_to_the_next_order(client, shop):
    staff = Client()
    staff.force_login(StaffFactory(merchant=shop.merchant))
    order(client, member="bob")
    assert kept_order(client, member="cy")["balance"] == 100

    added = staff.post(
        reverse("admin:loyalty_earningrule_add") + "?kind=signup",
        {"name": "Welcome", "active": "on", "points": "50"},
    )

    assert added.status_code == 302
    assert order(client, member="dee")["balance"] == 150


def test_a_change_committed_by_another_connection_is_seen_by_the_next_request(client, shop):
    campaign(shop, 2)
    # Kept by another thread: one cache for the whole process.
    [warm] = at_once([lambda: order(client)])
    assert isinstance(warm, dict), warm
    assert warm["points_earned"] == 200
    assert kept_order(client)["points_earned"] == 200

    [changed] = at_once(
        [lambda: Campaign.objects.filter(program_id=shop.pk).update(multiplier=Decimal(3))]
    )
    assert changed == 1

    assert order(client)["points_earned"] == 300


def test_a_rolled_back_change_leaves_the_cache_valid(client, shop):
    campaign(shop, 2)
    order(client)
    with transaction.atomic():
        Campaign.objects.filter(program=shop).update(multiplier=Decimal(5))
        # An order inside the doomed transaction reads the change (and must not keep it).
        assert order(client)["points_earned"] == 500
        transaction.set_rollback(True)

    assert kept_order(client)["points_earned"] == 200
    # The next committed change gets the version the rolled-back one had.
    Campaign.objects.filter(program=shop).update(multiplier=Decimal(3))
    assert order(client)["points_earned"] == 300


def test_a_snapshot_hands_back_the_same_settings_even_if_they_change(shop):
    Tier.objects.create(program=shop, name="Gold", min_points=100)
    with program_snapshot():
        first = program_tiers(Program.objects.get(pk=shop.pk))
        Tier.objects.create(program=shop, name="Star", min_points=500)
        again = program_tiers(Program.objects.get(pk=shop.pk))

    assert again is first
    assert [t.name for t in program_tiers(Program.objects.get(pk=shop.pk))] == ["Gold", "Star"]
