"""A tier's perk: members who reach the tier get one member-bound coupon from the tier's
template, by every path that sets tiers (an order, a pending release, a counting grant, a
staff override, the daily job); leaving the tier voids it, re-reaching reactivates it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.audit import Action
from loyalty.errors import InvalidInput
from loyalty.models import AuditEntry, Member, Tier
from loyalty.services.coupon_voids import coupon_void
from loyalty.services.orders import order_record, orders_record_batch
from loyalty.services.pending import pending_release
from loyalty.services.points import points_grant
from loyalty.services.tier_job import tiers_evaluate
from loyalty.services.tier_settings import tiers_describe, tiers_replace, tiers_seed_defaults
from loyalty.services.tiers import tier_override
from rewards.codes import code_generate
from rewards.models import Coupon, CouponEvent, CouponKind, Redemption, RewardThreshold
from rewards.selectors import allowance_of
from rewards.services.checkout import coupon_redeem
from rewards.services.thresholds import thresholds_replace
from tests.factories import ProgramFactory, StaffFactory
from tests.rewards.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def free_shipping(program, **extra):
    """Free shipping twice a quarter, eight times in a year."""
    values = {
        "kind": CouponKind.FREE_SHIPPING, "value": Decimal(0), "max_discount": Decimal("9.90"),
        "valid_days": 365, "uses": 8, "allowance_uses": 2, "allowance_period": "quarter",
        "name": "Free shipping", **extra,
    }  # fmt: skip
    return CouponTemplateFactory(program=program, **values)


def with_perk(program, tier_name, template):
    """The program's tiers as they are, ``tier_name`` with this perk (through the service)."""
    tiers = [
        {"name": t.name, "min_points": t.min_points, "earn_multiplier": t.earn_multiplier,
         "perk": template.pk if t.name == tier_name else t.perk_id}
        for t in program.tiers.order_by("min_points")
    ]  # fmt: skip
    return tiers_replace(program=program, tiers=tiers)


@pytest.fixture
def program():
    program = ProgramFactory(earn_rate=Decimal(1))  # 1 point per 1.00
    tiers_seed_defaults(program=program)
    return program


@pytest.fixture
def perk(program):
    template = free_shipping(program)
    with_perk(program, "Gold", template)
    return template


def order(program, external_id, amount, *, member="m-1", placed_at=None):
    return order_record(
        program=program, external_id=external_id, member_external_id=member,
        amount=Decimal(amount), currency="EUR", placed_at=placed_at,
    )  # fmt: skip


def use(program, coupon, order_reference):
    return coupon_redeem(
        program=program, code=coupon.code, order_reference=order_reference,
        order_amount=Decimal(50), currency="EUR", shipping_amount=Decimal("4.90"),
    )  # fmt: skip


def perks(member="m-1"):
    return list(Coupon.objects.filter(member__external_id=member, source="perk").order_by("pk"))


def test_an_order_that_lifts_a_member_to_gold_gives_the_gold_perk(program, perk):
    order(program, "A", 250)

    (coupon,) = perks()
    member = Member.objects.get(external_id="m-1")
    assert coupon.member_id == member.pk
    assert coupon.perk_tier.name == "Gold"
    assert coupon.template_id == perk.pk
    assert (coupon.kind, coupon.allowance_uses, coupon.allowance_period) == (
        "free_shipping",
        2,
        "quarter",
    )
    assert (coupon.status, coupon.uses_allowed) == ("active", 8)
    assert allowance_of(coupon)["left"] == 2
    assert CouponEvent.objects.get(coupon=coupon).kind == "issued"


def test_the_perk_is_given_once_whatever_else_happens_in_the_tier(program, perk):
    order(program, "A", 250)
    order(program, "B", 100)  # still Gold
    points_grant(program=program, member_external_id="m-1", points=10, reason="gift",
                 counts_for_tier=True)  # fmt: skip
    tiers_evaluate()
    tiers_evaluate()

    assert len(perks()) == 1


def test_a_member_below_a_tier_without_a_perk_gets_nothing(program, perk):
    order(program, "A", 150)  # no tier

    assert perks() == []


