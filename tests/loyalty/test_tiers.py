"""Tiers through the services: window edges, multiplier arithmetic, up at once, down only by
the daily job, grace, refunds, counting grants, the rating condition, overrides, notices."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.errors import InvalidInput
from loyalty.models import LedgerEntry, Member, TierChange
from loyalty.selectors import member_summary
from loyalty.selectors.tiers import tier_status
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.refunds import refund_record
from loyalty.services.tier_job import keep_ask, tier_keep, tiers_evaluate
from loyalty.services.tier_settings import tiers_replace, tiers_seed_defaults
from loyalty.services.tiers import tier_multiplier, tier_override
from loyalty.storage import accounts
from notifications.models import Event, Notification
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def program():
    program = ProgramFactory(earn_rate=Decimal(1))  # 1 point per 1.00: amounts are points
    tiers_seed_defaults(program=program)
    return program


def tiers_of(program):
    return {t.name: t for t in program.tiers.all()}


def order(program, external_id, amount, *, member="m-1", placed_at=None):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency="EUR",
        placed_at=placed_at,
    )


def tier_name(external_id="m-1"):
    member = Member.objects.select_related("tier").get(external_id=external_id)
    return member.tier.name if member.tier else None


def test_default_tiers_are_gold_platinum_diamond_in_90_days(program):
    tiers = list(
        program.tiers.order_by("min_points").values_list("name", "min_points", "window_days")
    )
    assert tiers == [("Gold", 200, 90), ("Platinum", 1000, 90), ("Diamond", 2000, 90)]


def test_an_order_that_reaches_the_minimum_lifts_the_member_at_once(program):
    order(program, "A-1", "199")
    assert tier_name() is None
    order(program, "A-2", "1")
    assert tier_name() == "Gold"
    change = TierChange.objects.get()
    assert (change.from_name, change.to_name, change.kind) == ("", "Gold", "up")
    assert "200 points in 90 days" in change.reason


def test_one_big_order_jumps_straight_to_the_highest_tier_it_reaches(program):
    order(program, "A-1", "2500")
    assert tier_name() == "Diamond"
    assert TierChange.objects.count() == 1


def test_a_point_placed_exactly_90_days_ago_still_counts(program):
    now = timezone.now()
    order(program, "OLD", "150", placed_at=now - timedelta(days=90) + timedelta(seconds=5))
    order(program, "NEW", "50")
    assert tier_name() == "Gold"


def test_a_point_placed_a_moment_more_than_90_days_ago_does_not_count(program):
    now = timezone.now()
    order(program, "OLD", "150", placed_at=now - timedelta(days=90, seconds=1))
    order(program, "NEW", "50")
    assert tier_name() is None


def test_the_window_edge_is_inclusive_at_the_same_instant(program):
    now = timezone.now()
    placed = now - timedelta(days=90)
    order(program, "A-1", "200", placed_at=placed)
    member = Member.objects.get()
    member.program = program
    # Evaluated at exactly 90 days after the order: it counts; a microsecond later: it does not.
    status_edge = tier_status(member=member, now=placed + timedelta(days=90))
    status_after = tier_status(member=member, now=placed + timedelta(days=90, microseconds=1))
    assert status_edge["next_tier"]["window_points"] == 200
    assert status_after["next_tier"]["window_points"] == 0


def test_late_recorded_orders_count_from_when_they_were_placed(program):
    order(program, "A-1", "300", placed_at=timezone.now() - timedelta(days=100))
    assert tier_name() is None


def test_the_multiplier_applies_to_future_orders_and_rounds_down(program):
    tiers_replace(
        program=program,
        tiers=[{"name": "Platinum", "min_points": 100, "earn_multiplier": "1.5"}],
    )
    first = order(program, "A-1", "100")  # reaches Platinum: earned at the old rate
    assert first.order.points_earned == 100
    second = order(program, "A-2", "10.99")  # 10.99 x 1 x 1.5 = 16.485 -> 16
    assert second.order.points_earned == 16
    entry = LedgerEntry.objects.get(order=second.order)
    assert entry.reason == "Order #A-2: 10.99 EUR x 1 points x 1.5 Platinum = 16 points"
    assert entry.details["tier_multiplier"] == "1.500"
    assert entry.details["tier"] == "Platinum"


def test_multiplier_arithmetic_with_the_program_rate(program):
    program.earn_rate = Decimal(10)
    program.save()
    tiers_replace(
        program=program, tiers=[{"name": "Gold", "min_points": 0, "earn_multiplier": 1.25}]
    )
    # A zero-point tier is reached by the first order that earns anything.
    order(program, "A-0", "0.10")
    result = order(program, "A-1", "3.33")  # 3.33 x 10 x 1.25 = 41.625 -> 41
    assert result.order.points_earned == 41
    member = Member.objects.get()
    assert tier_multiplier(member=member) == (Decimal("1.250"), "Gold")


def test_no_multiplier_line_without_a_tier(program):
    result = order(program, "A-1", "10")
    assert LedgerEntry.objects.get(order=result.order).reason == (
        "Order #A-1: 10.00 EUR x 1 points = 10 points"
    )


def test_a_refund_does_not_downgrade_at_once_but_the_job_does(program):
    order(program, "A-1", "250")
    assert tier_name() == "Gold"
    refund_record(program=program, order_external_id="A-1", external_id="R-1", amount=Decimal(100))
    assert tier_name() == "Gold"  # no immediate downgrade
    run = tiers_evaluate()
    assert tier_name() is None
    assert run.down == 1
    change = TierChange.objects.order_by("-id").first()
    assert change.kind == "down"
    assert "150 points in 90 days, 200 needed" in change.reason


def test_a_refund_lowers_the_window_of_its_order(program):
    order(program, "A-1", "250", placed_at=timezone.now() - timedelta(days=10))
    refund_record(program=program, order_external_id="A-1", external_id="R-1", amount=Decimal(60))
    member = Member.objects.get()
    member.program = program
    assert tier_status(member=member)["next_tier"] == {
        "name": "Platinum",
        "name_i18n": {"es": "Platino", "ru": "Платина", "tr": "Platin"},
        "min_points": 1000,
        "points_missing": 810,
        "window_points": 190,
        "min_rating": None,
    }


def test_downgrade_happens_only_when_the_job_runs(program):
    now = timezone.now()
    order(program, "A-1", "250", placed_at=now - timedelta(days=89))
    assert tier_name() == "Gold"
    # Two days later the order is out of the window; nothing happens until the job runs.
    later = now + 2 * DAY
    assert tier_name() == "Gold"
    tiers_evaluate(now=later)
    assert tier_name() is None


def test_the_job_keeps_members_who_are_still_above(program):
    order(program, "A-1", "250")
    run = tiers_evaluate()
    assert run.down == 0
    assert tier_name() == "Gold"
    assert TierChange.objects.count() == 1


def test_running_the_job_twice_changes_nothing_the_second_time(program):
    order(program, "A-1", "250", placed_at=timezone.now() - timedelta(days=80))
    later = timezone.now() + 30 * DAY
    first = tiers_evaluate(now=later)
    second = tiers_evaluate(now=later)
    assert (first.down, second.down) == (1, 0)
    assert TierChange.objects.filter(kind="down").count() == 1


def test_downgrade_goes_to_the_tier_the_points_still_give(program):
    now = timezone.now()
    order(program, "A-1", "900", placed_at=now - timedelta(days=80))
    order(program, "A-2", "300", placed_at=now - timedelta(days=5))
    assert tier_name() == "Platinum"
    tiers_evaluate(now=now + 20 * DAY)  # A-1 left the window: 300 points remain
    assert tier_name() == "Gold"


def test_grace_days_keep_the_tier_longer(program):
    program.tier_grace_days = 14
    program.save()
    now = timezone.now()
    order(program, "A-1", "250", placed_at=now - timedelta(days=89))
    tiers_evaluate(now=now + 10 * DAY)  # out of the 90-day window, inside 90 + 14
    assert tier_name() == "Gold"
    tiers_evaluate(now=now + 16 * DAY)  # out of 104 days too
    assert tier_name() is None


def test_grace_does_not_help_to_reach_a_tier(program):
    program.tier_grace_days = 30
    program.save()
    order(program, "A-1", "150", placed_at=timezone.now() - timedelta(days=100))
    order(program, "A-2", "60")
    assert tier_name() is None


def test_grants_count_only_when_flagged(program):
    order(program, "A-1", "10")
    points_grant(program=program, member_external_id="m-1", points=500, reason="Sorry")
    assert tier_name() is None
    points_grant(
        program=program, member_external_id="m-1", points=190, reason="Promo", counts_for_tier=True
    )
    assert tier_name() == "Gold"


def test_a_deduction_cannot_count_toward_tiers(program):
    order(program, "A-1", "10")
    with pytest.raises(InvalidInput):
        points_grant(
            program=program, member_external_id="m-1", points=-5, reason="x", counts_for_tier=True
        )


def test_rewards_and_expiry_do_not_lower_window_points(program):
    from loyalty.services.expiry import points_expire

    order(program, "A-1", "250", placed_at=timezone.now() - timedelta(days=1))
    Member.objects.update(points_expire_at=timezone.now() - DAY)
    points_expire()
    assert Member.objects.get().balance == 0
    tiers_evaluate()
    assert tier_name() == "Gold"


def test_the_rating_condition(program):
    tiers_replace(
        program=program,
        tiers=[
            {"name": "Gold", "min_points": 200},
            {"name": "Star", "min_points": 300, "min_rating": "4.7"},
        ],
    )
    member_upsert(program=program, external_id="m-1", rating=Decimal("4.6"))
    order(program, "A-1", "400")
    assert tier_name() == "Gold"  # enough points, rating too low
    member_upsert(program=program, external_id="m-1", rating=Decimal("4.7"))
    order(program, "A-2", "1")
    assert tier_name() == "Star"
    # The rating falls: down only by the job.
    member_upsert(program=program, external_id="m-1", rating=Decimal("4.2"))
    assert tier_name() == "Star"
    tiers_evaluate()
    assert tier_name() == "Gold"


def test_a_member_without_a_rating_does_not_meet_a_rating_condition(program):
    tiers_replace(program=program, tiers=[{"name": "Star", "min_points": 10, "min_rating": 1}])
    order(program, "A-1", "100")
    assert tier_name() is None


def test_a_rating_upsert_without_rating_keeps_it(program):
    member_upsert(program=program, external_id="m-1", rating=Decimal("4.5"))
    member_upsert(program=program, external_id="m-1", name="Ann")
    assert Member.objects.get().rating == Decimal("4.50")
    with pytest.raises(InvalidInput):
        member_upsert(program=program, external_id="m-1", rating="lots")


def test_override_holds_until_its_end_then_the_points_decide(program):
    order(program, "A-1", "250")
    member = Member.objects.get()
    diamond = tiers_of(program)["Diamond"]
    now = timezone.now()
    tier_override(member=member, tier=diamond, reason="VIP event", until=now + 10 * DAY)
    assert tier_name() == "Diamond"
    tiers_evaluate(now=now + 5 * DAY)
    assert tier_name() == "Diamond"  # the job leaves an override alone
    run = tiers_evaluate(now=now + 11 * DAY)
    assert run.overrides_ended == 1
    assert tier_name() == "Gold"
    kinds = list(TierChange.objects.order_by("id").values_list("kind", "to_name"))
    assert kinds == [("up", "Gold"), ("override", "Diamond"), ("override_end", "Gold")]
    assert Member.objects.get().tier_override_until is None


def test_override_needs_a_reason_and_a_future_end(program):
    member = Member.objects.create(program=program, external_id="m-1")
    gold = tiers_of(program)["Gold"]
    with pytest.raises(InvalidInput) as error:
        tier_override(member=member, tier=gold, reason=" ", until=timezone.now() - DAY)
    assert set(error.value.fields) == {"reason", "until"}
    assert TierChange.objects.count() == 0


def reachable(program, external_id="m-1"):
    member_upsert(
        program=program, external_id=external_id, email="m@example.com", consent_email=True
    )


def test_tier_changes_notify_the_member(program):
    reachable(program)
    order(program, "A-1", "250")
    notification = Notification.objects.get(event=Event.TIER_CHANGED, channel="email")
    assert "Gold" in notification.content["subject"]


def test_summary_shows_tier_perks_safe_until_and_what_keeps_it(program):
    now = timezone.now()
    order(program, "A-1", "150", placed_at=now - timedelta(days=30))
    order(program, "A-2", "1000", placed_at=now - timedelta(days=10))
    member = Member.objects.get()
    member.program = program
    summary = member_summary(member=member)
    tier = summary["tier"]
    assert tier["name"] == "Platinum"
    assert tier["flags"] == ["badge_card"]  # early access is Diamond's alone
    assert tier["earn_multiplier"] == Decimal("1.5")
    # A-1 leaves the window 90 days after it was placed; without it 1000 points remain,
    # still enough. A-2 leaves at day 80 from now: then nothing is left.
    assert tier["safe_until"] == timezone.localdate(now - timedelta(days=10) + timedelta(days=90))
    assert tier["keep"] == {"points_needed": 1000, "by": tier["safe_until"]}
    assert summary["next_tier"]["name"] == "Diamond"
    assert summary["next_tier"]["points_missing"] == 850


def test_keep_counts_what_still_counts_after_the_deadline(program):
    tier = tiers_of(program)["Platinum"]
    now = timezone.now()
    order(program, "A-1", "700", placed_at=now - timedelta(days=60))
    order(program, "A-2", "400", placed_at=now - timedelta(days=20))
    member = Member.objects.get()
    asks = {member.pk: keep_ask(tier=tier, grace=0, now=now)}
    standing = accounts.keep_standings(asks=asks)[member.pk]
    second = LedgerEntry.objects.get(order__external_id="A-2").points  # Gold's multiplier on
    assert standing == accounts.KeepStanding(
        points=700 + second, falls_at=now - timedelta(days=60), left=second
    )
    safe_until, keep = tier_keep(tier=tier, standing=standing, grace=0, now=now)
    assert safe_until == timezone.localdate(now + timedelta(days=30))
    assert keep.points_needed == 1000 - second
    assert keep.by == safe_until


def test_keep_standing_sums_what_counts_in_the_window_and_nothing_else(program):
    """Orders placed before the window, entries that don't count, another member's
    points, and a grant that counts (written now, without an order) each where they go."""
    now = timezone.now()
    order(program, "OLD", "5000", placed_at=now - timedelta(days=91))
    order(program, "A-1", "300", placed_at=now - timedelta(days=50))
    order(program, "A-2", "300", placed_at=now - timedelta(days=10))
    order(program, "B-1", "9000", member="m-2", placed_at=now - timedelta(days=5))
    member = Member.objects.get(external_id="m-1")
    points_grant(program=program, member_external_id="m-1", points=77, reason="no tier")
    points_grant(
        program=program, member_external_id="m-1", points=400, reason="counts", counts_for_tier=True
    )
    start = now - timedelta(days=90)
    ask = accounts.StandingAsk(keep_from=start, need=1000, count_from=now - timedelta(days=20))
    standing = accounts.keep_standings(asks={member.pk: ask})[member.pk]
    newer = LedgerEntry.objects.get(order__external_id="A-2").points  # Gold's multiplier on
    # 300 + newer + 400, and the oldest 300 leaving leaves newer + 400, below 1000.
    assert standing == accounts.KeepStanding(
        points=700 + newer, falls_at=now - timedelta(days=50), left=400 + newer, counted=400 + newer
    )
    assert accounts.window_sums(member_ids=[member.pk], days={90, 20}, now=now)[member.pk] == {
        90: 700 + newer,
        20: 400 + newer,
    }
    nobody = accounts.keep_standings(asks={10**9: ask})
    assert nobody == {10**9: accounts.KeepStanding(points=0)}


def test_keep_notice_goes_out_within_the_notice_days_once(program):
    program.tier_notice_days = 14
    program.save()
    reachable(program)
    now = timezone.now()
    order(program, "A-1", "250", placed_at=now - timedelta(days=80))
    run = tiers_evaluate(now=now)
    assert run.notices == 1
    notice = Notification.objects.get(event=Event.TIER_EXPIRING, channel="email")
    by = timezone.localdate(now - timedelta(days=80) + timedelta(days=90))
    assert "Earn 200 points by" in notice.content["body_text"]
    assert notice.dedupe_key == f"tier_expiring:keep:{program.tiers.get(name='Gold').pk}:{by}:email"
    assert tiers_evaluate(now=now).notices == 0


def test_no_notice_while_the_tier_is_safe_beyond_the_notice_days(program):
    order(program, "A-1", "250", placed_at=timezone.now() - timedelta(days=10))
    assert tiers_evaluate().notices == 0


def test_tiers_replace_keeps_rows_by_name_and_refuses_bad_input(program):
    gold = tiers_of(program)["Gold"]
    tiers_replace(program=program, tiers=[{"name": "gold", "min_points": 300}])
    assert list(program.tiers.values_list("pk", "name", "min_points")) == [(gold.pk, "gold", 300)]
    with pytest.raises(InvalidInput) as error:
        tiers_replace(
            program=program,
            tiers=[
                {"name": "A", "min_points": 10, "earn_multiplier": "0.5"},
                {"name": "a", "min_points": 10, "flags": ["Bad Flag"]},
            ],
        )
    assert set(error.value.fields) == {
        "tiers.0.earn_multiplier",
        "tiers.1.name",
        "tiers.1.min_points",
        "tiers.1.flags",
    }
    assert program.tiers.count() == 1


def test_tiers_replace_can_swap_points_between_tiers(program):
    tiers_replace(
        program=program,
        tiers=[{"name": "Gold", "min_points": 1000}, {"name": "Platinum", "min_points": 200}],
    )
    assert dict(program.tiers.values_list("name", "min_points")) == {
        "Gold": 1000,
        "Platinum": 200,
    }


def test_removing_a_tier_leaves_its_members_to_the_job(program):
    order(program, "A-1", "250")
    tiers_replace(program=program, tiers=[{"name": "Silver", "min_points": 100}])
    assert tier_name() is None
    tiers_evaluate()
    assert tier_name() == "Silver"
    kinds = list(TierChange.objects.order_by("id").values_list("kind", "from_name", "to_name"))
    assert kinds == [("up", "", "Gold"), ("down", "Gold", ""), ("up", "", "Silver")]


def test_the_safe_until_is_the_override_end_while_overridden(program):
    member = Member.objects.create(program=program, external_id="m-1")
    until = timezone.now() + 5 * DAY
    tier_override(member=member, tier=tiers_of(program)["Gold"], reason="Goodwill", until=until)
    member.refresh_from_db()
    member.program = program
    tier = tier_status(member=member)["tier"]
    assert tier["safe_until"] == timezone.localdate(until)
    assert tier["keep"] is None
    assert isinstance(tier["safe_until"], date)


def test_an_order_of_a_member_at_the_top_tier_does_not_count_the_window(program):
    order(program, "A-1", "2500.00")  # 2,500 points: Diamond
    assert tier_name() == "Diamond"

    with CaptureQueriesContext(connection) as ctx:
        order(program, "A-2", "10.00")

    assert tier_name() == "Diamond"
    assert not any("SUM(CASE WHEN" in q["sql"] for q in ctx.captured_queries)


def test_an_order_of_a_member_below_the_top_tier_counts_the_window(program):
    order(program, "A-1", "300.00")  # Gold
    with CaptureQueriesContext(connection) as ctx:
        order(program, "A-2", "10.00")

    assert any("SUM(CASE WHEN" in q["sql"] for q in ctx.captured_queries)
