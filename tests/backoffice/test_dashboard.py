"""The dashboard on the admin's home: weekly figures from known data, constant queries,
the same figures as CSV, per merchant and date range."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty.backoffice.charts import axis_label
from loyalty.backoffice.dashboard import dashboard_figures, dashboard_range
from loyalty.models import LedgerEntry, Member, Program, Tier
from loyalty.services.orders import order_record
from rewards.models import Coupon
from tests.backoffice.conftest import entry_at
from tests.factories import MemberFactory
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 5), date(2026, 1, 18)  # two weeks, Monday to Sunday


def at(day: int, month: int = 1) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def known(shop: Program) -> Program:
    """Two weeks of activity, and some outside the range."""
    shop.point_value = Decimal("0.01")
    shop.save()
    first, second, third = (MemberFactory(program=shop) for _ in range(3))
    entry_at(first, LedgerEntry.Kind.EARN, 100, at(5))
    entry_at(first, LedgerEntry.Kind.EARN, 50, at(11))
    entry_at(first, LedgerEntry.Kind.REWARD, -60, at(7))
    entry_at(second, LedgerEntry.Kind.GRANT, 30, at(8))
    entry_at(second, LedgerEntry.Kind.EXPIRE, -20, at(12))
    entry_at(third, LedgerEntry.Kind.DEDUCT, -5, at(13))
    entry_at(third, LedgerEntry.Kind.EARN, 10, at(18))
    entry_at(third, LedgerEntry.Kind.EARN, 999, at(20))  # after the range
    entry_at(third, LedgerEntry.Kind.EARN, 777, at(4))  # before it
    CouponFactory(program=shop, member=first, created_at=at(6), uses_count=1)
    CouponFactory(program=shop, member=second, created_at=at(9))
    CouponFactory(program=shop, member=second, created_at=at(14))
    CouponFactory(program=shop, member=second, created_at=at(25))  # after the range
    for n, (member, day) in enumerate([(first, 6), (first, 13), (second, 14), (third, 25)]):
        order_record(
            program=shop,
            external_id=f"o-{n}",
            member_external_id=member.external_id,
            amount=Decimal(10),
            currency="EUR",
            placed_at=at(day),
        )
    Member.objects.filter(pk=first.pk).update(balance=500)
    Member.objects.filter(pk=second.pk).update(balance=0)
    Member.objects.filter(pk=third.pk).update(balance=40)
    return shop


def test_weekly_figures_sum_each_kind_in_its_week(known):
    figures = dashboard_figures(program=known, start=START, end=END)

    assert [w.start for w in figures.weeks] == [date(2026, 1, 5), date(2026, 1, 12)]
    first, second = figures.weeks
    # The orders' 100 points each count in the week the order was placed (the 6th, the
    # 13th and 14th), though their entries were written today.
    assert (first.earned, first.converted, first.granted, first.expired) == (250, 60, 30, 0)
    assert (second.earned, second.expired, second.deducted, second.converted) == (210, 20, 5, 0)
    assert (first.coupons_issued, first.coupons_redeemed) == (2, 1)
    assert (second.coupons_issued, second.coupons_redeemed) == (1, 0)
    assert figures.totals["earned"] == 460
    assert figures.redemption_rate == Decimal("33.3")


def test_member_figures_and_liability_in_money(known):
    figures = dashboard_figures(program=known, start=START, end=END)

    assert figures.members == 3
    assert figures.active_members == 2  # ordered in the range (the third only after it)
    assert figures.outstanding_points == 540
    assert figures.liability == Decimal("5.40")
    assert figures.tiers is None  # this build has no tiers


def test_no_liability_without_a_point_value(shop):
    MemberFactory(program=shop)
    figures = dashboard_figures(program=shop, start=START, end=END)
    assert figures.liability is None


def test_another_merchants_activity_is_not_counted(known, other_shop):
    stranger = MemberFactory(program=other_shop)
    entry_at(stranger, LedgerEntry.Kind.EARN, 5000, at(6))
    CouponFactory(program=other_shop, member=stranger, created_at=at(6))

    figures = dashboard_figures(program=known, start=START, end=END)

    assert figures.totals["earned"] == 460
    assert figures.totals["coupons_issued"] == 3


def test_queries_do_not_grow_with_the_range(known):
    with CaptureQueriesContext(connection) as one_week:
        dashboard_figures(program=known, start=START, end=date(2026, 1, 11))
    with CaptureQueriesContext(connection) as two_years:
        dashboard_figures(program=known, start=date(2024, 1, 20), end=date(2026, 1, 18))

    assert len(one_week) == len(two_years) == 5


def test_range_defaults_to_twelve_weeks_and_is_capped():
    start, end = dashboard_range(None, None)
    assert end == timezone.localdate()
    assert (end - start).days == 83
    start, end = dashboard_range("2020-01-01", "2026-01-01")
    assert (end - start).days == 731
    assert dashboard_range("2026-02-01", "2026-01-01") == (date(2026, 1, 1), date(2026, 2, 1))
    assert dashboard_range("nonsense", "2026-01-10")[1] == date(2026, 1, 10)


def test_dashboard_csv_has_the_same_figures(known, staff_client):
    _user, client = staff_client(known, "viewer")

    response = client.get(reverse("backoffice:dashboard-csv"), {"start": START, "end": END})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "week,earned,converted,expired,granted,deducted,coupons_issued,coupons_redeemed"
    )
    assert lines[1] == "2026-01-05,250,60,0,30,0,2,1"
    assert lines[2] == "2026-01-12,210,0,20,0,5,1,0"
    assert "outstanding_points,540" in lines
    assert "liability,5.40" in lines
    assert "active_members,2" in lines


def test_admin_home_shows_the_dashboard_of_the_staff_users_merchant(known, staff_client):
    _user, client = staff_client(known, "viewer")

    response = client.get(reverse("admin:index"), {"start": START, "end": END})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="dashboard"' in page
    assert "<svg" in page
    assert 'class="bar earned"' in page
    assert 'id="kpi-outstanding">540<' in page
    assert "5.40 EUR" in page
    assert "No tiers" in page
    assert "backoffice/dashboard.css" in page
    assert "cdn" not in page.lower()


def test_admin_home_is_fast_whatever_the_range(known, staff_client, django_assert_max_num_queries):
    _user, client = staff_client(known)
    client.get(reverse("admin:index"))  # warm the session
    with django_assert_max_num_queries(13):
        client.get(reverse("admin:index"), {"start": "2024-01-20", "end": "2026-01-18"})


def test_a_superuser_picks_the_merchant(known, other_shop, superuser_client):
    _user, client = superuser_client

    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard-merchant"' in page
    assert "kpi-outstanding" not in page

    page = client.get(
        reverse("admin:index"), {"merchant": known.merchant_id, "start": START, "end": END}
    ).content.decode()
    assert 'id="kpi-outstanding">540<' in page


def test_a_staff_user_cannot_see_another_merchants_figures(known, other_shop, staff_client):
    _user, client = staff_client(other_shop)

    response = client.get(
        reverse("backoffice:dashboard-csv"),
        {"merchant": known.merchant_id, "start": START, "end": END},
    )

    assert "outstanding_points,0" in response.content.decode().splitlines()
    assert Coupon.objects.filter(program=known).count() == 4


def test_members_per_tier(shop):
    gold = Tier.objects.create(program=shop, name="Gold", min_points=200)
    diamond = Tier.objects.create(program=shop, name="Diamond", min_points=2000)
    MemberFactory(program=shop, tier=diamond)
    MemberFactory(program=shop, tier=gold)
    MemberFactory(program=shop, tier=gold)
    MemberFactory(program=shop)

    figures = dashboard_figures(program=shop, start=START, end=END)

    assert figures.tiers == [(None, 1), ("Gold", 2), ("Diamond", 1)]


def test_no_tier_figures_while_nobody_holds_a_tier(shop):
    MemberFactory(program=shop)
    assert dashboard_figures(program=shop, start=START, end=END).tiers is None


@pytest.mark.parametrize(
    ("value", "label"),
    [(0, "0"), (9_999, "9,999"), (10_000, "10k"), (671_394, "671k"), (1_835_480, "1.8M")],
)
def test_the_chart_axis_label_fits_the_margin(value, label):
    assert axis_label(value) == label
