"""POST /api/v1/orders costs a fixed number of queries, whatever the member's history.

A budget, not a snapshot: a change that adds a query to every order must raise
ORDER_QUERY_BUDGET here on purpose (and say why in its commit).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import Tier
from notifications.models import WebhookEndpoint
from rewards.models import CouponTemplate, RewardThreshold

pytestmark = pytest.mark.django_db

# Key look-up, webhook endpoints (once for both events), begin + commit, the new rows' ids
# (order and entry, one statement), member lock (with its referrer, in one statement), order
# (COPY), ledger entry (COPY), the points of the member's tier day (one upsert: what keeps
# the tier windows' reads, the profile page's among them, to a row a day), the member's
# balance and dates; the idempotency record when a key is sent. No look for the external
# id first: the order's unique key refuses a replay. No tier window is counted for a member
# at the top tier. The program's settings (rules, campaigns, tiers, thresholds) come from
# the cache kept across requests (loyalty.snapshot): none of them is read.
ORDER_QUERY_BUDGET = 10
SETTINGS_TABLES = ('"loyalty_earningrule"', '"loyalty_campaign"', '"loyalty_tier"',
                   '"rewards_rewardthreshold"', '"rewards_coupontemplate"')  # fmt: skip


def _queries(api, n: int, member: str, **headers) -> list[str]:
    order = {"external_id": f"Q-{n}", "member": member, "amount": "10.00", "currency": "EUR"}
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("/api/v1/orders", order, format="json", **headers)
    assert response.status_code == 201, response.content
    return [q["sql"] for q in ctx.captured_queries]


def _post(api, n: int, member: str, **headers) -> int:
    return len(_queries(api, n, member, **headers))


# Transactional, as in production: the settings are kept once the first order commits.
@pytest.mark.django_db(transaction=True)
def test_an_order_costs_the_same_queries_for_a_member_with_one_or_many_orders(api, program):
    Tier.objects.create(program=program, name="Gold", min_points=10, earn_multiplier=2)
    RewardThreshold.objects.create(
        program=program,
        points=1_000_000,
        template=CouponTemplate.objects.create(program=program, name="Far", value=5),
    )
    first = _queries(api, 0, "ann")
    second = _queries(api, 1, "ann")  # now in Gold: its multiplier comes from the kept tiers
    for n in range(2, 25):
        _post(api, n, "ann")

    twenty_fifth = _queries(api, 25, "ann")

    assert [sql for sql in first if any(t in sql for t in SETTINGS_TABLES)]
    assert not [sql for sql in second if any(t in sql for t in SETTINGS_TABLES)]
    assert len(second) == len(twenty_fifth) == ORDER_QUERY_BUDGET


def test_webhook_endpoints_are_read_once_per_order_not_once_per_event(api, program):
    for n in range(3):
        WebhookEndpoint.objects.create(
            merchant=program.merchant,
            url=f"https://hooks.example/{n}",
            events=["order_recorded", "points_earned"],
        )
    order = {"external_id": "W-1", "member": "ann", "amount": "10.00", "currency": "EUR"}

    with CaptureQueriesContext(connection) as ctx:
        api.post("/api/v1/orders", order, format="json")

    endpoint_reads = [q for q in ctx.captured_queries if "webhookendpoint" in q["sql"]]
    assert len(endpoint_reads) == 1
    assert WebhookEndpoint.objects.get(url="https://hooks.example/0").deliveries.count() == 2


def test_the_idempotency_key_adds_a_fixed_number_of_queries(api, program):
    _post(api, 0, "ann")
    plain = _post(api, 1, "ann")

    keyed = [_post(api, 2 + n, "ann", HTTP_IDEMPOTENCY_KEY=f"k-{n}") for n in range(3)]

    assert len(set(keyed)) == 1
    # Its transaction, the record's insert in a savepoint, the answer's update.
    assert keyed[0] - plain <= 6


@pytest.fixture
def endpoints_cache(settings):
    from notifications.services.webhooks import webhook_endpoints_forget

    settings.WEBHOOK_ENDPOINTS_CACHE_SECONDS = 30
    webhook_endpoints_forget()
    yield
    webhook_endpoints_forget()


def test_with_the_endpoints_cache_later_orders_read_no_endpoints_at_all(
    api, program, endpoints_cache
):
    WebhookEndpoint.objects.create(
        merchant=program.merchant, url="https://hooks.example/c", events=["order_recorded"]
    )
    _post(api, 0, "ann")
    order = {"external_id": "W-2", "member": "ann", "amount": "10.00", "currency": "EUR"}

    with CaptureQueriesContext(connection) as ctx:
        api.post("/api/v1/orders", order, format="json")

    assert not [q for q in ctx.captured_queries if "webhookendpoint" in q["sql"]]
    assert WebhookEndpoint.objects.get().deliveries.count() == 2  # both orders delivered