def test_the_database_refuses_a_second_perk_coupon_for_one_member_and_tier(program, perk):
    order(program, "A", 250)
    (coupon,) = perks()

    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(
            program=program, member=coupon.member, code=code_generate(), source="perk",
            kind="free_shipping", value=0, currency="EUR",
            valid_until=timezone.now() + DAY, perk_tier=coupon.perk_tier,
        )  # fmt: skip


def test_the_daily_job_voids_the_perk_when_the_member_falls_below(program, perk):
    order(program, "A", 250, placed_at=timezone.now() - 100 * DAY)
    tiers_evaluate(now=timezone.now() - 99 * DAY)
    (coupon,) = perks()
    assert coupon.status == "active"

    run = tiers_evaluate()

    coupon.refresh_from_db()
    assert Member.objects.get(external_id="m-1").tier is None
    assert coupon.status == "void"
    assert run.perks_ended == 1
    ended = CouponEvent.objects.filter(coupon=coupon, kind="voided").get()
    assert ended.reason.startswith("Tier perk ended: the member left Gold (Re-evaluation: below")


def test_reaching_the_tier_again_reactivates_the_same_coupon(program, perk):
    order(program, "A", 250, placed_at=timezone.now() - 100 * DAY)
    tiers_evaluate(now=timezone.now() - 99 * DAY)
    (coupon,) = perks()
    use(program, coupon, "S-1")
    tiers_evaluate()  # below Gold now: void
    coupon.refresh_from_db()
    assert coupon.status == "void"

    order(program, "B", 250)

    (again,) = perks()
    assert (again.pk, again.code) == (coupon.pk, coupon.code)
    assert again.status == "active"
    assert again.valid_until > timezone.now() + 364 * DAY
    assert (again.uses_count, again.uses_allowed) == (1, 9)  # the template's 8 uses again
    assert CouponEvent.objects.filter(coupon=coupon, kind="reactivated").count() == 1


def test_leaving_and_coming_back_in_one_quarter_gives_no_fresh_uses(program, perk):
    order(program, "A", 250)
    (coupon,) = perks()
    for n in (1, 2):
        use(program, coupon, f"S-{n}")
    member = Member.objects.get(external_id="m-1")
    until = timezone.now() + DAY
    tier_override(member=member, tier=None, reason="test", until=until)
    tier_override(member=member, tier=program.tiers.get(name="Gold"), reason="back", until=until)

    (again,) = perks()
    assert again.status == "active"
    assert allowance_of(again)["left"] == 0


def test_moving_up_ends_the_lower_tiers_perk_and_gives_the_next_ones(program, perk):
    diamond_perk = free_shipping(program, name="Diamond shipping", allowance_uses=4, uses=16)
    with_perk(program, "Diamond", diamond_perk)
    order(program, "A", 250)

    order(program, "B", 2000)

    gold, diamond = perks()
    assert (gold.perk_tier.name, gold.status) == ("Gold", "void")
    assert (diamond.perk_tier.name, diamond.status, diamond.allowance_uses) == (
        "Diamond",
        "active",
        4,
    )


def test_a_staff_override_gives_and_ends_perks_and_is_audited(program, perk):
    staff = StaffFactory(merchant=program.merchant)
    order(program, "A", 10)
    member = Member.objects.get(external_id="m-1")
    gold = program.tiers.get(name="Gold")

    tier_override(member=member, tier=gold, reason="VIP", until=timezone.now() + 10 * DAY,
                  created_by=staff)  # fmt: skip

    (coupon,) = perks()
    assert coupon.status == "active"
    entry = AuditEntry.objects.filter(action=Action.TIER_OVERRIDE).latest("id")
    assert entry.changes["perk_coupons"] == {"issued": [coupon.display_code]}

    tier_override(member=member, tier=None, reason="mistake", until=timezone.now() + DAY,
                  created_by=staff)  # fmt: skip

    coupon.refresh_from_db()
    assert coupon.status == "void"
    event = CouponEvent.objects.get(coupon=coupon, kind="voided")
    assert event.by == staff
    assert "mistake" in event.reason
    entry = AuditEntry.objects.filter(action=Action.TIER_OVERRIDE).latest("id")
    assert entry.changes["perk_coupons"] == {"ended": [coupon.display_code]}


