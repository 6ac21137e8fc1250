"""Issuing compensation coupons, voiding coupons, and the daily expiry job."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import InvalidInput, MemberNotFound
from loyalty.models import LedgerEntry, Member
from loyalty.services.coupon_voids import coupon_void
from loyalty.services.ledger import ledger_audit
from loyalty.services.orders import order_record
from rewards import tasks
from rewards.errors import CouponExpired, CouponNotFound, CouponNotVoidable, CouponVoid
from rewards.models import Coupon, CouponEvent
from rewards.services.checkout import coupon_redeem, coupon_validate
from rewards.services.coupons import CouponTerms, coupon_issue_compensation, coupons_expire
from tests.factories import StaffFactory
from tests.rewards.factories import CouponFactory, CouponTemplateFactory, RewardThresholdFactory

pytestmark = pytest.mark.django_db

D = Decimal
TEN_PERCENT = CouponTerms(kind="percent", value=D(10))


def compensate(program, member="cust-1", terms=TEN_PERCENT, reason="Parcel lost", **kwargs):
    return coupon_issue_compensation(
        program=program, member_external_id=member, terms=terms, reason=reason, **kwargs
    )


def events(coupon):
    return list(CouponEvent.objects.filter(coupon=coupon).values_list("kind", "reason", "by"))


@pytest.fixture
def staff(program):
    return StaffFactory(merchant=program.merchant)


# -- compensation and promotion coupons ----------------------------------------------------------


def test_a_compensation_coupon_records_who_gave_it_and_why(member, staff):
    program = member.program
    terms = CouponTerms(
        kind="fixed", value=D("15.00"), min_order_amount=D("50.00"), valid_days=60, uses=2
    )

    coupon = compensate(
        program, member.external_id, terms=terms, reason="  Parcel lost  ", issued_by=staff
    )

    coupon.refresh_from_db()
    assert (coupon.member, coupon.source, coupon.status, coupon.template) == (
        member,
        "compensation",
        "active",
        None,
    )
    assert (coupon.kind, coupon.value, coupon.min_order_amount, coupon.uses_allowed) == (
        "fixed",
        D("15.00"),
        D("50.00"),
        2,
    )
    assert (coupon.reason, coupon.issued_by, coupon.points_spent) == ("Parcel lost", staff, 0)
    assert coupon.valid_until - coupon.valid_from == timedelta(days=60)
    assert coupon.currency == program.currency
    assert events(coupon) == [("issued", "Parcel lost", staff.pk)]
    # and it gives no points and takes none
    assert not LedgerEntry.objects.exists()


def test_a_coupon_can_be_issued_from_a_template_and_as_a_promotion(member):
    template = CouponTemplateFactory(program=member.program, value=D(15), valid_days=7)

    coupon = compensate(
        member.program, member.external_id, terms=template, reason="Spring sale", source="promotion"
    )

    assert (coupon.source, coupon.template, coupon.value) == ("promotion", template, D(15))
    assert coupon.valid_until - coupon.valid_from == timedelta(days=7)


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_compensation_coupon_needs_a_reason(member, reason):
    with pytest.raises(InvalidInput) as refused:
        compensate(member.program, member.external_id, reason=reason)

    assert list(refused.value.fields) == ["reason"]
    assert not Coupon.objects.exists()


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        (CouponTerms(kind="percent", value=D(101)), "value"),
        (CouponTerms(kind="percent", value=D(0)), "value"),
        (CouponTerms(kind="fixed", value=D(0)), "value"),
        (CouponTerms(kind="fixed", value=D(-5)), "value"),
        (CouponTerms(kind="fixed", value=D("NaN")), "value"),
        (CouponTerms(kind="fixed", value=D("5.005")), "value"),
        (CouponTerms(kind="bogus", value=D(5)), "kind"),
        (CouponTerms(kind="percent", value=D(10), valid_days=0), "valid_days"),
        (CouponTerms(kind="percent", value=D(10), valid_days=3651), "valid_days"),
        (CouponTerms(kind="percent", value=D(10), uses=0), "uses"),
        (CouponTerms(kind="percent", value=D(10), max_discount=D(-1)), "max_discount"),
        (CouponTerms(kind="percent", value=D(10), min_order_amount=D("0.001")), "min_order_amount"),
    ],
)
def test_terms_that_make_no_sense_are_refused_by_field(member, terms, field):
    with pytest.raises(InvalidInput) as refused:
        compensate(member.program, member.external_id, terms=terms)

    assert field in refused.value.fields
    assert not Coupon.objects.exists()


@pytest.mark.parametrize(
    "terms",
    [
        CouponTerms(kind="percent", value=D(100)),
        CouponTerms(kind="percent", value=D("0.5"), valid_days=1),
        CouponTerms(kind="fixed", value=D("0.01"), valid_days=3650, uses=1000),
    ],
)
def test_terms_at_their_limits_are_accepted(member, terms):
    assert compensate(member.program, member.external_id, terms=terms).status == "active"


def test_a_compensation_coupon_for_an_unknown_member_is_refused(program):
    with pytest.raises(MemberNotFound):
        compensate(program, "nobody")

    assert not Coupon.objects.exists()


# -- void ---------------------------------------------------------------------------------------


@pytest.fixture
def reward_coupon(program):
    """A member's 5,000-point reward coupon, their balance back to 0."""
    RewardThresholdFactory(program=program, points=5000)
    result = order_record(
        program=program,
        external_id="A-1",
        member_external_id="cust-1",
        amount=D("500.00"),
        currency="EUR",
    )
    [coupon] = result.coupons_issued
    return coupon


