"""Earning rules: sign-up, birthday and referral bonuses, product and category bonuses,
exclusions and caps. Each leaves a ledger entry whose reason names the rule."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.errors import InvalidInput
from loyalty.models import EarningRule, LedgerEntry, Member, Order
from loyalty.services.birthdays import birthdays_award
from loyalty.services.earning import rule_parameters
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.refunds import refund_record
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def rule(program, kind, name=None, **parameters):
    return EarningRule.objects.create(
        program=program, kind=kind, name=name or kind, parameters=parameters
    )


def record(program, external_id="A-1", member="cust-1", amount="10.00", **kw):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency=program.currency,
        **kw,
    )


def line(sku, amount, category="", quantity=1):
    return {"sku": sku, "category": category, "quantity": quantity, "amount": Decimal(amount)}


def bonuses(member):
    return list(LedgerEntry.objects.filter(member=member, kind="bonus").order_by("pk"))


# --- sign-up ---------------------------------------------------------------------------------


def test_signup_bonus_when_a_member_is_created_by_put():
    program = ProgramFactory()
    rule(program, "signup", "Welcome", points=100)

    member, created = member_upsert(program=program, external_id="new")
    member_upsert(program=program, external_id="new", name="Again")

    assert created
    [entry] = bonuses(member)
    assert entry.points == 100
    assert "Welcome" in entry.reason
    assert Member.objects.get(pk=member.pk).balance == 100


def test_signup_bonus_when_an_order_creates_the_member():
    program = ProgramFactory()
    rule(program, "signup", "Welcome", points=50)

    result = record(program, amount="10.00")

    assert result.balance == 150
    assert [e.points for e in bonuses(result.order.member)] == [50]


def test_no_signup_bonus_for_existing_members_or_without_a_rule():
    program = ProgramFactory()
    MemberFactory(program=program, external_id="old")
    rule(program, "signup", points=50)

    record(program, member="old")
    member_upsert(program=ProgramFactory(), external_id="elsewhere")

    assert not LedgerEntry.objects.filter(kind="bonus").exists()


# --- birthday --------------------------------------------------------------------------------


def test_birthday_bonus_once_a_year():
    program = ProgramFactory()
    rule(program, "birthday", "Happy birthday", points=200)
    member = MemberFactory(program=program, birth_date=date(1990, 6, 15))
    MemberFactory(program=program, birth_date=date(1990, 6, 16))
    noon = datetime(2026, 6, 15, 12, tzinfo=UTC)

    first = birthdays_award(now=noon)
    again = birthdays_award(now=noon + timedelta(hours=3))
    next_year = birthdays_award(now=noon.replace(year=2027))

    assert (first.members, again.members, next_year.members) == (1, 0, 1)
    entries = bonuses(member)
    assert [e.idempotency_key for e in entries] == [
        f"birthday:{member.pk}:2026",
        f"birthday:{member.pk}:2027",
    ]
    assert "Happy birthday" in entries[0].reason
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("today", "given"),
    [
        (datetime(2027, 2, 28, 12, tzinfo=UTC), True),  # no 29 February in 2027
        (datetime(2028, 2, 28, 12, tzinfo=UTC), False),  # 2028 has one
        (datetime(2028, 2, 29, 12, tzinfo=UTC), True),
        (datetime(2027, 3, 1, 12, tzinfo=UTC), False),
    ],
)
def test_birthday_on_29_february(today, given):
    program = ProgramFactory()
    rule(program, "birthday", points=10)
    member = MemberFactory(program=program, birth_date=date(2000, 2, 29))

    birthdays_award(now=today)

    assert bool(bonuses(member)) is given


def test_birthday_follows_the_merchants_time_zone():
    program = ProgramFactory(time_zone="Pacific/Auckland")  # UTC+12/13
    rule(program, "birthday", points=10)
    member = MemberFactory(program=program, birth_date=date(1990, 6, 15))

    # 14 June 13:00 UTC is already 15 June, 01:00 in Auckland.
    birthdays_award(now=datetime(2026, 6, 14, 13, tzinfo=UTC))

    assert len(bonuses(member)) == 1


def test_run_job_award_birthdays(capsys):
    program = ProgramFactory()
    rule(program, "birthday", points=10)
    MemberFactory(program=program, birth_date=timezone.now().date().replace(year=1992))

    call_command("run_job", "award_birthdays")

    assert "'members': 1" in capsys.readouterr().out


# --- referral --------------------------------------------------------------------------------


@pytest.fixture
def referral_program():
    program = ProgramFactory()
    rule(program, "referral", "Bring a friend", referrer_points=300, referred_points=100)
    MemberFactory(program=program, external_id="alice", email="alice@example.com")
    return program


def test_referral_pays_both_on_the_first_order_only(referral_program):
    program = referral_program
    member_upsert(program=program, external_id="bob", referred_by="alice")

    first = record(program, external_id="A-1", member="bob", amount="10.00")
    record(program, external_id="A-2", member="bob", amount="10.00")

    alice = Member.objects.get(external_id="alice")
    bob = Member.objects.get(external_id="bob")
    assert [e.points for e in bonuses(alice)] == [300]
    assert [e.points for e in bonuses(bob)] == [100]
    assert "Bring a friend" in bonuses(alice)[0].reason
    assert first.balance == 100 + 100
    assert ledger_audit() == []


def test_referral_is_taken_back_when_the_first_order_is_refunded_in_full(referral_program):
    program = referral_program
    member_upsert(program=program, external_id="bob", referred_by="alice")
    record(program, external_id="A-1", member="bob", amount="10.00")

    refund_record(program=program, order_external_id="A-1", external_id="R-1", amount=Decimal(5))
    assert Member.objects.get(external_id="alice").balance == 300  # partial: kept
    refund_record(program=program, order_external_id="A-1", external_id="R-2", amount=Decimal(5))

    assert Member.objects.get(external_id="alice").balance == 0
    assert Member.objects.get(external_id="bob").balance == 0
    assert LedgerEntry.objects.filter(kind="reversal", reason__contains="Referral").count() == 2
    assert ledger_audit() == []


@pytest.mark.parametrize("referrer", ["bob", "missing"])
def test_no_self_referral_or_unknown_referrer(referral_program, referrer):
    with pytest.raises(InvalidInput) as raised:
        member_upsert(program=referral_program, external_id="bob", referred_by=referrer)

    assert "referred_by" in raised.value.fields


def test_self_referral_by_the_same_email_is_refused(referral_program):
    with pytest.raises(InvalidInput):
        member_upsert(
            program=referral_program,
            external_id="alice-2",
            email="Alice@example.com",
            referred_by="alice",
        )


def test_referral_loops_are_refused(referral_program):
    program = referral_program
    member_upsert(program=program, external_id="bob", referred_by="alice")
    member_upsert(program=program, external_id="carol", referred_by="bob")

    with pytest.raises(InvalidInput) as raised:
        member_upsert(program=program, external_id="alice", referred_by="carol")

    assert "loop" in raised.value.fields["referred_by"][0]
    assert Member.objects.get(external_id="alice").referred_by is None


def test_referral_only_before_the_first_order(referral_program):
    record(referral_program, member="bob")

    with pytest.raises(InvalidInput):
        member_upsert(program=referral_program, external_id="bob", referred_by="alice")


# --- lines: product and category bonuses, exclusions ----------------------------------------


def test_product_and_category_bonuses_and_exclusions():
    program = ProgramFactory(earn_rate=Decimal(10))
    rule(program, "product_bonus", "Coffee bonus", sku="COFFEE", points_per_unit=25)
    rule(program, "category_bonus", "Books x2", category="books", multiplier="2")
    rule(program, "exclusion", "No gift cards", category="gift-cards")

    result = record(
        program,
        amount="60.00",
        lines=[
            line("COFFEE", "10.00", quantity=2),
            line("NOVEL", "20.00", category="Books"),
            line("GC-50", "30.00", category="gift-cards"),
        ],
    )

    earning = result.order.earning
    # base 60 - 30 excluded = 30 -> 300; +50 coffee; +200 books (20 x 10 x (2-1))
    assert result.order.points_earned == 300 + 50 + 200
    assert result.order.points_base == Decimal(30)
    excluded = [line for line in earning["lines"] if not line["earns"]]
    assert excluded[0]["sku"] == "GC-50"
    assert "No gift cards" in excluded[0]["excluded_reason"]
    entry = LedgerEntry.objects.get(kind="earn")
    assert "Coffee bonus" in entry.reason
    assert "Books x2" in entry.reason
    assert "No gift cards" in entry.reason


def test_exclusion_never_takes_the_base_below_zero():
    program = ProgramFactory()
    rule(program, "exclusion", sku="X")

    result = record(program, amount="10.00", lines=[line("X", "50.00")])

    assert result.order.points_earned == 0
    assert result.order.points_base == 0


# --- caps -----------------------------------------------------------------------------------


def test_daily_cap_hit_exactly_then_capped():
    program = ProgramFactory(earn_rate=Decimal(10))
    rule(program, "cap_day", "Daily cap", points=200)
    noon = timezone.now().replace(hour=12, minute=0) - timedelta(days=1)

    first = record(program, external_id="A-1", amount="15.00", placed_at=noon)
    exact = record(program, external_id="A-2", amount="5.00", placed_at=noon)
    over = record(program, external_id="A-3", amount="5.00", placed_at=noon)

    assert (first.order.points_earned, exact.order.points_earned) == (150, 50)
    assert exact.order.earning["cap"] is None
    assert over.order.points_earned == 0
    assert over.order.earning["cap"]["cut"] == 50
    assert "capped" in over.order.earning["reason"]


def test_daily_cap_counts_the_merchants_day():
    program = ProgramFactory(earn_rate=Decimal(10), time_zone="America/New_York")
    rule(program, "cap_day", points=100)
    # 23:30 and 00:30 New York time (UTC-4 in June): two local days.
    late = datetime(2026, 6, 2, 3, 30, tzinfo=UTC)

    record(program, external_id="A-1", amount="10.00", placed_at=late)
    next_day = record(
        program, external_id="A-2", amount="10.00", placed_at=late + timedelta(hours=1)
    )
    same_day = record(
        program, external_id="A-3", amount="10.00", placed_at=late - timedelta(hours=2)
    )

    assert next_day.order.points_earned == 100
    assert same_day.order.points_earned == 0


def test_monthly_cap_cuts_part_of_an_order():
    program = ProgramFactory(earn_rate=Decimal(10))
    rule(program, "cap_month", "Monthly cap", points=250)
    placed = datetime(2026, 3, 10, 12, tzinfo=UTC)

    record(program, external_id="A-1", amount="20.00", placed_at=placed)
    cut = record(program, external_id="A-2", amount="20.00", placed_at=placed + timedelta(days=5))
    april = record(
        program, external_id="A-3", amount="20.00", placed_at=placed + timedelta(days=25)
    )

    assert cut.order.points_earned == 50
    assert april.order.points_earned == 200


# --- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "parameters"),
    [
        ("signup", {"points": 0}),
        ("signup", {"points": "10"}),
        ("cap_day", {"points": 10, "extra": 1}),
        ("referral", {"referrer_points": 10}),
        ("product_bonus", {"sku": "X"}),
        ("product_bonus", {"sku": "X", "multiplier": "1"}),
        ("category_bonus", {"points_per_unit": 5}),
        ("exclusion", {"sku": "X", "category": "Y"}),
        ("nonsense", {}),
    ],
)
def test_bad_rule_parameters_are_refused(kind, parameters):
    with pytest.raises(InvalidInput):
        rule_parameters(kind=kind, parameters=parameters)


def test_orders_without_rules_earn_as_before():
    program = ProgramFactory()

    result = record(program, amount="12.34")

    assert result.order.points_earned == 123
    assert Order.objects.get().earning["reason"] == "Order #A-1: 12.34 EUR x 10 points = 123 points"
