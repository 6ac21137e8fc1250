"""The dashboard's sales figures (members' revenue, repeat purchases, average order, beside
the previous period), the week an order's points count in, and figures written the staff
member's way (thousands separators, "No tier")."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.backoffice.dashboard import dashboard_figures
from loyalty.backoffice.sales import Sales, previous_range
from loyalty.models import Member, Program, Tier
from loyalty.services.orders import order_record
from loyalty.services.refunds import refund_record
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 5), date(2026, 1, 18)  # two weeks; the previous: Dec 22 to Jan 4


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.get_current_timezone())


def order(program: Program, member: Member, key: str, amount: str, day: date) -> None:
    order_record(
        program=program,
        external_id=key,
        member_external_id=member.external_id,
        amount=Decimal(amount),
        currency="EUR",
        placed_at=at(day) + timedelta(hours=12),
    )


@pytest.fixture
def sold(shop: Program) -> Program:
    """This range: ann twice (30 + 50), bob once (20, half refunded). Before it: ann once
    (40), cid twice (10 + 30). Outside both: one order."""
    ann, bob, cid = (MemberFactory(program=shop) for _ in range(3))
    order(shop, ann, "a1", "30.00", date(2026, 1, 5))
    order(shop, ann, "a2", "50.00", date(2026, 1, 18))
    order(shop, bob, "b1", "20.00", date(2026, 1, 10))
    refund_record(program=shop, order_external_id="b1", external_id="r1", amount=Decimal(10))
    order(shop, ann, "a0", "40.00", date(2026, 1, 4))
    order(shop, cid, "c1", "10.00", date(2025, 12, 22))
    order(shop, cid, "c2", "30.00", date(2025, 12, 30))
    order(shop, cid, "c3", "999.00", date(2025, 12, 21))  # before the previous range
    order(shop, cid, "c4", "999.00", date(2026, 1, 19))  # after the range
    return shop


def test_previous_range_is_as_long_and_ends_the_day_before():
    assert previous_range(START, END) == (date(2025, 12, 22), date(2026, 1, 4))
    assert previous_range(date(2026, 3, 1), date(2026, 3, 1)) == (
        date(2026, 2, 28),
        date(2026, 2, 28),
    )


def test_sales_of_the_range_and_the_one_before(sold):
    figures = dashboard_figures(program=sold, start=START, end=END)

    assert figures.sales == Sales(
        orders=3,
        ordered=Decimal("100.00"),
        revenue=Decimal("90.00"),
        buyers=2,
        repeat_buyers=1,
    )
    assert figures.sales.revenue_share == Decimal("90.0")
    assert figures.sales.repeat_rate == Decimal("50.0")
    assert figures.sales.average_order == Decimal("33.33")
    assert figures.active_members == 2
    assert figures.previous_sales == Sales(
        orders=3, ordered=Decimal("80.00"), revenue=Decimal("80.00"), buyers=2, repeat_buyers=1
    )
    assert (figures.previous_start, figures.previous_end) == (date(2025, 12, 22), date(2026, 1, 4))


def test_no_orders_gives_no_rates(shop):
    figures = dashboard_figures(program=shop, start=START, end=END)
    assert figures.sales == Sales()
    assert figures.sales.revenue_share is None
    assert figures.sales.repeat_rate is None
    assert figures.sales.average_order is None


def test_another_merchants_orders_are_not_counted(sold, other_shop):
    stranger = MemberFactory(program=other_shop)
    order(other_shop, stranger, "x1", "5000.00", date(2026, 1, 6))
    assert dashboard_figures(program=sold, start=START, end=END).sales.ordered == Decimal(100)


def test_an_order_sent_today_counts_in_the_week_it_was_placed(shop):
    """An integrator sends last year's orders today: their points are last year's."""
    member = MemberFactory(program=shop)
    order(shop, member, "old", "12.00", date(2026, 1, 7))  # 120 points

    figures = dashboard_figures(program=shop, start=START, end=END)
    this_week = dashboard_figures(
        program=shop, start=timezone.localdate() - timedelta(days=6), end=timezone.localdate()
    )

    assert [w.earned for w in figures.weeks] == [120, 0]
    assert this_week.totals["earned"] == 0


def test_sales_figures_in_the_csv(sold, staff_client):
    _user, client = staff_client(sold, "viewer")
    lines = (
        client.get(reverse("backoffice:dashboard-csv"), {"start": START, "end": END})
        .content.decode()
        .splitlines()
    )
    for line in (
        "revenue,90.00",
        "revenue_share_percent,90.0",
        "repeat_purchase_rate_percent,50.0",
        "average_order,33.33",
        "previous_revenue,80.00",
        "previous_from,2025-12-22",
    ):
        assert line in lines


@pytest.fixture
def big(shop: Program) -> Program:
    shop.point_value = Decimal("0.01")
    shop.save()
    gold = Tier.objects.create(program=shop, name="Gold", min_points=200)
    MemberFactory(program=shop, tier=gold)
    MemberFactory(program=shop)
    member = MemberFactory(program=shop)
    order(shop, member, "big", "12345.60", date(2026, 1, 6))
    Member.objects.filter(program=shop).update(balance=223_798)
    return shop


def test_the_page_groups_thousands_and_names_members_without_a_tier(big, staff_client):
    _user, client = staff_client(big, "viewer")

    page = client.get(reverse("admin:index"), {"start": START, "end": END}).content.decode()

    assert 'id="kpi-outstanding">671,394<' in page
    assert 'id="kpi-liability">6,713.94 EUR<' in page
    assert 'id="kpi-revenue">12,345.60 EUR<' in page
    assert "No tier: 2" in page
    assert "—:" not in page
    assert "123,456<" in page  # the order's points in the weekly table
    assert "Jan. 5, 2026" in page  # the week, in the language's date format


def test_the_page_groups_thousands_the_spanish_way(big, staff_client):
    _user, client = staff_client(big, "viewer")

    with translation.override("es"):
        page = client.get(
            reverse("admin:index"),
            {"start": START, "end": END},
            headers={"accept-language": "es"},
        ).content.decode()

    # Spanish groups with a non-breaking space and writes decimals after a comma.
    assert 'id="kpi-outstanding">671\xa0394<' in page
    assert 'id="kpi-liability">6\xa0713,94 EUR<' in page
    assert "Sin nivel: 2" in page


def test_the_page_shows_each_figure_beside_the_previous_period(sold, staff_client):
    _user, client = staff_client(sold, "viewer")

    page = client.get(reverse("admin:index"), {"start": START, "end": END}).content.decode()

    assert 'id="kpi-revenue">90.00 EUR<' in page
    assert "90.0 % of the 100.00 EUR ordered" in page
    assert 'id="kpi-revenue-before">previous period: 80.00 EUR (100.0 %)<' in page
    assert 'id="kpi-repeat">50.0 %<' in page
    assert 'id="kpi-repeat-before">previous period: 50.0 %<' in page
    assert 'id="kpi-average">33.33 EUR<' in page
    assert 'id="kpi-average-before">previous period: 26.67 EUR<' in page
    assert "Dec. 22, 2025 to Jan. 4, 2026" in page