def test_a_counting_grant_that_lifts_the_member_gives_the_perk(program, perk):
    order(program, "A", 10)

    points_grant(program=program, member_external_id="m-1", points=300, reason="welcome",
                 counts_for_tier=True)  # fmt: skip

    assert [c.perk_tier.name for c in perks()] == ["Gold"]


def test_a_perk_set_on_a_tier_reaches_its_members_at_the_daily_job(program):
    order(program, "A", 250)
    order(program, "B", 250, member="m-2")
    assert perks() == []

    with_perk(program, "Gold", free_shipping(program))
    run = tiers_evaluate()

    assert run.perks_issued == 2
    assert len(perks("m-1")) == len(perks("m-2")) == 1


def test_a_perk_taken_off_a_tier_ends_for_its_members(program, perk):
    order(program, "A", 250)
    tiers = [{"name": t.name, "min_points": t.min_points, "perk": None}
             for t in program.tiers.order_by("min_points")]  # fmt: skip

    tiers_replace(program=program, tiers=tiers)

    (coupon,) = perks()
    assert coupon.status == "void"
    assert CouponEvent.objects.get(coupon=coupon, kind="voided").reason == (
        "Tier perk ended: the perk was taken off Gold"
    )
    tiers_evaluate()
    assert [c.status for c in perks()] == ["void"]


def test_a_removed_tier_ends_its_perk_coupons(program, perk):
    order(program, "A", 250)
    tiers = [{"name": "Platinum", "min_points": 1000}, {"name": "Diamond", "min_points": 2000}]

    tiers_replace(program=program, tiers=tiers)

    (coupon,) = perks()
    assert coupon.status == "void"
    assert coupon.perk_tier is None
    assert CouponEvent.objects.get(coupon=coupon, kind="voided").reason == (
        "Tier perk ended: Gold removed from the program"
    )


def test_a_tier_sent_without_its_perk_keeps_it(program, perk):
    tiers = [{"name": t.name, "min_points": t.min_points}
             for t in program.tiers.order_by("min_points")]  # fmt: skip

    tiers_replace(program=program, tiers=tiers)

    assert Tier.objects.get(program=program, name="Gold").perk_id == perk.pk


def test_another_merchants_template_is_refused_and_nothing_changes(program):
    theirs = free_shipping(ProgramFactory())
    before = tiers_describe(program=program)

    with pytest.raises(InvalidInput) as error:
        with_perk(program, "Platinum", theirs)

    assert error.value.fields == {"tiers.1.perk": ["Choose a coupon template of this program."]}
    assert tiers_describe(program=program) == before


@pytest.mark.parametrize("perk", ["1", True, -3, 1.5, [1]])
def test_a_perk_that_is_no_template_id_is_refused(program, perk):
    with pytest.raises(InvalidInput) as error:
        tiers_replace(program=program, tiers=[{"name": "Gold", "min_points": 10, "perk": perk}])

    assert "tiers.0.perk" in error.value.fields


def test_setting_a_perk_is_in_the_audit_trail(program):
    staff = StaffFactory(merchant=program.merchant)
    template = free_shipping(program)
    tiers = [{"name": "Gold", "min_points": 200, "perk": template.pk}]

    tiers_replace(program=program, tiers=tiers, actor=staff)

    entry = AuditEntry.objects.filter(action=Action.TIERS_REPLACE).latest("id")
    assert "perk" in str(entry.changes)
    assert "Free shipping" in str(entry.changes)


def test_a_removed_threshold_keeps_a_template_that_is_a_perk(program, perk):
    RewardThreshold.objects.create(program=program, points=500, template=perk)

    thresholds_replace(program=program, thresholds=[])

    perk.refresh_from_db()
    assert not RewardThreshold.objects.filter(program=program).exists()


def test_a_released_perk_use_counts_no_more(program, perk):
    order(program, "A", 250)
    (coupon,) = perks()
    use(program, coupon, "S-1")

    assert Redemption.objects.filter(coupon=coupon).count() == 1
    assert allowance_of(Coupon.objects.get(pk=coupon.pk))["left"] == 1


