"""The events the loyalty and rewards services announce, and the expiry reminders."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone, translation

from loyalty.models import Member
from loyalty.services.expiry import points_expire
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from notifications.models import Notification
from notifications.services.reminders import nearest_due_offset, reminders_send
from rewards.models import Coupon
from rewards.terms import terms_text
from tests.factories import ProgramFactory
from tests.rewards.factories import RewardThresholdFactory

NOW = timezone.now()


@pytest.fixture
def program(db):
    return ProgramFactory(points_validity_days=365, reset_validity_on_order=True)


def customer(program, external_id="m1", locale="en", consent=True):
    member, _ = member_upsert(
        program=program,
        external_id=external_id,
        email=f"{external_id}@example.com",
        name="Ana",
        locale=locale,
        consent_email=consent,
    )
    return member


def order(program, external_id, amount="10.00", days_ago=0, member="m1"):
    return order_record(
        program=program,
        external_id=external_id,
        member_external_id=member,
        amount=Decimal(amount),
        currency="EUR",
        placed_at=NOW - timedelta(days=days_ago),
    )


def test_a_reward_is_announced_by_email_with_its_code(program, django_capture_on_commit_callbacks):
    customer(program)
    RewardThresholdFactory(program=program, points=500)

    with django_capture_on_commit_callbacks(execute=True):
        order(program, "A-1", amount="60.00")

    coupon = Coupon.objects.get()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert coupon.display_code in message.body
    assert message.to == ["m1@example.com"]
    assert "List-Unsubscribe" in message.extra_headers


def test_the_coupon_terms_are_in_the_members_language(program, django_capture_on_commit_callbacks):
    customer(program, locale="es")
    RewardThresholdFactory(program=program, points=500)

    with django_capture_on_commit_callbacks(execute=True):
        order(program, "A-1", amount="60.00")

    row = Notification.objects.get(event="reward_issued")
    coupon = Coupon.objects.get()
    with translation.override("es"):
        spanish = terms_text(coupon, currency="EUR")
    with translation.override("en"):
        english = terms_text(coupon, currency="EUR")
    assert row.language == "es"
    assert spanish != english
    assert row.context["coupon_terms"] == spanish


def test_a_grant_is_announced_and_a_deduction_is_not(program, django_capture_on_commit_callbacks):
    customer(program)
    with django_capture_on_commit_callbacks(execute=True):
        points_grant(program=program, member_external_id="m1", points=300, reason="Sorry!")
        points_grant(program=program, member_external_id="m1", points=-100, reason="fix")

    assert list(Notification.objects.values_list("event", flat=True)) == ["points_granted"]
    assert len(mail.outbox) == 1


def test_a_member_without_consent_hears_nothing(program, django_capture_on_commit_callbacks):
    customer(program, consent=False)
    with django_capture_on_commit_callbacks(execute=True):
        points_grant(program=program, member_external_id="m1", points=300, reason="Sorry!")
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_expired_points_are_announced_once(program, django_capture_on_commit_callbacks):
    customer(program)
    order(program, "A-1", days_ago=400)

    with django_capture_on_commit_callbacks(execute=True):
        points_expire(now=NOW)
        points_expire(now=NOW)

    row = Notification.objects.get(event="points_expired")
    assert row.context["points"] == 100
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(90, None), (60, 60), (45, 60), (30, 30), (20, 30), (10, 14), (7, 7), (1, 7), (0, None)],
)
def test_the_nearest_due_reminder_is_the_only_one(days_left, expected):
    expire_at = NOW + timedelta(days=days_left)
    assert nearest_due_offset(expire_at=expire_at, offsets=[60, 30, 14, 7], now=NOW) == expected


def test_a_reminder_is_sent_once_per_date_and_offset(program, django_capture_on_commit_callbacks):
    customer(program)
    order(program, "A-1", days_ago=335)  # expires in 30 days

    with django_capture_on_commit_callbacks(execute=True):
        first = reminders_send(now=NOW)
        again = reminders_send(now=NOW + timedelta(hours=5))

    assert (first, again) == (1, 0)
    row = Notification.objects.get(event="points_expiring")
    assert row.dedupe_key.startswith("points_expiring:")
    assert ":30:" in row.dedupe_key
    assert row.context["expiring_points"] == 100
    assert len(mail.outbox) == 1


def test_a_late_job_sends_only_the_nearest_reminder(program):
    customer(program)
    order(program, "A-1", days_ago=355)  # expires in 10 days; the 60, 30 and 14 were missed

    reminders_send(now=NOW)

    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == 1
    assert ":14:" in keys[0]


def test_a_new_order_moves_the_date_and_the_old_reminders_are_moot(program):
    customer(program)
    order(program, "A-1", days_ago=335)
    reminders_send(now=NOW)
    order(program, "A-2", days_ago=0)  # now expires in 365 days

    assert reminders_send(now=NOW + timedelta(days=1)) == 0
    member = Member.objects.get(program=program)
    assert member.points_expire_at == NOW + timedelta(days=365)
