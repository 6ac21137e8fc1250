"""Points into coupons at reward thresholds.

Automatic programs (the default) convert in the write that brings the balance to
a threshold, as often as the balance allows, largest threshold first; the ledger
shows each conversion as a `reward` entry naming the coupon. Customer's-choice
programs convert only when a reward is claimed.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import InsufficientPoints, InvalidInput, MemberNotFound
from loyalty.models import LedgerEntry, Member, Order, Program
from loyalty.rules.conversion import MAX_CONVERSIONS_PER_WRITE, next_reward
from loyalty.selectors import member_summary
from loyalty.services import conversion
from loyalty.services.conversion import reward_claim
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from rewards.errors import RewardNotFound, RewardsAutomatic
from rewards.models import Coupon, CouponEvent, RewardThreshold
from rewards.services.thresholds import thresholds_replace
from tests.factories import ProgramFactory
from tests.rewards.factories import CouponTemplateFactory, RewardThresholdFactory

pytestmark = pytest.mark.django_db

CHOICE = Program.ConversionMode.CHOICE


def earn(program, external_id, points, member="cust-1"):
    """Record an order that earns ``points`` (10 points per 1.00)."""
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(points) / 10,
        currency=program.currency,
    )


def grant(program, points, member="cust-1"):
    return points_grant(
        program=program, member_external_id=member, points=points, reason="Goodwill"
    )


def balance(program, member="cust-1"):
    return Member.objects.get(program=program, external_id=member).balance


def entries(program, member="cust-1"):
    return list(
        LedgerEntry.objects.filter(member__program=program, member__external_id=member)
        .order_by("id")
        .values_list("kind", "points", "balance_after")
    )


@pytest.fixture
def program_at_5000(db):
    """A program that turns 5,000 points into a 10% coupon."""
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=5000)
    return program


# -- automatic conversion ----------------------------------------------------------------------


def test_an_order_reaching_the_threshold_issues_a_coupon_in_the_same_write(program_at_5000):
    program = program_at_5000

    # when an order earns exactly the threshold
    result = earn(program, "A-1", 5000)

    # then the order's answer lists the coupon it issued
    [coupon] = result.coupons_issued
    assert (coupon.member.external_id, coupon.source, coupon.status) == (
        "cust-1",
        "reward",
        "active",
    )
    assert (coupon.points_spent, coupon.order_id, coupon.currency) == (5000, result.order.pk, "EUR")
    # and the ledger shows the points going into it, by name
    assert entries(program) == [("earn", 5000, 5000), ("reward", -5000, 0)]
    reward = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REWARD)
    assert reward.coupon == coupon
    assert reward.order == result.order
    assert coupon.display_code in reward.reason
    assert reward.reason.startswith(f"5000 points converted into coupon {coupon.display_code}: ")
    assert "10% off" in reward.reason
    # and the balances agree everywhere
    assert result.balance == 0
    assert Order.objects.get().balance_after == 0
    assert balance(program) == 0
    assert list(CouponEvent.objects.values_list("coupon", "kind")) == [(coupon.pk, "issued")]
    assert ledger_audit() == []


def test_a_failed_conversion_undoes_the_whole_order(program_at_5000, monkeypatch):
    # given issuing a coupon breaks half way through the order
    def broken(**kwargs):
        raise RuntimeError("coupon table unavailable")

    monkeypatch.setattr(conversion, "coupon_issue", broken)

    # when an order crosses the threshold
    with pytest.raises(RuntimeError):
        earn(program_at_5000, "A-1", 5000)

    # then nothing of it stays: earning and conversion are one transaction
    assert not Order.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert not Coupon.objects.exists()


def test_an_order_crossing_the_threshold_twice_issues_two_coupons(program_at_5000):
    program = program_at_5000

    result = earn(program, "A-1", 10_400)

    assert len(result.coupons_issued) == 2
    assert len({c.code for c in result.coupons_issued}) == 2
    assert result.balance == 400
    assert entries(program) == [
        ("earn", 10_400, 10_400),
        ("reward", -5000, 5400),
        ("reward", -5000, 400),
    ]
    assert Order.objects.get().balance_after == 400
    assert ledger_audit() == []


def test_an_order_below_the_threshold_converts_nothing_until_the_next_one_reaches_it(
    program_at_5000,
):
    program = program_at_5000

    first = earn(program, "A-1", 4999)
    second = earn(program, "A-2", 1)

    assert (first.coupons_issued, first.balance) == ([], 4999)
    [coupon] = second.coupons_issued
    assert coupon.order == second.order
    assert second.balance == 0
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("earned", "converted", "left"),
    [
        (999, [], 999),
        (1000, [1000], 0),
        (4999, [1000, 1000, 1000, 1000], 999),
        (5000, [5000], 0),
        (6500, [5000, 1000], 500),
        (11_500, [5000, 5000, 1000], 500),
    ],
)
def test_the_largest_threshold_converts_first(db, earned, converted, left):
    # given thresholds at 1000 (5% off) and 5000 (20% off)
    program = ProgramFactory()
    small = RewardThresholdFactory(program=program, points=1000, template__value=Decimal(5))
    large = RewardThresholdFactory(program=program, points=5000, template__value=Decimal(20))
    templates = {1000: small.template, 5000: large.template}

    result = earn(program, "A-1", earned)

    assert [c.points_spent for c in result.coupons_issued] == converted
    assert [c.template for c in result.coupons_issued] == [templates[p] for p in converted]
    assert [c.value for c in result.coupons_issued] == [templates[p].value for p in converted]
    assert result.balance == left
    assert ledger_audit() == []


def test_a_grant_reaching_the_threshold_converts(program_at_5000):
    program = program_at_5000
    earn(program, "A-1", 4000)

    result = grant(program, 1000)

    [coupon] = result.coupons_issued
    assert (coupon.points_spent, coupon.order) == (5000, None)
    assert result.balance == 0
    assert entries(program)[-2:] == [("grant", 1000, 5000), ("reward", -5000, 0)]
    assert ledger_audit() == []


def test_a_deduction_never_converts(db):
    # given a member left above the threshold (the program used to be customer's choice)
    program = ProgramFactory(conversion_mode=CHOICE)
    RewardThresholdFactory(program=program, points=5000)
    earn(program, "A-1", 6000)
    Program.objects.filter(pk=program.pk).update(conversion_mode="automatic")
    program.refresh_from_db()

    # when points are deducted by hand
    result = grant(program, -100)

    # then only the deduction happens
    assert result.coupons_issued == []
    assert balance(program) == 5900
    assert not Coupon.objects.exists()
    # while the next grant does convert
    assert len(grant(program, 1).coupons_issued) == 1
    assert balance(program) == 901
    assert ledger_audit() == []


def test_an_order_replay_returns_its_coupons_and_issues_nothing(program_at_5000):
    program = program_at_5000
    first = earn(program, "A-1", 10_400)

    replay = earn(program, "A-1", 10_400)

    assert replay.created is False
    assert [c.pk for c in replay.coupons_issued] == [c.pk for c in first.coupons_issued]
    assert replay.balance == 400
    assert Coupon.objects.count() == 2
    assert LedgerEntry.objects.count() == 3
    assert ledger_audit() == []


def test_a_coupon_carries_the_terms_of_its_template(db):
    program = ProgramFactory()
    RewardThresholdFactory(
        program=program,
        points=5000,
        template__kind="fixed",
        template__value=Decimal("7.50"),
        template__max_discount=Decimal("7.50"),
        template__min_order_amount=Decimal("30.00"),
        template__valid_days=14,
        template__uses=2,
    )

    [coupon] = earn(program, "A-1", 5000).coupons_issued

    coupon.refresh_from_db()
    assert (coupon.kind, coupon.value, coupon.max_discount, coupon.min_order_amount) == (
        "fixed",
        Decimal("7.50"),
        Decimal("7.50"),
        Decimal("30.00"),
    )
    assert (coupon.uses_allowed, coupon.uses_count, coupon.currency) == (2, 0, "EUR")


def test_editing_a_template_later_does_not_change_issued_coupons(program_at_5000):
    program = program_at_5000
    [issued] = earn(program, "A-1", 5000).coupons_issued
    before = Coupon.objects.values().get(pk=issued.pk)

    # when staff change the reward's terms, in the admin or through the API
    template = RewardThreshold.objects.get().template
    template.value = Decimal(50)
    template.min_order_amount = Decimal(200)
    template.save()
    thresholds_replace(
        program=program,
        thresholds=[{"points": 5000, "coupon": {"kind": "fixed", "value": "99", "uses": 5}}],
    )

    # then the issued coupon keeps its terms, and only new coupons get the new ones
    assert Coupon.objects.values().get(pk=issued.pk) == before
    [new] = earn(program, "A-2", 5000).coupons_issued
    assert (new.kind, new.value, new.uses_allowed) == ("fixed", Decimal(99), 5)


def test_a_coupon_is_valid_for_the_templates_days_from_issue(db):
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=5000, template__valid_days=45)

    before = timezone.now()
    [coupon] = earn(program, "A-1", 5000).coupons_issued
    after = timezone.now()

    assert before <= coupon.valid_from <= after
    assert coupon.valid_until - coupon.valid_from == timedelta(days=45)
    reward = LedgerEntry.objects.get(kind="reward")
    assert f"valid until {timezone.localdate(coupon.valid_until).isoformat()}" in reward.reason


def test_a_huge_grant_converts_at_most_the_cap_and_the_rest_on_the_next_write(db):
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=10)
    member_upsert(program=program, external_id="cust-1")

    result = grant(program, 10 * MAX_CONVERSIONS_PER_WRITE + 505)

    assert len(result.coupons_issued) == MAX_CONVERSIONS_PER_WRITE
    assert result.balance == 505
    assert len(grant(program, 1).coupons_issued) == 50
    assert balance(program) == 6
    assert ledger_audit() == []


# -- customer's choice ----------------------------------------------------------------------


@pytest.fixture
def choice_program(db):
    """A customer's-choice program with rewards at 1000 and 5000 points."""
    program = ProgramFactory(conversion_mode=CHOICE)
    RewardThresholdFactory(program=program, points=1000)
    RewardThresholdFactory(program=program, points=5000, template__value=Decimal(25))
    return program