def test_a_batch_that_lifts_a_member_twice_leaves_one_live_perk(program, perk):
    diamond_perk = free_shipping(program, name="Diamond shipping", allowance_uses=4, uses=16)
    with_perk(program, "Diamond", diamond_perk)
    orders = [
        {"external_id": "B-1", "member": "m-1", "amount": Decimal(250), "currency": "EUR"},
        {"external_id": "B-2", "member": "m-1", "amount": Decimal(2000), "currency": "EUR"},
    ]

    outcomes = orders_record_batch(program=program, orders=orders)

    assert [o.error for o in outcomes] == [None, None]
    gold, diamond = perks()
    assert (gold.perk_tier.name, gold.status) == ("Gold", "void")
    assert (diamond.perk_tier.name, diamond.status) == ("Diamond", "active")
    assert list(CouponEvent.objects.filter(coupon=gold).values_list("kind", flat=True)) == [
        "issued",
        "voided",
    ]


def test_points_released_after_the_pending_window_give_the_perk(program, perk):
    program.pending_days = 14
    program.save()
    order(program, "A", 250)
    assert perks() == []

    pending_release(now=timezone.now() + 15 * DAY)

    assert [c.perk_tier.name for c in perks()] == ["Gold"]


def test_a_perk_coupon_staff_voided_by_hand_stays_void_at_the_daily_job(program, perk):
    order(program, "A", 250)
    (coupon,) = perks()
    coupon_void(program=program, code=coupon.code, reason="abused", by=StaffFactory(
        merchant=program.merchant))  # fmt: skip

    tiers_evaluate()

    coupon.refresh_from_db()
    assert coupon.status == "void"


def test_a_perk_taken_off_and_set_again_comes_back_at_the_daily_job(program, perk):
    order(program, "A", 250)
    with_perk(program, "Gold", perk)
    tiers = [{"name": t.name, "min_points": t.min_points, "perk": None}
             for t in program.tiers.order_by("min_points")]  # fmt: skip
    tiers_replace(program=program, tiers=tiers)
    with_perk(program, "Gold", perk)

    run = tiers_evaluate()

    (coupon,) = perks()
    assert (coupon.status, run.perks_issued) == ("active", 1)


def test_a_held_perk_is_renewed_before_it_runs_out_and_after_it_expired(program):
    """A perk lasts as long as the tier: once less than half its validity is left, the
    daily job gives it its whole validity again; an expired one comes back too. Its uses
    stay as they were."""
    template = free_shipping(program, valid_days=30)
    with_perk(program, "Gold", template)
    order(program, "A", 250)
    (coupon,) = perks()
    assert coupon.valid_until > timezone.now() + 29 * DAY
    use(program, coupon, "O-1")

    # Twenty days later (as the coupon sees it): ten days left of thirty, renewed from
    # today, the use still counted.
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() + 10 * DAY)
    run = tiers_evaluate()
    coupon.refresh_from_db()
    assert run.perks_renewed == 1
    assert coupon.valid_until > timezone.now() + 29 * DAY
    assert (coupon.status, coupon.uses_count) == ("active", 1)
    assert CouponEvent.objects.filter(
        coupon=coupon, kind="reactivated", reason="Tier perk renewed: the member still holds Gold"
    ).exists()

    # More than half left: nothing to do.
    assert tiers_evaluate().perks_renewed == 0

    # Expired (the coupon job got there first): back, for as long as the tier is held.
    Coupon.objects.filter(pk=coupon.pk).update(
        status="expired", valid_from=timezone.now() - 31 * DAY, valid_until=timezone.now() - DAY
    )
    assert tiers_evaluate().perks_renewed == 1
    coupon.refresh_from_db()
    assert coupon.status == "active"
    assert coupon.valid_until > timezone.now() + 29 * DAY


def test_a_perk_of_a_tier_no_longer_held_is_not_renewed(program):
    template = free_shipping(program, valid_days=30)
    with_perk(program, "Gold", template)
    start = timezone.now() - 100 * DAY
    order(program, "A", 250, placed_at=start)
    tiers_evaluate(now=start)

    run = tiers_evaluate()  # below Gold now: ended, not renewed

    (coupon,) = perks()
    assert (run.perks_renewed, run.perks_ended, coupon.status) == (0, 1, "void")
