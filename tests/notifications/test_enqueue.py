"""Writing the outbox: per consented channel, in the member's language, once per occasion,
and handed to delivery only after the caller's transaction commits."""

import pytest
from django.core import mail
from django.db import transaction

from loyalty.storage.unit import unit_of_work
from notifications.models import Notification, NotificationTemplate
from notifications.services import notification_enqueue, notifications_deliver, push_subscribe
from notifications.services.unsubscribe import unsubscribe_url
from tests.factories import MemberFactory
from tests.notifications.conftest import reward
from tests.notifications.pushservice import Browser

pytestmark = pytest.mark.django_db


def test_an_event_writes_one_rendered_email_row(member):
    rows = reward(member, occasion="coupon-7")

    assert len(rows) == 1
    row = rows[0]
    assert row.pk is not None
    assert (row.event, row.channel, row.status) == ("reward_issued", "email", "pending")
    assert row.dedupe_key == "reward_issued:coupon-7:email"
    assert row.language == "en"
    assert "ABCDE-FGHJK-MNPQR" in row.content["subject"]
    assert "ABCDE-FGHJK-MNPQR" in row.content["body_html"]
    assert unsubscribe_url(member=member) in row.content["body_text"]
    assert row.context["coupon_valid_until"] == "2030-01-31"
    assert row.context["merchant_name"] == member.program.merchant.name


@pytest.mark.parametrize(
    "profile",
    [
        {"consent_email": False},
        {"consent_email": True, "email": ""},
        {"consent_email": False, "consent_push": True},  # no browser subscribed
    ],
)
def test_members_without_consent_or_address_get_no_row(program, profile):
    member = MemberFactory(program=program, **profile)

    assert reward(member) == []
    assert not Notification.objects.exists()


def test_push_rows_are_written_once_push_is_enabled(program, push_keys):
    member = MemberFactory(program=program, consent_email=True, consent_push=True)
    push_subscribe(member=member, subscription=Browser("https://push.example.net/1").subscription())

    rows = reward(member)

    assert sorted(row.channel for row in rows) == ["email", "push"]
    push = next(row for row in rows if row.channel == "push")
    assert push.content["link"].endswith("/#coupons")
    assert push.dedupe_key == "reward_issued:coupon-1:push"


def test_the_same_occasion_twice_writes_one_row(member):
    first = reward(member, occasion="coupon-1")
    again = reward(member, occasion="coupon-1")
    other = reward(member, occasion="coupon-2")

    assert len(first) == 1
    assert again == []
    assert len(other) == 1
    assert Notification.objects.filter(member=member).count() == 2


def test_the_member_language_is_used(program):
    member = MemberFactory(program=program, locale="es")

    (row,) = reward(member)

    assert row.language == "es"
    assert row.content["subject"].startswith("Tu recompensa está lista")
    assert "31 de enero de 2030" in row.content["body_text"]


def test_the_merchants_own_template_wins_in_its_language(program):
    NotificationTemplate.objects.create(
        merchant=program.merchant, event="reward_issued", channel="email", language="es",
        subject="¡Cupón {{ coupon_code }}!", body_text="Hola {{ member_name }}",
    )  # fmt: skip
    spanish = MemberFactory(program=program, locale="es", name="Ana")
    english = MemberFactory(program=program, locale="en")

    (es_row,) = reward(spanish)
    (en_row,) = reward(english)

    assert es_row.content["subject"] == "¡Cupón ABCDE-FGHJK-MNPQR!"
    assert es_row.content["body_text"] == "Hola Ana"
    assert en_row.content["subject"].startswith("Your reward is ready")


@pytest.mark.parametrize(("locale", "expected"), [("es-MX", "es"), ("de", "en"), ("", "en")])
def test_a_locale_we_do_not_ship_falls_back(program, locale, expected):
    member = MemberFactory(program=program, locale=locale)

    (row,) = reward(member)

    assert row.language == expected