def test_a_choice_program_never_converts_by_itself(choice_program):
    result = earn(choice_program, "A-1", 12_000)
    granted = grant(choice_program, 5000)

    assert result.coupons_issued == granted.coupons_issued == []
    assert balance(choice_program) == 17_000
    assert not Coupon.objects.exists()


def test_claiming_a_reward_converts_once(choice_program):
    earn(choice_program, "A-1", 12_000)

    coupon = reward_claim(program=choice_program, member_external_id="cust-1", points=5000)

    assert (coupon.points_spent, coupon.value, coupon.source) == (5000, Decimal(25), "reward")
    assert Coupon.objects.count() == 1
    assert balance(choice_program) == 7000
    reward = LedgerEntry.objects.get(kind="reward")
    assert (reward.points, reward.coupon) == (-5000, coupon)
    assert coupon.display_code in reward.reason
    assert ledger_audit() == []


def test_claiming_more_than_the_balance_is_refused(choice_program):
    earn(choice_program, "A-1", 4999)

    with pytest.raises(InsufficientPoints) as refused:
        reward_claim(program=choice_program, member_external_id="cust-1", points=5000)

    assert refused.value.code == "insufficient_points"
    assert refused.value.params == {"balance": 4999, "points": 5000}
    assert balance(choice_program) == 4999
    assert not Coupon.objects.exists()


