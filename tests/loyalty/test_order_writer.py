"""A batch of orders leaves exactly what the same orders sent one by one leave.

One writer (``loyalty.services.order_writer``) writes both, but a batch loads its members'
accounts once and keeps them in memory while its rows wait for one flush, where orders sent
one by one each read what the previous one wrote. Whatever the program (earning rules,
caps, campaigns, referrals, pending points, per-earning lots, tiers, thresholds) and the
orders, the result must be the same, order for order and entry for entry.
"""

import os
import re
import threading
import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.errors import LoyaltyError
from loyalty.models import Campaign, EarningRule, LedgerEntry, Member, Order, Program, TierChange
from loyalty.services.ledger import ledger_audit
from loyalty.services.orders import order_record, orders_record_batch
from loyalty.services.tier_settings import tiers_replace
from notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from rewards.models import Coupon
from rewards.services.thresholds import thresholds_replace
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

MEMBERS = ["ana", "bo", "cy", "dee"]
RULES = {
    "signup": ("signup", {"points": 50}),
    "cap": ("cap_day", {"points": 2500}),
    "cap_month": ("cap_month", {"points": 6000}),
    "category": ("category_bonus", {"category": "x", "multiplier": "2"}),
}
CAMPAIGNS = {
    # x2 for orders of at least 40.00, over the last weeks and the next days
    "double": {"multiplier": Decimal(2), "fixed_bonus": 0, "min_order_amount": Decimal(40)},
    # +75 points an order for Gold members (the tier must be reached first)
    "gold_bonus": {"multiplier": Decimal(1), "fixed_bonus": 75, "tiers": ["Gold"]},
}


def _program(config: dict) -> Program:
    program = ProgramFactory(
        earn_rate=Decimal(config["rate"]),
        pending_days=config["pending_days"],
        reset_validity_on_order=config["reset_validity"],
    )
    if config["tiers"]:
        tiers_replace(program=program, tiers=[
            {"name": "Gold", "min_points": 300, "window_days": 90, "earn_multiplier": "1.5"},
            {"name": "Diamond", "min_points": 2000, "window_days": 30, "earn_multiplier": "2"},
        ])  # fmt: skip
    if config["threshold"]:
        thresholds_replace(program=program, thresholds=[
            {"points": config["threshold"], "coupon": {"kind": "percent", "value": "5"}},
            {"points": config["threshold"] * 3, "coupon": {"kind": "percent", "value": "20"}},
        ])  # fmt: skip
    for name in config["rules"]:
        kind, parameters = RULES[name]
        EarningRule.objects.create(program=program, kind=kind, name=name, parameters=parameters)
    today = timezone.localdate()
    for name in config["campaigns"]:
        Campaign.objects.create(
            program=program, name=name, start_date=today - timedelta(days=50),
            end_date=today + timedelta(days=5), **CAMPAIGNS[name],
        )  # fmt: skip
    for external_id, balance in sorted(config["existing"].items()):  # "ana", the referrer, first
        member = MemberFactory(program=program, external_id=external_id, balance=0)
        if balance:
            order_record(program=program, external_id=f"old-{external_id}", amount=Decimal(balance),
                         member_external_id=external_id, currency="EUR")  # fmt: skip
        if config["referral"] and external_id != "ana":
            Member.objects.filter(pk=member.pk).update(referred_by=Member.objects.get(
                program=program, external_id="ana"))  # fmt: skip
    if config["webhook"]:
        WebhookEndpoint.objects.create(merchant=program.merchant, url="https://hooks.example.com/",
                                       events=list(WebhookEvent.values))  # fmt: skip
    if config["referral"]:
        EarningRule.objects.create(
            program=program, kind="referral", name="ref",
            parameters={"referrer_points": 100, "referred_points": 40},
        )  # fmt: skip
    return program


