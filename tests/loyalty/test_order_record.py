"""order_record: a paid order earns floor(points base x earn rate) points, exactly once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import CurrencyMismatch, InvalidInput, OrderConflict
from loyalty.models import LedgerEntry, Member, Order
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from tests.factories import ProgramFactory

NO_PARTS = {"discount": "0", "shipping": "0", "tax": "0", "paid_with_gift_card": "0"}


def record(program, *, external_id="A-1", member="cust-1", amount="100.00", currency=None, **kw):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency=currency or program.currency,
        **kw,
    )


def breakdown(**parts):
    return {name: Decimal(value) for name, value in {**NO_PARTS, **parts}.items()}


def assert_nothing_recorded(program):
    assert not Member.objects.filter(program=program).exists()
    assert not Order.objects.filter(program=program).exists()
    assert not LedgerEntry.objects.exists()


# --- earning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate", "points"),
    [
        ("12.39", "10", 123),
        ("123.45", "10", 1234),
        ("100.00", "10", 1000),
        ("10.00", "1.5", 15),
        ("10.01", "1.5", 15),  # 15.015 rounds down
        ("9.99", "1.5", 14),  # 14.985 rounds down, never up
        ("33.33", "1.5", 49),
        ("100.00", "0.3333", 33),
        ("0.99", "1", 0),
        ("1.00", "2.75", 2),
    ],
)
def test_order_earns_floor_of_base_times_rate(db, amount, rate, points):
    # given a program earning `rate` points per 1.00
    program = ProgramFactory(earn_rate=Decimal(rate))

    # when an order is recorded
    result = record(program, amount=amount)

    # then it earns the rounded-down product, and the balance says so
    assert result.created is True
    assert result.order.points_earned == points
    assert result.balance == points
    assert Member.objects.get(program=program, external_id="cust-1").balance == points
    assert result.order.earn_rate == Decimal(rate)
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("flags", "base", "points"),
    [
        # amount 100.00 = after a 10.00 discount, with 5.00 shipping, 19.00 tax, 20.00 gift card
        ({}, "75.00", 750),  # default: minus shipping, minus gift card, tax included
        ({"earn_on_shipping": True}, "80.00", 800),
        ({"earn_on_tax": False}, "56.00", 560),
        ({"earn_on_gift_card": True}, "95.00", 950),
        ({"earn_on_discount": True}, "85.00", 850),
        (
            {
                "earn_on_discount": True,
                "earn_on_shipping": True,
                "earn_on_tax": True,
                "earn_on_gift_card": True,
            },
            "110.00",
            1100,
        ),
        (
            {
                "earn_on_discount": False,
                "earn_on_shipping": False,
                "earn_on_tax": False,
                "earn_on_gift_card": False,
            },
            "56.00",
            560,
        ),
    ],
)
def test_points_base_follows_the_programs_earn_rules(db, flags, base, points):
    # given a program with these earn rules
    program = ProgramFactory(**flags)

    # when an order with a full breakdown is recorded
    result = record(
        program,
        amount="100.00",
        breakdown=breakdown(
            discount="10.00", shipping="5.00", tax="19.00", paid_with_gift_card="20"
        ),
    )

    # then only the parts the program rewards earn
    assert result.order.points_base == Decimal(base)
    assert result.order.points_earned == points
    assert result.balance == points


def test_points_base_is_never_below_zero(db):
    # given a program that does not reward tax
    program = ProgramFactory(earn_on_tax=False)

    # when an order is all shipping and tax
    result = record(program, amount="10.00", breakdown=breakdown(shipping="4.00", tax="6.00"))

    # then it is recorded with a zero base and earns nothing
    assert result.order.points_base == 0
    assert result.order.points_earned == 0


def test_earn_reason_states_amount_rate_and_points(db):
    program = ProgramFactory(earn_rate=Decimal("10"))

    record(program, external_id="A-1043", amount="123.45")

    entry = LedgerEntry.objects.get()
    assert entry.kind == LedgerEntry.Kind.EARN
    assert entry.reason == "Order #A-1043: 123.45 EUR x 10 points = 1234 points"
    assert entry.points == 1234
    assert entry.balance_after == 1234
    assert entry.order.external_id == "A-1043"


def test_earn_reason_shows_a_decimal_rate(db):
    program = ProgramFactory(earn_rate=Decimal("1.5"))

    record(program, external_id="A-7", amount="10.00")

    assert LedgerEntry.objects.get().reason == "Order #A-7: 10.00 EUR x 1.5 points = 15 points"


@pytest.mark.parametrize(
    ("flags", "parts", "reason"),
    [
        (
            {},
            {"shipping": "4.95", "paid_with_gift_card": "10.00"},
            "Order #A-7: 85.05 EUR (100.00 EUR less 4.95 EUR shipping, "
            "10.00 EUR paid by gift card) x 10 points = 850 points",
        ),
        (
            {"earn_on_tax": False},
            {"tax": "16.00"},
            "Order #A-7: 84.00 EUR (100.00 EUR less 16.00 EUR tax) x 10 points = 840 points",
        ),
        (
            {"earn_on_discount": True},
            {"discount": "20.00"},
            "Order #A-7: 120.00 EUR (with 20.00 EUR discount) x 10 points = 1200 points",
        ),
        (
            # parts the program rewards are not mentioned
            {"earn_on_shipping": True},
            {"shipping": "4.95", "tax": "16.00", "discount": "5.00"},
            "Order #A-7: 100.00 EUR x 10 points = 1000 points",
        ),
    ],
)
def test_earn_reason_explains_the_points_base(db, flags, parts, reason):
    program = ProgramFactory(**flags)

    record(program, external_id="A-7", amount="100.00", breakdown=breakdown(**parts))

    assert LedgerEntry.objects.get().reason == reason


def test_earn_reason_in_a_currency_without_decimals(db):
    program = ProgramFactory(currency="JPY", earn_rate=Decimal("0.1"))

    record(program, external_id="J-1", amount="1234", currency="JPY")

    assert LedgerEntry.objects.get().reason == "Order #J-1: 1234 JPY x 0.1 points = 123 points"


def test_zero_point_order_is_recorded_without_a_ledger_entry(db):
    # given a program at 10 points per 1.00
    program = ProgramFactory()

    # when an order is too small to earn a point
    result = record(program, amount="0.09")

    # then the order and the member exist, but the ledger has nothing to say
    assert result.created is True
    assert result.order.points_earned == 0
    assert result.order.balance_after == 0
    assert result.balance == 0
    assert Order.objects.filter(program=program).count() == 1
    assert Member.objects.get(program=program).last_order_at is not None
    assert not LedgerEntry.objects.exists()


def test_order_balance_after_is_the_members_balance_right_after_it(db):
    program = ProgramFactory()

    first = record(program, external_id="A-1", amount="10.00")
    second = record(program, external_id="A-2", amount="2.50")

    assert first.order.balance_after == 100
    assert second.order.balance_after == 125
    assert list(LedgerEntry.objects.order_by("id").values_list("balance_after", flat=True)) == [
        100,
        125,
    ]


# --- replay and conflict -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "replay",
    [
        {},
        {"amount": "100"},  # the same number written differently
        {"amount": "100.000"},
        {"currency": "eur"},
    ],
)
def test_replayed_order_returns_the_first_answer_and_earns_nothing(db, replay):
    # given an order recorded once, and the member's balance moved since
    program = ProgramFactory()
    placed_at = timezone.now() - timedelta(days=1)
    parts = breakdown(shipping="5.00")
    first = record(program, amount="100.00", placed_at=placed_at, breakdown=parts)
    record(program, external_id="A-2", amount="1.00")

    # when the same order is sent again
    again = record(program, placed_at=placed_at, breakdown=parts, **{"amount": "100.00", **replay})

    # then it is answered with the first result and earns nothing more
    assert again.created is False
    assert again.order.pk == first.order.pk
    assert again.balance == first.balance == 950
    assert Order.objects.filter(program=program).count() == 2
    assert LedgerEntry.objects.count() == 2
    assert Member.objects.get(program=program).balance == 960


def test_replayed_order_without_placed_at_is_a_replay(db):
    program = ProgramFactory()
    first = record(program)

    again = record(program)

    assert again.created is False
    assert again.order.pk == first.order.pk
    assert Member.objects.get(program=program).balance == 1000


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "100.01"},
        {"member": "someone-else"},
        {"placed_at": timezone.now() - timedelta(days=3)},
        {"breakdown": breakdown(shipping="1.00")},
        {"breakdown": breakdown(discount="1.00")},
    ],
)
def test_same_external_id_with_other_data_is_a_conflict(db, change):
    # given an order recorded once
    program = ProgramFactory()
    placed_at = timezone.now() - timedelta(days=1)
    record(program, placed_at=placed_at)

    # when the same external id comes with other data
    with pytest.raises(OrderConflict) as raised:
        record(program, **{"placed_at": placed_at, **change})

    # then it is refused and nothing changes
    assert raised.value.code == "order_conflict"
    assert raised.value.status == 409
    assert "A-1" in raised.value.detail
    assert Order.objects.filter(program=program).count() == 1
    assert list(Member.objects.filter(program=program).values_list("external_id", "balance")) == [
        ("cust-1", 1000)
    ]
    assert LedgerEntry.objects.count() == 1


def test_same_external_id_in_another_program_is_another_order(db):
    one, other = ProgramFactory(), ProgramFactory()

    first = record(one)
    second = record(other)

    assert first.created is True
    assert second.created is True
    assert first.order.pk != second.order.pk


# --- refused input -----------------------------------------------------------------------------


def test_order_in_another_currency_is_refused(db):
    program = ProgramFactory(currency="EUR")

    with pytest.raises(CurrencyMismatch) as raised:
        record(program, currency="USD")

    assert raised.value.code == "currency_mismatch"
    assert "EUR" in raised.value.detail
    assert "USD" in raised.value.detail
    assert_nothing_recorded(program)


@pytest.mark.parametrize(
    ("currency", "amount"),
    [
        ("EUR", "0"),
        ("EUR", "0.00"),
        ("EUR", "-0"),
        ("EUR", "-1.00"),
        ("EUR", "NaN"),
        ("EUR", "-NaN"),
        ("EUR", "Infinity"),
        ("EUR", "-Infinity"),
        ("EUR", "1000000000.01"),
        ("EUR", "1E+12"),
        ("EUR", "1.001"),
        ("EUR", "0.001"),
        ("EUR", "1E-30"),
        ("JPY", "100.5"),
        ("JPY", "0.01"),
        ("JPY", "0"),
        ("BHD", "1.0001"),
    ],
)
def test_bad_amount_is_refused_and_changes_nothing(db, currency, amount):
    # given a program in `currency`
    program = ProgramFactory(currency=currency)

    # when an order comes with an amount that is not a positive amount of that currency
    with pytest.raises(InvalidInput) as raised:
        record(program, amount=amount, member="new-customer")

    # then it is refused with the field named, and nothing is written
    assert raised.value.code == "validation_error"
    assert raised.value.status == 400
    assert list(raised.value.fields) == ["amount"]
    assert_nothing_recorded(program)


@pytest.mark.parametrize(
    ("currency", "amount", "points"),
    [
        ("EUR", "0.01", 0),
        ("EUR", "1.10", 11),
        ("EUR", "100", 1000),
        ("JPY", "100", 1000),
        ("JPY", "100.0", 1000),  # no decimals in value, only in writing
        ("BHD", "1.005", 10),
    ],
)
def test_good_amounts_in_each_currency_are_accepted(db, currency, amount, points):
    program = ProgramFactory(currency=currency)

    result = record(program, amount=amount)

    assert result.created is True
    assert result.order.points_earned == points


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ({"shipping": "-1.00"}, "shipping"),
        ({"tax": "NaN"}, "tax"),
        ({"discount": "Infinity"}, "discount"),
        ({"paid_with_gift_card": "0.001"}, "paid_with_gift_card"),
        ({"shipping": "60.00", "tax": "41.00"}, "amount"),  # more taken out than paid
    ],
)
def test_bad_breakdown_is_refused_and_changes_nothing(db, parts, field):
    program = ProgramFactory()

    with pytest.raises(InvalidInput) as raised:
        record(program, amount="100.00", breakdown=breakdown(**parts))

    assert field in raised.value.fields
    assert_nothing_recorded(program)


def test_order_placed_in_the_future_is_refused(db):
    program = ProgramFactory()

    with pytest.raises(InvalidInput) as raised:
        record(program, placed_at=timezone.now() + timedelta(hours=1))

    assert list(raised.value.fields) == ["placed_at"]
    assert_nothing_recorded(program)


def test_order_a_little_ahead_of_our_clock_is_accepted(db):
    # a shop's clock may run a minute ahead of ours
    program = ProgramFactory()

    result = record(program, placed_at=timezone.now() + timedelta(minutes=1))

    assert result.created is True


@pytest.mark.parametrize(
    ("amount", "rate", "points"),
    [
        ("1000000000", "10", 10_000_000_000),
        ("1000000000.00", "100000", 100_000_000_000_000),  # program_update's highest rate
        ("999999999.99", "0.0001", 99_999),
    ],
)
def test_order_of_the_largest_amount_earns_exactly(db, amount, rate, points):
    # given the largest amount anyone may send, at the lowest and highest rates a program
    # can hold: far past 2**31 points, so the columns must be wide enough
    program = ProgramFactory(earn_rate=Decimal(rate))

    result = record(program, amount=amount)

    assert result.order.points_earned == points
    assert Member.objects.get(program=program).balance == points
    assert LedgerEntry.objects.get().balance_after == points
    assert ledger_audit() == []


# --- the member --------------------------------------------------------------------------------


def test_order_creates_an_unknown_member_on_the_fly(db):
    program = ProgramFactory()

    result = record(program, member="first-time-buyer", amount="5.00")

    member = Member.objects.get(program=program, external_id="first-time-buyer")
    assert result.order.member_id == member.pk
    assert member.balance == 50


def test_order_for_a_known_member_keeps_the_profile(db):
    # given a member whose profile the integrator sent before
    program = ProgramFactory()
    known, created = member_upsert(
        program=program, external_id="cust-1", email="ada@example.com", name="Ada", locale="es"
    )
    assert created is True

    # when that member orders
    result = record(program, member="cust-1")

    # then the order is theirs and the profile is untouched
    member = Member.objects.get(program=program)
    assert result.order.member_id == known.pk
    assert (member.email, member.name, member.locale, member.balance) == (
        "ada@example.com",
        "Ada",
        "es",
        1000,
    )


def test_member_upsert_after_orders_keeps_the_balance(db):
    program = ProgramFactory()
    record(program, member="cust-1")

    member, created = member_upsert(program=program, external_id="cust-1", name="Ada")

    assert created is False
    member.refresh_from_db()
    assert member.balance == 1000
    assert member.name == "Ada"


def test_order_sets_last_order_and_points_expiry(db):
    program = ProgramFactory(points_validity_days=365)
    placed_at = timezone.now() - timedelta(days=2)

    record(program, placed_at=placed_at)

    member = Member.objects.get(program=program)
    assert member.last_order_at == placed_at
    assert member.points_expire_at == placed_at + timedelta(days=365)


def test_points_expiry_and_last_order_only_move_forward(db):
    # given a member whose last order was 10 days ago, with a 30 day validity
    program = ProgramFactory(points_validity_days=30)
    now = timezone.now()
    record(program, external_id="A-1", placed_at=now - timedelta(days=10))

    # when an older order arrives late
    record(program, external_id="A-0", placed_at=now - timedelta(days=20))

    # then neither date goes back
    member = Member.objects.get(program=program)
    assert member.last_order_at == now - timedelta(days=10)
    assert member.points_expire_at == now + timedelta(days=20)

    # when a newer order arrives
    record(program, external_id="A-2", placed_at=now - timedelta(days=1))

    # then both move forward
    member.refresh_from_db()
    assert member.last_order_at == now - timedelta(days=1)
    assert member.points_expire_at == now + timedelta(days=29)


def test_points_never_expire_without_a_validity(db):
    program = ProgramFactory(points_validity_days=None)
    placed_at = timezone.now() - timedelta(days=2)

    record(program, placed_at=placed_at)

    member = Member.objects.get(program=program)
    assert member.last_order_at == placed_at
    assert member.points_expire_at is None


def test_a_replay_does_not_move_the_dates(db):
    program = ProgramFactory(points_validity_days=30)
    placed_at = timezone.now() - timedelta(days=1)
    record(program, placed_at=placed_at)
    Member.objects.update(last_order_at=None, points_expire_at=None)

    record(program, placed_at=placed_at)

    member = Member.objects.get(program=program)
    assert member.last_order_at is None
    assert member.points_expire_at is None


def test_first_order_sets_an_expiry_even_when_orders_do_not_reset_it(db):
    # given a program whose points last 365 days and whose orders do not extend them
    program = ProgramFactory(points_validity_days=365, reset_validity_on_order=False)
    placed_at = timezone.now() - timedelta(days=2)

    # when a member's first order earns points
    record(program, placed_at=placed_at)

    # then those points have an expiry date
    member = Member.objects.get(program=program)
    assert member.points_expire_at == placed_at + timedelta(days=365)