def balance(program, member="cust-1"):
    return Member.objects.get(program=program, external_id=member).balance


def test_voiding_a_reward_coupon_gives_its_points_back(program, reward_coupon, staff):
    coupon = coupon_void(
        program=program, code=reward_coupon.code, reason="Customer asked", by=staff
    )

    assert coupon.status == "void"
    reward_coupon.refresh_from_db()
    assert reward_coupon.status == "void"
    assert events(reward_coupon)[-1] == ("voided", "Customer asked", staff.pk)
    back = LedgerEntry.objects.get(kind="adjustment")
    assert (back.points, back.coupon, back.created_by) == (5000, reward_coupon, staff)
    assert back.reason == (
        f"Coupon {reward_coupon.display_code} voided (Customer asked): its 5000 points come back"
    )
    assert balance(program) == 5000
    assert ledger_audit() == []


def test_voiding_without_returning_points_keeps_the_balance(program, reward_coupon):
    coupon_void(program=program, code=reward_coupon.code, reason="Fraud", return_points=False)

    reward_coupon.refresh_from_db()
    assert reward_coupon.status == "void"
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()
    assert balance(program) == 0
    assert ledger_audit() == []


def test_voiding_a_compensation_coupon_moves_no_points():
    coupon = CouponFactory()

    coupon_void(program=coupon.program, code=coupon.code, reason="Issued by mistake")

    coupon.refresh_from_db()
    assert coupon.status == "void"
    assert not LedgerEntry.objects.exists()


def test_a_voided_coupon_is_refused_at_checkout(program, reward_coupon):
    coupon_void(program=program, code=reward_coupon.display_code.lower(), reason="Typo in order")

    with pytest.raises(CouponVoid):
        coupon_validate(
            program=program, code=reward_coupon.code, order_amount=D(50), currency="EUR"
        )


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_voiding_needs_a_reason(program, reward_coupon, reason):
    with pytest.raises(InvalidInput) as refused:
        coupon_void(program=program, code=reward_coupon.code, reason=reason)

    assert list(refused.value.fields) == ["reason"]
    reward_coupon.refresh_from_db()
    assert reward_coupon.status == "active"