def _state(program: Program) -> dict:
    """Everything the orders left, with random coupon codes taken out."""

    def plain(text: str) -> str:
        return re.sub(r"coupon [A-Z0-9-]+", "coupon CODE", text)

    members = {}
    for member in Member.objects.filter(program=program).order_by("external_id"):
        members[member.external_id] = {
            "balance": member.balance,
            "pending": member.pending,
            "tier": member.tier.name if member.tier else None,
            "last_order_at": member.last_order_at,
            "points_expire_at": member.points_expire_at,
            "ledger": [
                (
                    e.kind,
                    e.points,
                    e.balance_after,
                    plain(e.reason),
                    e.order.external_id if e.order else None,
                )
                for e in LedgerEntry.objects.filter(member=member)
                .select_related("order")
                .order_by("id")
            ],  # fmt: skip
            "coupons": sorted(
                (c.points_spent, str(c.value), c.order.external_id if c.order else None)
                for c in Coupon.objects.filter(member=member).select_related("order")
            ),
            "tiers": list(
                TierChange.objects.filter(member=member)
                .order_by("id")
                .values_list("kind", "to_name", "reason")
            ),  # fmt: skip
        }
    orders = {
        o.external_id: (o.member.external_id, o.points_earned, o.balance_after, o.earning)
        for o in Order.objects.filter(program=program).select_related("member")
    }
    # Webhook deliveries, without what names rows (ids, coupon codes).
    hooks = sorted(
        (row.event, sorted((k, str(v)) for k, v in row.payload.items() if k != "coupon"))
        for row in WebhookDelivery.objects.filter(endpoint__merchant=program.merchant)
    )
    return {"members": members, "orders": orders, "hooks": hooks}


def _outcome_of_single(program: Program, order: dict):
    try:
        result = order_record(program=program, **_args(order))
    except LoyaltyError as error:
        return ("error", error.code)
    return ("created" if result.created else "replayed", result.order.points_earned,
            result.balance, len(result.coupons_issued))  # fmt: skip


def _outcome_of_batch(outcome):
    if outcome.error is not None:
        return ("error", outcome.error.code)
    result = outcome.result
    return (outcome.status, result.order.points_earned, result.balance,
            len(result.coupons_issued))  # fmt: skip


def _args(order: dict) -> dict:
    return {"external_id": order["external_id"], "member_external_id": order["member"],
            "amount": order["amount"], "currency": order["currency"],
            "placed_at": order.get("placed_at"), "lines": order.get("lines")}  # fmt: skip


orders_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "member": st.sampled_from(MEMBERS),
            "amount": st.sampled_from(["0", "5.55", "49.99", "120", "310.10", "-3", "12.345"]),
            "days_ago": st.sampled_from([0, 0, 1, 40, 100]),
            "same_as": st.sampled_from([None, None, None, 0, 1]),
            "currency": st.sampled_from(["EUR", "EUR", "EUR", "usd"]),
            "lines": st.sampled_from(
                [None, [{"sku": "s", "category": "x", "quantity": 2, "amount": "20.00"}]]
            ),  # fmt: skip
        }
    ),
    min_size=1,
    max_size=14,
)
config_strategy = st.fixed_dictionaries(
    {
        "rate": st.sampled_from(["10", "2.5", "0.3333"]),
        "pending_days": st.sampled_from([0, 0, 0, 14]),
        "reset_validity": st.sampled_from([True, True, False]),
        "tiers": st.booleans(),
        "threshold": st.sampled_from([None, 500, 1200]),
        "rules": st.sets(st.sampled_from(sorted(RULES))),
        "campaigns": st.sets(st.sampled_from(sorted(CAMPAIGNS))),
        "existing": st.dictionaries(st.sampled_from(MEMBERS), st.sampled_from([0, 30, 119])),
        "referral": st.sampled_from([False, False, True]),
        "webhook": st.booleans(),
    }
)


def _orders(raw: list[dict], now) -> list[dict]:
    orders = []
    for n, item in enumerate(raw):
        external_id = f"o-{n}"
        if item["same_as"] is not None and item["same_as"] < n:
            external_id = f"o-{item['same_as']}"  # sent twice: a replay or a conflict
        orders.append({
            "external_id": external_id, "member": item["member"],
            "amount": Decimal(item["amount"]), "currency": item["currency"],
            "placed_at": now - timedelta(days=item["days_ago"]), "lines": item["lines"],
        })  # fmt: skip
    return orders


