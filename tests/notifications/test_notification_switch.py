"""A merchant switches a notification off on one channel: nothing of that event is written on
that channel (the reminders too) while the others go on; switched on again, it is sent again.
Managers only, audited; a service notice cannot be switched off."""

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.errors import InvalidInput
from loyalty.models import AuditEntry, Merchant, User
from loyalty.roles import MerchantForbidden, RoleForbidden
from notifications.models import Notification
from notifications.services.reminders import reminders_send
from notifications.services.templates import notification_switch
from tests.factories import ProgramFactory, StaffFactory
from tests.notifications.conftest import reward
from tests.notifications.test_reminders_batch import NOW, due_member

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:notifications_notificationtemplate_changelist")


def switch_url(event: str, channel: str) -> str:
    return reverse("admin:notifications_notificationtemplate_switch", args=[event, channel])


def login(program, role: str = User.Role.MANAGER) -> tuple[User, Client]:
    user = StaffFactory(merchant=program.merchant, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def test_a_switched_off_event_is_not_written_on_that_channel(program, member):
    manager = StaffFactory(merchant=program.merchant)

    notification_switch(
        merchant_id=program.merchant_id, event="reward_issued", channel="email", on=False,
        actor=manager,
    )  # fmt: skip
    member.program.merchant.refresh_from_db()
    written = reward(member, occasion="coupon-1")

    assert written == []
    assert not Notification.objects.exists()


def test_other_events_still_go_and_switching_on_again_sends_it(program, member):
    manager = StaffFactory(merchant=program.merchant)
    notification_switch(merchant_id=program.merchant_id, event="points_expired",
                        channel="email", on=False, actor=manager)  # fmt: skip
    member.program.merchant.refresh_from_db()

    assert len(reward(member, occasion="coupon-1")) == 1  # another event

    notification_switch(merchant_id=program.merchant_id, event="reward_issued",
                        channel="email", on=False, actor=manager)  # fmt: skip
    notification_switch(merchant_id=program.merchant_id, event="reward_issued",
                        channel="email", on=True, actor=manager)  # fmt: skip
    member.program.merchant.refresh_from_db()

    assert len(reward(member, occasion="coupon-2")) == 1
    assert Merchant.objects.get(pk=program.merchant_id).notifications_off == [
        "points_expired:email"
    ]


def test_another_merchants_switch_does_not_matter(program, member):
    other = ProgramFactory()
    notification_switch(merchant_id=other.merchant_id, event="reward_issued", channel="email",
                        on=False, actor=None)  # fmt: skip

    assert len(reward(member)) == 1


def test_reminders_respect_the_switch():
    program = ProgramFactory(points_validity_days=365)
    due_member(program, 1, consent_email=True, email="a@example.com")
    notification_switch(merchant_id=program.merchant_id, event="points_expiring",
                        channel="email", on=False, actor=None)  # fmt: skip

    assert reminders_send(now=NOW) == 0
    assert not Notification.objects.exists()


def test_switching_is_audited(program):
    manager = StaffFactory(merchant=program.merchant)

    notification_switch(merchant_id=program.merchant_id, event="tier_changed", channel="push",
                        on=False, actor=manager)  # fmt: skip
    notification_switch(
        merchant_id=program.merchant_id,
        event="tier_changed",
        channel="push",
        on=False,
        actor=manager,
    )  # fmt: skip  (already off: nothing new)
    notification_switch(merchant_id=program.merchant_id, event="tier_changed", channel="push",
                        on=True, actor=manager)  # fmt: skip

    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "changes"))
    assert entries == [
        ("notification.switch_off", {"event": "tier_changed", "channel": "push"}),
        ("notification.switch_on", {"event": "tier_changed", "channel": "push"}),
    ]


@pytest.mark.parametrize("role", [User.Role.VIEWER, User.Role.SUPPORT])
def test_weaker_roles_cannot_switch(program, role):
    user = StaffFactory(merchant=program.merchant, role=role)

    with pytest.raises(RoleForbidden):
        notification_switch(merchant_id=program.merchant_id, event="tier_changed",
                            channel="push", on=False, actor=user)  # fmt: skip

    assert Merchant.objects.get(pk=program.merchant_id).notifications_off == []


def test_another_merchants_manager_cannot_switch(program):
    stranger = StaffFactory(merchant=ProgramFactory().merchant)

    with pytest.raises(MerchantForbidden):
        notification_switch(merchant_id=program.merchant_id, event="tier_changed",
                            channel="push", on=False, actor=stranger)  # fmt: skip


@pytest.mark.parametrize(
    ("event", "channel"),
    [("email_changed", "email"), ("nothing", "email"), ("tier_changed", "fax")],
)
def test_a_notice_or_an_unknown_notification_cannot_be_switched_off(program, event, channel):
    with pytest.raises(InvalidInput):
        notification_switch(merchant_id=program.merchant_id, event=event, channel=channel,
                            on=False, actor=None)  # fmt: skip


# The page


def test_a_manager_switches_off_from_the_texts_page(program):
    _user, client = login(program)

    client.post(switch_url("points_granted", "push"), {"on": "0"})
    html = client.get(LIST_URL).content.decode()

    assert Merchant.objects.get(pk=program.merchant_id).notifications_off == ["points_granted:push"]
    assert "Switched off: not sent" in html
    assert 'name="on" value="1"' in html  # the way back on
    assert switch_url("email_changed", "email") not in html  # a notice: no switch


def test_a_viewer_has_no_switch_and_cannot_post_one(program):
    _user, client = login(program, User.Role.VIEWER)

    html = client.get(LIST_URL).content.decode()
    refused = client.post(switch_url("points_granted", "push"), {"on": "0"})

    assert "Switch off" not in html
    assert refused.status_code == 403
    assert Merchant.objects.get(pk=program.merchant_id).notifications_off == []