def test_without_its_own_translation_a_merchant_gets_the_shipped_one(program):
    NotificationTemplate.objects.create(
        merchant=program.merchant, event="reward_issued", channel="email", language="en",
        subject="Custom English", body_text="Custom",
    )  # fmt: skip
    member = MemberFactory(program=program, locale="ru")

    (row,) = reward(member)

    assert row.content["subject"].startswith("Ваша награда готова")


def test_another_merchants_template_is_never_used(program):
    other = MemberFactory()
    NotificationTemplate.objects.create(
        merchant=other.program.merchant, event="reward_issued", channel="email", language="en",
        subject="Not yours", body_text="Not yours",
    )  # fmt: skip
    member = MemberFactory(program=program)

    (row,) = reward(member)

    assert row.content["subject"] != "Not yours"


def test_a_template_broken_behind_the_admins_back_falls_back_to_the_default(member):
    template = NotificationTemplate.objects.create(
        merchant=member.program.merchant, event="reward_issued", channel="email", language="en",
        subject="ok", body_text="ok",
    )  # fmt: skip
    NotificationTemplate.objects.filter(pk=template.pk).update(subject="{% if %}")

    (row,) = reward(member)

    assert row.content["subject"].startswith("Your reward is ready")


def test_delivery_starts_only_after_commit(member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reward(member)

    assert len(callbacks) == 1
    assert mail.outbox == []
    assert Notification.objects.get().status == "pending"

    callbacks[0]()

    assert len(mail.outbox) == 1
    assert Notification.objects.get().status == "sent"


def test_the_order_paths_notifications_go_to_the_worker_in_one_task(
    program, monkeypatch, django_capture_on_commit_callbacks
):
    # given three members' events written by one unit of work (the order path)
    members = MemberFactory.create_batch(3, program=program)
    sent: list[list[int]] = []
    monkeypatch.setattr("notifications.tasks.deliver.delay", lambda ids: sent.append(ids))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic(), unit_of_work(expected=3):
            rows = [row for n, m in enumerate(members) for row in reward(m, occasion=str(n))]

    # then one task carries them all, once they are written
    assert len(callbacks) == 1
    assert sent == [[row.pk for row in rows]]
    assert sorted(Notification.objects.values_list("pk", flat=True)) == sorted(sent[0])


def test_a_rolled_back_transaction_leaves_no_row_and_sends_nothing(
    member, django_capture_on_commit_callbacks
):
    def failing_order():
        with transaction.atomic():
            reward(member)
            raise RuntimeError("the order failed")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            failing_order()

    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_a_broker_that_is_down_loses_nothing_and_does_not_fail_the_caller(
    member, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("notifications.tasks.deliver.delay", broker_down)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rows = reward(member)

    assert len(callbacks) == 1
    assert mail.outbox == []
    assert Notification.objects.get(pk=rows[0].pk).status == "pending"

    assert notifications_deliver() == 1  # the scheduled job, a minute later

    assert len(mail.outbox) == 1


def test_a_failing_delivery_does_not_fail_the_caller(
    member, monkeypatch, django_capture_on_commit_callbacks
):
    def crash(**kwargs):
        raise RuntimeError("bug in delivery")

    monkeypatch.setattr("notifications.tasks.notifications_deliver", crash)

    with django_capture_on_commit_callbacks(execute=True):
        rows = reward(member)

    assert Notification.objects.get(pk=rows[0].pk).status == "pending"


def test_programming_errors_are_raised(member):
    with pytest.raises(ValueError, match="unknown notification event"):
        notification_enqueue(member=member, event="order_paid", occasion="1", context={})
    with pytest.raises(ValueError, match="not a documented"):
        notification_enqueue(
            member=member, event="points_granted", occasion="1", context={"order": "A-1"}
        )
    with pytest.raises(TypeError):
        notification_enqueue(
            member=member, event="points_granted", occasion="1", context={"member_name": member}
        )
    with pytest.raises(ValueError, match="too long"):
        notification_enqueue(member=member, event="points_granted", occasion="x" * 300, context={})
    assert not Notification.objects.exists()
