"""The backoffice's frame: "View site" leads to the merchant's customer sign-in page, a
refusal answers in the admin's look with a way back, and the lists show what fits."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import LedgerEntry
from loyalty.services.orders import order_record
from tests.backoffice.conftest import entry_at
from tests.factories import MemberFactory
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db


def test_view_site_is_the_merchants_sign_in_page(shop, staff_client):
    _user, client = staff_client(shop, "viewer")

    response = client.get(reverse("admin:index"))

    sign_in = reverse("profile:sign-in", args=[shop.merchant.slug])
    assert response.context["site_url"] == sign_in
    assert f'<a href="{sign_in}">View site</a>' in response.content.decode()
    assert client.get(sign_in).status_code == 200


def test_a_superuser_of_no_merchant_gets_no_view_site_link(superuser_client):
    _user, client = superuser_client

    page = client.get(reverse("admin:index")).content.decode()

    assert "View site" not in page


def test_a_refusal_looks_like_the_admin_and_leads_back(shop, staff_client):
    """A viewer on the bulk page: the admin's frame, what happened, the way back."""
    _user, client = staff_client(shop, "viewer")
    members = reverse("admin:loyalty_member_changelist")

    response = client.get(
        reverse("backoffice:bulk"), headers={"referer": f"http://testserver{members}"}
    )

    page = response.content.decode()
    assert response.status_code == 403
    assert 'id="refusal"' in page
    assert "You may not do this" in page
    assert "backoffice/admin.css" in page  # the admin's look
    assert 'id="nav-sidebar"' in page or 'id="header"' in page
    assert 'id="refusal-back"' in page
    assert f'href="http://testserver{members}"' in page


def test_a_refusal_leads_home_when_it_came_from_elsewhere(shop, staff_client):
    _user, client = staff_client(shop, "viewer")

    response = client.get(
        reverse("backoffice:bulk"), headers={"referer": "https://evil.example/phish"}
    )

    page = response.content.decode()
    assert "evil.example" not in page
    assert f'href="{reverse("admin:index")}" class="button" id="refusal-back"' in page


def test_a_model_admin_refusal_is_styled_too(shop, staff_client):
    """A viewer who sends the points form gets the same page as the bulk page refuses."""
    member = MemberFactory(program=shop)
    _user, client = staff_client(shop, "viewer")

    response = client.post(
        reverse("admin:loyalty_member_points", args=[member.pk]),
        {"action": "grant", "points": "5", "reason": "x"},
    )

    assert response.status_code == 403
    assert 'id="refusal"' in response.content.decode()


def test_another_merchants_job_is_a_styled_not_found(shop, other_shop, staff_client):
    _user, client = staff_client(other_shop)

    response = client.get(reverse("backoffice:bulk-job", args=[999_999]))

    assert response.status_code == 404
    assert "This page does not exist, or it belongs to another merchant." in (
        response.content.decode()
    )


def test_a_signed_out_visitor_is_sent_to_sign_in_not_refused(client):
    response = client.get(reverse("backoffice:bulk"))

    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_coupon_list_shows_the_discount_and_the_whole_terms_on_the_coupons_page(shop, staff_client):
    coupon = CouponFactory(
        program=shop, kind="fixed", value=Decimal("15.00"), min_order_amount=Decimal("100.00")
    )
    _user, client = staff_client(shop, "viewer")

    listed = client.get(reverse("admin:rewards_coupon_changelist")).content.decode()
    shown = client.get(reverse("admin:rewards_coupon_change", args=[coupon.pk])).content.decode()

    assert ">15.00\xa0EUR off …</span>" in listed
    assert "15.00\xa0EUR off orders of at least 100.00\xa0EUR" in listed  # its tooltip
    assert "field-source" not in listed
    assert "field-created_at" not in listed
    assert "15.00 EUR off orders of at least 100.00 EUR" in shown.replace("\xa0", " ")


def test_member_list_columns_and_grouped_balance(shop, staff_client):
    member = MemberFactory(program=shop, name="Ann Example", email="ann@example.com")
    member.balance = 1_234_567
    member.save(update_fields=["balance"])
    _user, client = staff_client(shop, "viewer")

    page = client.get(reverse("admin:loyalty_member_changelist")).content.decode()

    assert ">1,234,567<" in page
    assert 'title="ann@example.com">ann@example.com<' in page
    for column in ("external_id", "who", "balance_shown", "tier", "last_order", "expires"):
        assert f"column-{column}" in page


def test_ledger_list_shows_the_member_id_and_grouped_points(shop, staff_client):
    member = MemberFactory(program=shop, external_id="cus-9", name="A Very Long Name Indeed")
    entry_at(member, LedgerEntry.Kind.GRANT, 12_500, timezone.now())
    _user, client = staff_client(shop, "viewer")

    page = client.get(reverse("admin:loyalty_ledgerentry_changelist")).content.decode()

    assert 'title="A Very Long Name Indeed">cus-9<' in page
    assert ">+12,500<" in page
    assert ">22,500<" in page  # its balance after


def test_order_list_shows_amounts_with_their_currency_and_grouped_points(shop, staff_client):
    member = MemberFactory(program=shop, external_id="cus-7", name="Bea Example")
    order_record(
        program=shop,
        external_id="big-1",
        member_external_id=member.external_id,
        amount=Decimal("1234.5"),
        currency="EUR",
    )
    _user, client = staff_client(shop, "viewer")

    page = client.get(reverse("admin:loyalty_order_changelist")).content.decode()

    assert ">1,234.50 EUR<" in page
    assert ">12,345<" in page  # points earned at 10 a unit
    assert 'title="Bea Example">cus-7<' in page
    assert "column-currency" not in page  # the amount carries it
