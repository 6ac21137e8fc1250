"""Roles of merchant staff: viewer reads only, support grants up to a limit and issues
compensation coupons, manager does everything of the merchant; never another merchant's."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from loyalty.models import LedgerEntry, Member, Program, User
from loyalty.roles import GrantLimitExceeded, RoleForbidden
from loyalty.services.coupon_voids import coupon_void
from loyalty.services.merchants import program_update
from loyalty.services.points import points_grant
from rewards.models import Coupon
from rewards.services.coupons import CouponTerms, coupon_issue_compensation
from tests.factories import MemberFactory, StaffFactory
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(shop: Program) -> Member:
    return MemberFactory(program=shop, external_id="alice")


def grant_form(points: int, action: str = "grant") -> dict[str, str]:
    return {
        "action": action,
        "points": str(points),
        "reason": "Goodwill",
        "idempotency_key": str(uuid.uuid4()),
    }


def points_url(member: Member) -> str:
    return reverse("admin:loyalty_member_points", args=[member.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# viewer


def test_viewer_sees_but_every_change_is_refused(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.VIEWER)
    member_url = reverse("admin:loyalty_member_change", args=[alice.pk])
    program_url = reverse("admin:loyalty_program_change", args=[shop.pk])

    page = client.get(member_url)
    assert page.status_code == 200
    assert "points_form" not in page.context or page.context["points_form"] is None
    assert 'name="_save"' not in page.content.decode()
    assert client.get(program_url).status_code == 200  # read-only view

    assert client.post(points_url(alice), grant_form(5)).status_code == 403
    assert client.post(member_url, {"name": "Hacked"}).status_code == 403
    assert client.post(program_url, {"name": "Hacked"}).status_code == 403
    assert client.get(reverse("admin:rewards_coupon_issue_csv")).status_code == 403
    assert client.get(reverse("admin:loyalty_member_coupon", args=[alice.pk])).status_code == 403
    assert client.get(reverse("admin:notifications_notificationtemplate_add")).status_code == 403
    assert client.get(reverse("backoffice:bulk")).status_code == 403
    alice.refresh_from_db()
    assert (alice.balance, alice.name) != (5, "Hacked")
    assert not LedgerEntry.objects.exists()


def test_viewer_is_refused_by_the_services_too(shop, alice):
    viewer = StaffFactory(merchant=shop.merchant, role=User.Role.VIEWER)
    with pytest.raises(RoleForbidden) as refused:
        points_grant(
            program=shop, member_external_id="alice", points=5, reason="x", created_by=viewer
        )
    assert refused.value.code == "role_forbidden"
    with pytest.raises(RoleForbidden):
        program_update(program=shop, actor=viewer, name="Other")
    with pytest.raises(RoleForbidden):
        coupon_issue_compensation(
            program=shop,
            member_external_id="alice",
            terms=CouponTerms(kind="fixed", value=Decimal(5)),
            reason="x",
            issued_by=viewer,
        )


# support


def test_support_grants_within_the_limit(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)

    response = client.post(points_url(alice), grant_form(100))

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.balance == 100


def test_support_above_the_limit_gets_a_clear_refusal(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)

    response = client.post(points_url(alice), grant_form(101))

    assert response.status_code == 200  # the member's page again, the form as typed
    [message] = texts(response)
    assert "may grant or deduct at most 100 points at once; 101 were asked" in message
    alice.refresh_from_db()
    assert alice.balance == 0
    assert not LedgerEntry.objects.exists()


def test_the_limit_holds_for_deductions_and_in_the_service(shop, alice):
    support = StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)
    points_grant(program=shop, member_external_id="alice", points=500, reason="x")
    with pytest.raises(GrantLimitExceeded) as refused:
        points_grant(
            program=shop, member_external_id="alice", points=-150, reason="x", created_by=support
        )
    assert refused.value.code == "grant_limit_exceeded"
    assert refused.value.status == 403


def test_the_limit_is_the_programs_setting(shop, alice):
    support = StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)
    manager = StaffFactory(merchant=shop.merchant)
    program_update(program=shop, actor=manager, support_grant_limit=1000)
    shop.refresh_from_db()

    points_grant(
        program=shop, member_external_id="alice", points=1000, reason="x", created_by=support
    )


def test_support_issues_compensation_coupons_but_edits_no_settings(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)

    response = client.post(
        reverse("admin:loyalty_member_coupon", args=[alice.pk]),
        {
            "apply": "1",
            "key": str(uuid.uuid4()),
            "kind": "fixed",
            "value": "5",
            "min_order_amount": "0",
            "valid_days": "30",
            "uses": "1",
            "reason": "Parcel lost",
            "source": "compensation",
        },
    )

    assert response.status_code == 302
    assert Coupon.objects.filter(member=alice, reason="Parcel lost").count() == 1
    assert client.get(reverse("admin:rewards_coupon_issue_csv")).status_code == 200
    program_url = reverse("admin:loyalty_program_change", args=[shop.pk])
    assert client.post(program_url, {"name": "Other"}).status_code == 403
    assert client.get(reverse("admin:notifications_notificationtemplate_add")).status_code == 403


def test_support_may_not_void_coupons(shop, alice):
    support = StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)
    coupon = CouponFactory(program=shop, member=alice)
    with pytest.raises(RoleForbidden):
        coupon_void(program=shop, code=coupon.code, reason="x", by=support)
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ACTIVE


# manager


def test_manager_does_everything_of_the_merchant(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.MANAGER)

    assert client.post(points_url(alice), grant_form(5000)).status_code == 302
    assert client.get(reverse("admin:notifications_notificationtemplate_add")).status_code == 200
    assert client.get(reverse("backoffice:bulk")).status_code == 200
    coupon = CouponFactory(program=shop, member=alice)
    coupon_void(program=shop, code=coupon.code, reason="x", by=_user)
    alice.refresh_from_db()
    assert alice.balance == 5000


# merchants


def test_no_role_reaches_another_merchants_members(shop, other_shop, staff_client):
    stranger = MemberFactory(program=other_shop, external_id="mallory")
    for role in User.Role.values:
        _user, client = staff_client(shop, role)
        url = reverse("admin:loyalty_member_change", args=[stranger.pk])
        assert client.get(url).status_code == 302  # "not found": back to the admin's home
        assert client.post(points_url(stranger), grant_form(5)).status_code == 404
        changelist = client.get(reverse("admin:loyalty_member_changelist"))
        assert "mallory" not in changelist.content.decode()
    stranger.refresh_from_db()
    assert stranger.balance == 0
