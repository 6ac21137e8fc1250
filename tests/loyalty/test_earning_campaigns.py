"""Campaigns: time-boxed multipliers and fixed bonuses in the merchant's time zone,
limited to tiers or a member segment, stacked by the stated rule."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.errors import InvalidInput
from loyalty.models import Campaign, EarningRule, LedgerEntry
from loyalty.rules.earning import STACKING_RULE, earn_breakdown
from loyalty.services.earning import campaign_check, program_campaigns, segment_check
from loyalty.services.earning_rules import program_rules
from loyalty.services.orders import order_record
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

NO_PARTS = {p: Decimal(0) for p in ("discount", "shipping", "tax", "paid_with_gift_card")}


def campaign(program, name="Campaign", start=date(2025, 12, 1), end=date(2025, 12, 31), **kw):
    return Campaign.objects.create(program=program, name=name, start_date=start, end_date=end, **kw)


def record(program, external_id="A-1", member="cust-1", amount="10.00", placed_at=None):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency=program.currency,
        placed_at=placed_at or datetime(2025, 12, 10, 12, tzinfo=UTC),
    )


def breakdown(program, member=None, amount="10.00", placed_at=None, tier=None):
    """The rule itself, with the program's settings and nothing earned before."""
    return earn_breakdown(
        program=program,
        member=member,
        external_id="Q",
        amount=Decimal(amount),
        currency=program.currency,
        breakdown=NO_PARTS,
        lines=[],
        placed_at=placed_at or datetime(2025, 12, 10, 12, tzinfo=UTC),
        rules=program_rules(program),
        campaigns=program_campaigns(program),
        tier=tier or (Decimal(1), None),
        earned=lambda start, end: 0,
    )


def test_double_points_campaign_names_itself_in_the_reason(db):
    program = ProgramFactory(earn_rate=Decimal(10))
    campaign(program, "Double December", multiplier=Decimal(2))

    result = record(program, amount="10.00")

    assert result.order.points_earned == 200
    reason = LedgerEntry.objects.get(kind="earn").reason
    assert "Double December" in reason
    assert reason.endswith("x 10 points x 2 campaign 'Double December' = 200 points")


def test_multipliers_multiply_and_only_the_largest_fixed_bonus_applies(db):
    program = ProgramFactory(earn_rate=Decimal(10))
    campaign(program, "x2", multiplier=Decimal(2))
    campaign(program, "x1.5", multiplier=Decimal("1.5"))
    campaign(program, "+500", fixed_bonus=500)
    campaign(program, "+100", fixed_bonus=100)

    result = breakdown(program, amount="10.00", tier=(Decimal("1.1"), "Gold"))

    # 100 x 2 x 1.5 x 1.1 = 330, + 500 (the largest fixed bonus only)
    assert result.total == 830
    assert [step.points_after for step in result.multipliers] == [200, 300, 330]
    assert [c.campaign for c in result.campaigns if c.multiplier is None] == ["+500"]
    assert "multiply" in str(STACKING_RULE)


def test_fixed_bonus_over_a_minimum_amount(db):
    program = ProgramFactory(earn_rate=Decimal(1))
    campaign(program, "+500 over 80", fixed_bonus=500, min_order_amount=Decimal(80))

    assert breakdown(program, amount="79.99").total == 79
    assert breakdown(program, amount="80.00").total == 580


def test_campaign_ends_at_midnight_in_the_merchants_time_zone(db):
    program = ProgramFactory(earn_rate=Decimal(1), time_zone="Europe/Madrid")
    campaign(
        program, "Weekend", start=date(2025, 12, 5), end=date(2025, 12, 6), multiplier=Decimal(2)
    )
    midnight = datetime(2025, 12, 6, 23, 0, tzinfo=UTC)  # 7 December 00:00 in Madrid

    last_moment = breakdown(program, amount="10.00", placed_at=midnight - timedelta(seconds=1))
    after = breakdown(program, amount="10.00", placed_at=midnight)
    first_moment = breakdown(program, placed_at=datetime(2025, 12, 4, 23, tzinfo=UTC))

    assert (last_moment.total, after.total, first_moment.total) == (20, 10, 20)


def test_campaign_limited_to_tiers(db):
    program = ProgramFactory(earn_rate=Decimal(1))
    campaign(program, "Gold only", multiplier=Decimal(3), tiers=["Gold"])

    assert breakdown(program, tier=(Decimal(1), "Gold")).total == 30
    assert breakdown(program, tier=(Decimal(1), "Silver")).total == 10
    assert breakdown(program).total == 10


def test_campaign_limited_to_a_segment(db):
    program = ProgramFactory(earn_rate=Decimal(1))
    campaign(program, "Spanish customers", fixed_bonus=7, segment={"locale__in": ["es"]})
    spanish = MemberFactory(program=program, locale="es")
    english = MemberFactory(program=program, locale="en")

    assert breakdown(program, member=spanish).total == 17
    assert breakdown(program, member=english).total == 10
    assert breakdown(program, member=None).total == 10


def test_inactive_campaigns_do_not_apply(db):
    program = ProgramFactory(earn_rate=Decimal(1))
    campaign(program, multiplier=Decimal(2), active=False)

    assert breakdown(program).total == 10


def test_cap_applies_after_campaigns(db):
    program = ProgramFactory(earn_rate=Decimal(10))
    campaign(program, multiplier=Decimal(2))
    EarningRule.objects.create(
        program=program, kind="cap_day", name="Daily cap", parameters={"points": 150}
    )

    result = record(program, amount="10.00")

    assert result.order.points_earned == 150
    assert result.order.earning["cap"]["cut"] == 50


@pytest.mark.parametrize(
    "segment",
    [
        {"balance__gte": 10},  # not a member field on the list
        {"program__merchant__slug": "x"},  # no paths into other tables
        {"email__regex": ".*"},  # no such lookup
        {"consent_email__gte": True},
        {"locale__in": "es"},
        {"birth_date__gte": "not a date"},
        [],
    ],
)
def test_unsafe_or_bad_segments_are_refused(segment):
    with pytest.raises(InvalidInput):
        segment_check(segment)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_date": date(2025, 11, 30)}, "end_date"),
        ({"multiplier": Decimal(1), "fixed_bonus": 0}, "multiplier"),
        ({"multiplier": Decimal("0.5")}, "multiplier"),
        ({"tiers": "Gold"}, "tiers"),
    ],
)
def test_bad_campaigns_are_refused(changes, field):
    values = {
        "start_date": date(2025, 12, 1),
        "end_date": date(2025, 12, 31),
        "multiplier": Decimal(2),
        "fixed_bonus": 0,
        "tiers": [],
        "segment": {},
        **changes,
    }
    with pytest.raises(InvalidInput) as raised:
        campaign_check(**values)

    assert field in raised.value.fields