def test_claiming_points_the_program_has_no_reward_at_is_not_found(choice_program):
    earn(choice_program, "A-1", 12_000)

    with pytest.raises(RewardNotFound) as refused:
        reward_claim(program=choice_program, member_external_id="cust-1", points=1234)

    assert refused.value.code == "reward_not_found"
    assert refused.value.status == 404
    assert "1234" in refused.value.detail


def test_claiming_for_an_unknown_member_is_not_found(choice_program):
    with pytest.raises(MemberNotFound):
        reward_claim(program=choice_program, member_external_id="nobody", points=1000)


def test_claiming_in_an_automatic_program_is_refused(program_at_5000):
    earn(program_at_5000, "A-1", 4000)

    with pytest.raises(RewardsAutomatic) as refused:
        reward_claim(program=program_at_5000, member_external_id="cust-1", points=5000)

    assert refused.value.code == "rewards_automatic"


# -- what comes next ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance_now", "expected"),
    [
        (-300, {"threshold": 1000, "points_missing": 1300}),
        (0, {"threshold": 1000, "points_missing": 1000}),
        (999, {"threshold": 1000, "points_missing": 1}),
        (1000, {"threshold": 5000, "points_missing": 4000}),
        (4200, {"threshold": 5000, "points_missing": 800}),
        (5000, None),
        (7000, None),
    ],
)
def test_next_reward_is_the_nearest_threshold_above_the_balance(balance_now, expected):
    thresholds = [RewardThreshold(points=5000), RewardThreshold(points=1000)]

    assert next_reward(balance=balance_now, thresholds=thresholds) == expected


def test_without_thresholds_there_is_no_next_reward():
    assert next_reward(balance=10, thresholds=[]) is None


def test_a_members_summary_shows_the_next_reward(program_at_5000):
    earn(program_at_5000, "A-1", 5800)
    member = Member.objects.get()
    member.program = program_at_5000

    assert member_summary(member=member)["next_reward"] == {
        "threshold": 5000,
        "points_missing": 4200,
    }


def test_thresholds_are_per_program(program_at_5000):
    other = ProgramFactory()
    CouponTemplateFactory(program=other)

    result = earn(other, "A-1", 5000)

    assert result.coupons_issued == []
    assert result.balance == 5000


@pytest.mark.parametrize(
    ("thresholds", "field"),
    [
        ([{"points": 5000, "coupon": 3}], "thresholds.0.coupon"),
        ([{"points": 5000, "coupon": ["percent", 10]}], "thresholds.0.coupon"),
        ([{"points": 5000, "coupon": None}], "thresholds.0.coupon"),
        (["5000"], "thresholds.0.points"),
    ],
)
def test_thresholds_that_are_not_terms_are_refused_by_field_and_change_nothing(
    program_at_5000, thresholds, field
):
    # Imports and admin forms call the service without the API's serializers in front.
    before = list(RewardThreshold.objects.filter(program=program_at_5000).values())

    with pytest.raises(InvalidInput) as refused:
        thresholds_replace(program=program_at_5000, thresholds=thresholds)

    assert field in refused.value.fields
    assert list(RewardThreshold.objects.filter(program=program_at_5000).values()) == before
