"""The member list's filters (balance ranges, points expiring within N days, last order)
and the member page's notifications with their status."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Member, Program, Tier
from notifications.models import Event, Notification
from notifications.services import notification_enqueue
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:loyalty_member_changelist")


@pytest.fixture
def crowd(shop: Program) -> dict[str, Member]:
    now = timezone.now()
    people = {
        "empty": {"balance": 0, "points_expire_at": None, "last_order_at": None},
        "small": {"balance": 50, "points_expire_at": now + timedelta(days=5),
                      "last_order_at": now - timedelta(days=10)},
        "middle": {"balance": 500, "points_expire_at": now + timedelta(days=45),
                       "last_order_at": now - timedelta(days=60)},
        "big": {"balance": 20000, "points_expire_at": now + timedelta(days=200),
                    "last_order_at": now - timedelta(days=400)},
    }  # fmt: skip
    made = {}
    for name, columns in people.items():
        member = MemberFactory(program=shop, external_id=name)
        Member.objects.filter(pk=member.pk).update(**columns)
        made[name] = member
    MemberFactory(program=ProgramFactory(), external_id="stranger")  # another merchant
    return made


def listed(client, **params) -> set[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return {m.external_id for m in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"balance_range": "0"}, {"empty"}),
        ({"balance_range": "1-99"}, {"small"}),
        ({"balance_range": "100-999"}, {"middle"}),
        ({"balance_range": "10000+"}, {"big"}),
        ({"balance_range": "40-600"}, {"small", "middle"}),  # any range typed in the address
        ({"expiring_within": "7"}, {"small"}),
        ({"expiring_within": "60"}, {"small", "middle"}),
        ({"expiring_within": "40"}, {"small"}),  # any number of days
        ({"last_order": "30"}, {"small"}),
        ({"last_order": "90"}, {"small", "middle"}),
        ({"last_order": "older"}, {"big"}),
        ({"last_order": "never"}, {"empty"}),
        ({"balance_range": "1-99999", "last_order": "90"}, {"small", "middle"}),
    ],
)
def test_member_list_filters(shop, crowd, staff_client, params, expected):
    _user, client = staff_client(shop, "viewer")
    assert listed(client, **params) == expected


def test_filters_are_offered_on_the_list(shop, crowd, staff_client):
    _user, client = staff_client(shop, "viewer")
    page = client.get(CHANGELIST).content.decode()
    for parameter in ("balance_range=", "expiring_within=", "last_order="):
        assert parameter in page


def test_member_page_shows_notifications_and_their_status(shop, staff_client):
    member = MemberFactory(program=shop, external_id="alice", consent_email=True)
    notification_enqueue(
        member=member,
        event=Event.POINTS_GRANTED,
        occasion="a",
        context={"points": 5, "reason": "x"},
    )
    notification_enqueue(
        member=member,
        event=Event.POINTS_GRANTED,
        occasion="b",
        context={"points": 6, "reason": "y"},
    )
    Notification.objects.filter(member=member, dedupe_key__contains=":a").update(
        status=Notification.Status.FAILED, last_error="SMTP refused"
    )
    _user, client = staff_client(shop, "viewer")

    page = client.get(reverse("admin:loyalty_member_change", args=[member.pk]))

    html = page.content.decode()
    assert 'id="notifications"' in html
    rows = page.context["member_notifications"]
    assert len(rows) == 2
    assert {n.status for n in rows} == {"failed", "pending"}
    assert "SMTP refused" in html
    assert 'class="status-failed"' in html


def test_member_page_queries_do_not_grow_with_notifications(
    shop, staff_client, django_assert_max_num_queries
):
    member = MemberFactory(program=shop, external_id="alice", consent_email=True)
    _user, client = staff_client(shop)
    url = reverse("admin:loyalty_member_change", args=[member.pk])
    client.get(url)
    for n in range(30):
        notification_enqueue(member=member, event=Event.POINTS_GRANTED, occasion=str(n),
                             context={"points": n + 1, "reason": "x"})  # fmt: skip
    with django_assert_max_num_queries(20):
        response = client.get(url)
    assert response.context["member_notifications_more"] is True


def test_tier_filter_with_counts(shop, staff_client):
    gold = Tier.objects.create(program=shop, name="Gold", min_points=200)
    MemberFactory(program=shop, external_id="ana", tier=gold)
    MemberFactory(program=shop, external_id="bob")
    _user, client = staff_client(shop, "viewer")

    page = client.get(CHANGELIST).content.decode()

    assert f"tier={gold.pk}" in page
    assert "Gold (1)" in page
    assert listed(client, tier=str(gold.pk)) == {"ana"}
    assert listed(client, tier="none") == {"bob"}


def test_no_tier_filter_without_tiers(shop, staff_client):
    MemberFactory(program=shop, external_id="ana", locale="es")
    _user, client = staff_client(shop, "viewer")
    assert "tier=" not in client.get(CHANGELIST).content.decode()