@pytest.mark.parametrize(
    ("coupon_kwargs", "status_shown"),
    [
        ({"status": "redeemed", "uses_count": 1}, "redeemed"),
        ({"status": "void"}, "void"),
        # a multi-use coupon used once is still 'active', but no longer unused
        ({"uses_allowed": 3, "uses_count": 1}, "active"),
    ],
)
def test_a_used_or_void_coupon_cannot_be_voided(coupon_kwargs, status_shown):
    coupon = CouponFactory(**coupon_kwargs)

    with pytest.raises(CouponNotVoidable) as refused:
        coupon_void(program=coupon.program, code=coupon.code, reason="Try")

    assert refused.value.code == "coupon_not_voidable"
    assert refused.value.status == 409
    assert refused.value.detail == (
        f"Coupon {coupon.display_code} is {status_shown}; "
        "only an active or expired coupon can be voided."
    )
    assert not CouponEvent.objects.filter(kind="voided").exists()


def test_a_coupon_redeemed_at_checkout_cannot_be_voided(program, reward_coupon):
    coupon_redeem(
        program=program,
        code=reward_coupon.code,
        order_reference="O-1",
        order_amount=D(50),
        currency="EUR",
    )

    with pytest.raises(CouponNotVoidable):
        coupon_void(program=program, code=reward_coupon.code, reason="Too late")

    assert balance(program) == 0
    assert ledger_audit() == []


def test_an_expired_coupon_can_be_voided(program, reward_coupon):
    Coupon.objects.filter(pk=reward_coupon.pk).update(status="expired")

    coupon_void(program=program, code=reward_coupon.code, reason="Goodwill")

    reward_coupon.refresh_from_db()
    assert reward_coupon.status == "void"
    assert balance(program) == 5000


def test_voiding_an_unknown_code_is_not_found(program):
    with pytest.raises(CouponNotFound):
        coupon_void(program=program, code="ABCDE-FGHJK-MNPQR", reason="Why not")


# -- the expiry job -----------------------------------------------------------------------------


def due(**kwargs):
    """An active coupon whose window closed yesterday."""
    return CouponFactory(lapsed=True, **kwargs)


def test_the_expiry_job_expires_only_active_coupons_past_their_window():
    # given coupons in every situation
    lapsed = [due(), due()]
    current = CouponFactory()
    redeemed_lapsed = due(status="redeemed", uses_count=1)
    void_lapsed = due(status="void")
    already_expired = due(status="expired")

    # when the job runs
    count = coupons_expire()

    # then just the active, lapsed ones are expired, each with an event
    assert count == 2
    statuses = dict(Coupon.objects.values_list("pk", "status"))
    assert [statuses[c.pk] for c in lapsed] == ["expired", "expired"]
    assert statuses[current.pk] == "active"
    assert statuses[redeemed_lapsed.pk] == "redeemed"
    assert statuses[void_lapsed.pk] == "void"
    assert statuses[already_expired.pk] == "expired"
    assert sorted(CouponEvent.objects.values_list("coupon", "kind")) == sorted(
        (c.pk, "expired") for c in lapsed
    )


def test_the_expiry_job_is_safe_to_run_twice():
    due()
    due()

    assert coupons_expire() == 2
    assert coupons_expire() == 0
    assert CouponEvent.objects.filter(kind="expired").count() == 2


def test_the_expiry_job_works_through_more_than_one_batch():
    coupons = [due() for _ in range(7)]
    CouponFactory()

    assert coupons_expire(batch_size=3) == 7

    assert Coupon.objects.filter(status="expired").count() == 7
    assert set(CouponEvent.objects.filter(kind="expired").values_list("coupon", flat=True)) == {
        c.pk for c in coupons
    }


def test_a_coupon_expires_at_the_exact_end_of_its_window():
    now = timezone.now()
    ending_now = CouponFactory(valid_from=now - timedelta(days=1), valid_until=now)
    ending_later = CouponFactory(
        valid_from=now - timedelta(days=1), valid_until=now + timedelta(microseconds=1)
    )

    assert coupons_expire(now=now) == 1

    ending_now.refresh_from_db()
    ending_later.refresh_from_db()
    assert (ending_now.status, ending_later.status) == ("expired", "active")


def test_the_expiry_task_calls_the_job_and_can_run_twice():
    coupon = due()

    assert tasks.coupons_expire() == 1
    assert tasks.coupons_expire() == 0

    with pytest.raises(CouponExpired):
        coupon_validate(
            program=coupon.program, code=coupon.code, order_amount=D(50), currency="EUR"
        )