@settings(
    max_examples=int(os.environ.get("BATCH_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(config=config_strategy, raw=orders_strategy)
def test_a_batch_leaves_exactly_what_the_same_orders_one_by_one_leave(config, raw):
    if config["referral"]:
        config["existing"].setdefault("ana", 0)
    now = timezone.now()
    orders = _orders(raw, now)
    # One clock for both runs: a grant's expiry counts from "now", which would differ.
    with time_machine.travel(now, tick=False):
        batch_program, single_program = _program(config), _program(config)
        batch = [_outcome_of_batch(o) for o in orders_record_batch(program=batch_program,
                                                                  orders=orders)]  # fmt: skip
        # One by one in the batch's sequence: members by external id, each in the order sent.
        sequence = sorted(range(len(orders)), key=lambda i: orders[i]["member"])
        single: list = [None] * len(orders)
        for index in sequence:
            single[index] = _outcome_of_single(single_program, orders[index])

    assert batch == single
    batch_state, single_state = _state(batch_program), _state(single_program)
    assert batch_state["orders"] == single_state["orders"]
    assert batch_state["hooks"] == single_state["hooks"]
    for name in MEMBERS:  # member by member and field by field: a readable difference
        one, other = batch_state["members"].get(name, {}), single_state["members"].get(name, {})
        differences = {k: (one.get(k), other.get(k)) for k in one | other
                       if one.get(k) != other.get(k)}  # fmt: skip
        assert not differences, (name, differences)
    assert ledger_audit() == []


PLAIN = {"rate": "10", "pending_days": 0, "reset_validity": True, "tiers": True,
         "threshold": None, "rules": set(), "campaigns": set(), "existing": {},
         "referral": False, "webhook": False}  # fmt: skip


def test_a_batch_writes_its_orders_entries_and_members_in_a_fixed_number_of_statements():
    program = _program(PLAIN)
    MemberFactory(program=program, external_id="known")

    def statements(count: int, start: int) -> int:
        orders = [
            {"external_id": f"q-{start + n}", "member": "known" if n % 2 else f"n-{start + n}",
             "amount": Decimal("12.50"), "currency": "EUR"}
            for n in range(count)
        ]  # fmt: skip
        with CaptureQueriesContext(connection) as ctx:
            outcomes = orders_record_batch(program=program, orders=orders)
        assert all(o.status == "created" for o in outcomes)
        return len(ctx.captured_queries)

    assert statements(10, 0) == statements(200, 1000)


def test_a_conversion_in_a_batch_costs_a_fixed_number_of_statements_too():
    program = _program(PLAIN | {"tiers": False, "threshold": 500})
    orders = [{"external_id": f"c-{n}", "member": f"m-{n % 5}", "amount": Decimal("50"),
               "currency": "EUR"} for n in range(50)]  # fmt: skip
    with CaptureQueriesContext(connection) as ctx:
        outcomes = orders_record_batch(program=program, orders=orders)
    coupons = sum(len(o.result.coupons_issued) for o in outcomes)
    assert coupons == 50
    # Coupons and their events go in with the orders and entries: no statement per coupon
    # beyond the notification (these members have no email: none).
    assert len(ctx.captured_queries) < 25
    assert ledger_audit() == []


def test_a_batch_hands_its_webhook_deliveries_to_a_worker_once_after_commit(
    django_capture_on_commit_callbacks,
):
    program = _program(PLAIN | {"webhook": True})
    orders = [{"external_id": f"w-{n}", "member": f"m-{n % 3}", "amount": Decimal("20"),
               "currency": "EUR"} for n in range(30)]  # fmt: skip
    with (
        mock.patch("notifications.services.webhooks.webhooks_hand_off") as hand_off,
        django_capture_on_commit_callbacks(execute=True),
    ):
        orders_record_batch(program=program, orders=orders)

    rows = WebhookDelivery.objects.filter(endpoint__merchant=program.merchant)
    # An order_recorded and a points_earned event for each order, and the tier changes.
    assert rows.filter(event__in=["order_recorded", "points_earned"]).count() == 60
    assert rows.filter(event="tier_changed").count() == 6
    assert hand_off.call_count == 1
    assert sorted(hand_off.call_args.args[0]) == sorted(rows.values_list("pk", flat=True))


def test_a_webhook_event_written_before_is_kept_once_in_a_batch():
    program = _program(PLAIN | {"webhook": True})
    endpoint = WebhookEndpoint.objects.get(merchant=program.merchant)
    # The order_recorded event of w-1, as if written by an earlier attempt.
    WebhookDelivery.objects.create(
        endpoint=endpoint, event="order_recorded", dedupe_key="order_recorded:w-1",
        payload={"old": True},
    )  # fmt: skip
    orders = [{"external_id": f"w-{n}", "member": "m", "amount": Decimal("20"),
               "currency": "EUR"} for n in range(3)]  # fmt: skip

    outcomes = orders_record_batch(program=program, orders=orders)

    assert [o.status for o in outcomes] == ["created"] * 3
    kept = WebhookDelivery.objects.get(dedupe_key="order_recorded:w-1")
    assert kept.payload == {"old": True}
    assert WebhookDelivery.objects.filter(event="order_recorded").count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_id_taken_by_another_writer_mid_batch_is_a_conflict_and_the_rest_written_once():
    """Another member's order takes one of the batch's external ids after the batch looked
    them up: the batch's flush meets it, everything is rolled back and run again, where that
    order is a conflict and the others are recorded once."""
    program = _program(PLAIN | {"threshold": 500})
    orders = [{"external_id": f"x-{n}", "member": f"m-{n % 3}", "amount": Decimal("30"),
               "currency": "EUR"} for n in range(9)]  # fmt: skip
    holding, release = threading.Event(), threading.Event()

    def other_writer():
        try:
            with transaction.atomic():
                order_record(program=program, external_id="x-4", member_external_id="other",
                             amount=Decimal("5"), currency="EUR")  # fmt: skip
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    outcomes: list = []

    def batch():
        try:
            outcomes.extend(orders_record_batch(program=program, orders=orders))
        finally:
            connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert holding.wait(30)
    sender = threading.Thread(target=batch)
    sender.start()
    time.sleep(1)  # the batch reaches its insert and waits on the other writer's row
    release.set()
    writer.join(30)
    sender.join(60)

    assert [o.status for o in outcomes] == ["created"] * 4 + ["error"] + ["created"] * 4
    assert outcomes[4].error.code == "order_conflict"
    assert Order.objects.filter(program=program).count() == 9  # 8 of the batch, 1 of "other"
    # m-1 earned 300 on x-1 (reaching Gold) and 450 on x-7 (x 1.5; x-4 was refused): 750,
    # of which 500 became a coupon.
    assert Member.objects.get(program=program, external_id="m-1").balance == 250
    assert ledger_audit() == []


def test_a_bug_in_one_order_of_a_batch_writes_nothing_of_the_batch():
    """Every refusal of an order comes before anything of it is written; an exception after
    that is a bug, and the batch's one transaction keeps it from leaving half an order."""
    from loyalty.services import order_writer

    program = _program(PLAIN)
    real = order_writer.webhook_enqueue

    def broken_for_bo(**kwargs):
        if kwargs["payload"].get("member") == "bo":
            raise RuntimeError("a bug")
        return real(**kwargs)

    orders = [{"external_id": f"r-{n}", "member": name, "amount": Decimal("10"),
               "currency": "EUR"} for n, name in enumerate(["ana", "bo", "cy"])]  # fmt: skip
    with (
        mock.patch.object(order_writer, "webhook_enqueue", side_effect=broken_for_bo),
        pytest.raises(RuntimeError, match="a bug"),
    ):
        orders_record_batch(program=program, orders=orders)

    assert not Order.objects.filter(program=program).exists()
    assert not Member.objects.filter(program=program).exists()
    assert ledger_audit() == []
