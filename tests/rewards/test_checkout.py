"""Coupons at checkout: validate, redeem, release, and every refusal with what to do about it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from loyalty.errors import InvalidInput
from rewards.codes import code_display
from rewards.errors import (
    CouponAlreadyRedeemed,
    CouponCurrencyMismatch,
    CouponExpired,
    CouponMinOrderNotMet,
    CouponNotFound,
    CouponNotYetValid,
    CouponVoid,
    CouponWrongMember,
    RedemptionNotFound,
)
from rewards.models import Coupon, CouponEvent, Redemption
from rewards.services.checkout import coupon_redeem, coupon_release, coupon_validate
from tests.factories import ProgramFactory
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db

D = Decimal


def validate(program, code, amount="100.00", currency="EUR", member=None):
    return coupon_validate(
        program=program,
        code=code,
        order_amount=D(amount),
        currency=currency,
        member_external_id=member,
    )


def redeem(program, code, order="O-1", amount="100.00", currency="EUR", member=None):
    return coupon_redeem(
        program=program,
        code=code,
        order_reference=order,
        order_amount=D(amount),
        currency=currency,
        member_external_id=member,
    )


def release(program, code, order="O-1"):
    return coupon_release(program=program, code=code, order_reference=order)


def state(coupon):
    coupon.refresh_from_db()
    return coupon.status, coupon.uses_count


def events(coupon):
    return list(CouponEvent.objects.filter(coupon=coupon).values_list("kind", flat=True))


@pytest.fixture
def coupon(member):
    """10% off, single use, of ``member`` (cust-N) in an EUR program."""
    return CouponFactory(program=member.program, member=member)


# -- refusals -----------------------------------------------------------------------------------

EXPIRED_ON = datetime(2025, 3, 3, 12, tzinfo=UTC)
VALID_FROM = datetime(2099, 6, 15, 12, tzinfo=UTC)

REFUSALS = [
    pytest.param(
        {
            "status": Coupon.Status.EXPIRED,
            "valid_from": EXPIRED_ON - timedelta(days=30),
            "valid_until": EXPIRED_ON,
        },
        {},
        CouponExpired,
        "coupon_expired",
        "This coupon expired on March 3, 2025 and can no longer be used.",
        id="expired",
    ),
    pytest.param(
        # past its window but the daily job has not run yet: still 'active'
        {"valid_from": EXPIRED_ON - timedelta(days=30), "valid_until": EXPIRED_ON},
        {},
        CouponExpired,
        "coupon_expired",
        "This coupon expired on March 3, 2025 and can no longer be used.",
        id="window-over-still-active",
    ),
    pytest.param(
        {"valid_from": VALID_FROM, "valid_until": VALID_FROM + timedelta(days=30)},
        {},
        CouponNotYetValid,
        "coupon_not_yet_valid",
        "This coupon can be used from June 15, 2099. Please try again then.",
        id="not-yet-valid",
    ),
    pytest.param(
        {"status": Coupon.Status.REDEEMED, "uses_count": 1},
        {},
        CouponAlreadyRedeemed,
        "coupon_already_redeemed",
        "This coupon has already been used, so it cannot be used again.",
        id="redeemed",
    ),
    pytest.param(
        {"status": Coupon.Status.VOID},
        {},
        CouponVoid,
        "coupon_void",
        "This coupon was cancelled and can no longer be used.",
        id="void",
    ),
    pytest.param(
        {},
        {"member": "someone-else"},
        CouponWrongMember,
        "coupon_wrong_member",
        "This coupon belongs to another customer account. Sign in with the account it was "
        "issued to, or remove it from the order.",
        id="wrong-member",
    ),
    pytest.param(
        {"min_order_amount": D("100.00")},
        {"amount": "80.00"},
        CouponMinOrderNotMet,
        "coupon_min_order_not_met",
        "Add 20.00 EUR to your order to use this coupon: it applies to orders of at least "
        "100.00 EUR.",
        id="min-order",
    ),
    pytest.param(
        {},
        {"currency": "usd"},
        CouponCurrencyMismatch,
        "currency_mismatch",
        "This coupon is in EUR; the order is in USD.",
        id="currency",
    ),
]


@pytest.mark.parametrize("check", [validate, redeem], ids=["validate", "redeem"])
@pytest.mark.parametrize(("coupon_kwargs", "call_kwargs", "error", "code", "detail"), REFUSALS)
def test_a_coupon_that_cannot_be_used_is_refused_with_what_to_do(
    member, check, coupon_kwargs, call_kwargs, error, code, detail
):
    # given a coupon in some state
    coupon = CouponFactory(program=member.program, member=member, **coupon_kwargs)
    before = state(coupon)

    # when it is checked or redeemed
    with pytest.raises(error) as refused:
        check(member.program, coupon.code, **call_kwargs)

    # then the refusal names the reason and what to do, and nothing changed
    assert refused.value.code == code
    assert refused.value.status == 422
    assert refused.value.detail == detail
    assert state(coupon) == before
    assert not Redemption.objects.exists()
    assert not CouponEvent.objects.exists()


@pytest.mark.parametrize("check", [validate, redeem], ids=["validate", "redeem"])
@pytest.mark.parametrize("code", ["ABCDE-FGHJK-MNPQR", "", "   ", "not a code at all"])
def test_a_code_that_does_not_exist_is_not_found(program, check, code):
    with pytest.raises(CouponNotFound) as refused:
        check(program, code)

    assert refused.value.code == "coupon_not_found"
    assert refused.value.status == 404
    assert "Check it for typos" in refused.value.detail


@pytest.mark.parametrize(
    "check", [validate, redeem, release], ids=["validate", "redeem", "release"]
)
def test_a_coupon_of_another_program_is_not_found(coupon, check):
    other = ProgramFactory()

    with pytest.raises(CouponNotFound):
        check(other, coupon.code)

    assert state(coupon) == ("active", 0)


@pytest.mark.parametrize("check", [validate, redeem], ids=["validate", "redeem"])
@pytest.mark.parametrize(
    ("amount", "currency"),
    [("0", "EUR"), ("-5.00", "EUR"), ("10.001", "EUR"), ("NaN", "EUR"), ("10.5", "JPY")],
)
def test_an_order_amount_that_makes_no_sense_is_invalid_input(member, check, amount, currency):
    coupon = CouponFactory(program=member.program, member=member, currency=currency)

    with pytest.raises(InvalidInput) as refused:
        check(member.program, coupon.code, amount=amount, currency=currency)

    assert "order_amount" in refused.value.fields
    assert state(coupon) == ("active", 0)


@pytest.mark.parametrize("order", ["", "x" * 192])
def test_a_redemption_needs_an_order_reference(coupon, order):
    with pytest.raises(InvalidInput) as refused:
        redeem(coupon.program, coupon.code, order=order)

    assert "order" in refused.value.fields
    assert state(coupon) == ("active", 0)


def test_refusals_come_in_the_order_a_customer_can_act_on(member):
    # a void coupon of someone else, below the minimum: being void is what matters
    coupon = CouponFactory(
        program=member.program, member=member, status="void", min_order_amount=D(500)
    )

    with pytest.raises(CouponVoid):
        validate(member.program, coupon.code, member="someone-else", amount="10.00")


# -- validate -----------------------------------------------------------------------------------


def test_validate_tells_the_discount_and_changes_nothing(coupon):
    result = validate(
        coupon.program, coupon.code, amount="123.45", member=coupon.member.external_id
    )

    assert result.discount == D("12.35")
    assert result.coupon.pk == coupon.pk
    assert result.created is False
    assert state(coupon) == ("active", 0)
    assert not Redemption.objects.exists()
    assert not CouponEvent.objects.exists()


def test_a_promotion_coupon_without_a_member_is_for_anyone(program):
    promotion = CouponFactory(program=program, member=None, source="promotion")

    assert validate(program, promotion.code, member="anyone").discount == D("10.00")
    assert validate(program, promotion.code).discount == D("10.00")


def test_a_members_coupon_is_accepted_when_the_member_is_not_named(coupon):
    assert validate(coupon.program, coupon.code).discount == D("10.00")


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code_display(code).lower(),
        lambda code: code.lower(),
        lambda code: " ".join(code_display(code).split("-")),
        lambda code: " " + code[:3] + "-" + code[3:9].lower() + " " + code[9:] + " ",
    ],
    ids=["grouped-lower", "lower", "spaces", "mixed"],
)
def test_a_code_typed_any_way_works_at_checkout(coupon, typed):
    program = coupon.program
    typed_code = typed(coupon.code)

    assert validate(program, typed_code).coupon.pk == coupon.pk
    assert redeem(program, typed_code).created is True
    assert release(program, typed_code).status == "active"


# -- redeem -------------------------------------------------------------------------------------


def test_redeem_uses_the_coupon_and_records_why(coupon):
    result = redeem(coupon.program, coupon.code, order="O-1", amount="80.00")

    assert (result.created, result.discount) == (True, D("8.00"))
    assert state(coupon) == ("redeemed", 1)
    redemption = Redemption.objects.get()
    assert (redemption.coupon, redemption.order_reference) == (coupon, "O-1")
    assert (redemption.order_amount, redemption.discount, redemption.released_at) == (
        D("80.00"),
        D("8.00"),
        None,
    )
    event = CouponEvent.objects.get()
    assert (event.kind, event.order_reference, event.reason) == (
        "redeemed",
        "O-1",
        "8.00 EUR off 80.00 EUR",
    )


def test_redeeming_the_same_order_again_returns_the_first_answer(coupon):
    first = redeem(coupon.program, coupon.code, order="O-1", amount="80.00")

    again = redeem(coupon.program, coupon.code, order="O-1", amount="80.00")
    changed = redeem(coupon.program, coupon.code, order="O-1", amount="95.00")

    assert (again.created, again.discount) == (False, first.discount)
    assert (changed.created, changed.discount) == (False, first.discount)
    assert state(coupon) == ("redeemed", 1)
    assert Redemption.objects.count() == 1
    assert events(coupon) == ["redeemed"]


def test_a_single_use_coupon_cannot_be_used_on_a_second_order(coupon):
    redeem(coupon.program, coupon.code, order="O-1")

    with pytest.raises(CouponAlreadyRedeemed):
        redeem(coupon.program, coupon.code, order="O-2")

    assert Redemption.objects.count() == 1


def test_a_three_use_coupon_serves_three_orders_then_is_used_up(member):
    coupon = CouponFactory(program=member.program, member=member, uses_allowed=3)
    program = member.program

    states = []
    for order in ("O-1", "O-2", "O-3"):
        assert redeem(program, coupon.code, order=order).created is True
        states.append(state(coupon))
    # the same order twice takes no second use
    assert redeem(program, coupon.code, order="O-3").created is False

    assert states == [("active", 1), ("active", 2), ("redeemed", 3)]
    with pytest.raises(CouponAlreadyRedeemed):
        redeem(program, coupon.code, order="O-4")
    assert Redemption.objects.count() == 3
    assert events(coupon) == ["redeemed"] * 3


# -- release ------------------------------------------------------------------------------------


def test_release_makes_the_coupon_usable_again(coupon):
    redeem(coupon.program, coupon.code, order="O-1")

    released = release(coupon.program, coupon.code, order="O-1")

    assert released.status == "active"
    assert state(coupon) == ("active", 0)
    assert Redemption.objects.get().released_at is not None
    assert events(coupon) == ["redeemed", "released"]
    released_event = CouponEvent.objects.get(kind="released")
    assert (released_event.order_reference, released_event.reason) == (
        "O-1",
        "order cancelled; coupon active",
    )
    # and it can be used again, on another order or the same one
    assert redeem(coupon.program, coupon.code, order="O-1").created is True
    assert state(coupon) == ("redeemed", 1)
    assert Redemption.objects.filter(released_at__isnull=True).count() == 1


def test_release_of_a_coupon_that_expired_meanwhile_leaves_it_expired(coupon):
    redeem(coupon.program, coupon.code, order="O-1")
    # its window closes while the order is pending
    now = timezone.now()
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=now - timedelta(days=30), valid_until=now - timedelta(minutes=1)
    )

    released = release(coupon.program, coupon.code, order="O-1")

    assert released.status == "expired"
    assert state(coupon) == ("expired", 0)
    assert CouponEvent.objects.get(kind="released").reason == "order cancelled; coupon expired"
    with pytest.raises(CouponExpired):
        validate(coupon.program, coupon.code)


def test_releasing_twice_is_harmless(coupon):
    redeem(coupon.program, coupon.code, order="O-1")

    release(coupon.program, coupon.code, order="O-1")
    again = release(coupon.program, coupon.code, order="O-1")

    assert again.status == "active"
    assert state(coupon) == ("active", 0)
    assert events(coupon) == ["redeemed", "released"]


def test_releasing_one_order_of_a_multi_use_coupon_gives_back_one_use(member):
    coupon = CouponFactory(program=member.program, member=member, uses_allowed=3)
    for order in ("O-1", "O-2", "O-3"):
        redeem(member.program, coupon.code, order=order)

    release(member.program, coupon.code, order="O-2")

    assert state(coupon) == ("active", 2)
    assert redeem(member.program, coupon.code, order="O-4").created is True
    assert state(coupon) == ("redeemed", 3)


@pytest.mark.parametrize("redeemed_on", [None, "O-1"])
def test_releasing_an_order_that_never_used_the_coupon_is_not_found(coupon, redeemed_on):
    if redeemed_on:
        redeem(coupon.program, coupon.code, order=redeemed_on)
    before = state(coupon)

    with pytest.raises(RedemptionNotFound) as refused:
        release(coupon.program, coupon.code, order="O-9")

    assert refused.value.code == "redemption_not_found"
    assert refused.value.status == 404
    assert refused.value.detail == (
        f"Coupon {coupon.display_code} was not used on order 'O-9', so there is nothing to release."
    )
    assert state(coupon) == before


def test_releasing_an_unknown_code_is_not_found(program):
    with pytest.raises(CouponNotFound):
        release(program, "ABCDE-FGHJK-MNPQR")


@pytest.mark.parametrize("with_member", [True, False])
def test_a_coupon_looked_up_at_checkout_is_the_one_the_orm_loads(
    with_member, django_assert_num_queries
):
    program = ProgramFactory()
    extra = {} if with_member else {"member": None}
    coupon = CouponFactory(program=program, **extra)

    with django_assert_num_queries(1):
        found = validate(program, coupon.code).coupon
        member = found.member

    orm = Coupon.objects.select_related("member").get(pk=coupon.pk)
    assert model_to_dict(found) == model_to_dict(orm)
    assert (model_to_dict(member) if member else None) == (
        model_to_dict(orm.member) if orm.member else None
    )
    assert not found._state.adding
