"""The outbox under real concurrency: threads with their own connections, released together.

Two delivery runs over the same rows send each exactly once (SKIP LOCKED claims); two
writers of the same occasion leave one row (the unique dedupe key)."""

from collections import Counter

import pytest
from django.core import mail
from django.db import transaction

from notifications.models import Notification
from notifications.services import notification_enqueue, notifications_deliver
from tests.factories import MemberFactory, ProgramFactory
from tests.notifications.conftest import REWARD_CONTEXT
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_three_delivery_runs_send_each_notification_once(settings, monkeypatch):
    settings.EMAIL_BACKEND = "tests.notifications.conftest.SlowBackend"
    # No hand-off after commit: the rows wait for the scheduled runs below.
    monkeypatch.setattr("notifications.services.outbox._hand_off", lambda ids: None)
    program = ProgramFactory()
    for member in [MemberFactory(program=program) for _ in range(30)]:
        notification_enqueue(
            member=member, event="reward_issued", occasion="c-1", context=REWARD_CONTEXT
        )
    assert mail.outbox == []

    results = at_once([lambda: notifications_deliver(batch_size=4) for _ in range(3)])

    assert all(isinstance(result, int) for result in results), results
    assert sum(results) == 30
    recipients = Counter(address for message in mail.outbox for address in message.to)
    assert len(mail.outbox) == 30
    assert set(recipients.values()) == {1}
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_two_writers_of_the_same_occasion_leave_one_row(settings):
    program = ProgramFactory()
    member = MemberFactory(program=program)

    def write():
        with transaction.atomic():
            return notification_enqueue(
                member=member, event="points_granted", occasion="grant-9", context={"points": 5}
            )

    results = at_once([write for _ in range(4)])

    assert all(isinstance(result, list) for result in results), results
    assert Notification.objects.filter(member=member).count() == 1
    assert len(mail.outbox) == 1


def test_a_rolled_back_transaction_writes_and_sends_nothing():
    member = MemberFactory(program=ProgramFactory())

    def failing_order():
        with transaction.atomic():
            notification_enqueue(
                member=member, event="points_granted", occasion="grant-1", context={"points": 5}
            )
            raise RuntimeError("the order failed")

    with pytest.raises(RuntimeError):
        failing_order()

    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_a_committed_transaction_sends_right_after_commit():
    member = MemberFactory(program=ProgramFactory())

    with transaction.atomic():
        notification_enqueue(
            member=member, event="points_granted", occasion="grant-1", context={"points": 5}
        )
        assert mail.outbox == []  # not inside the transaction

    assert len(mail.outbox) == 1
    assert Notification.objects.get().status == "sent"
