"""Delivering the outbox: through Django's email backend with List-Unsubscribe headers,
retried with exponential backoff on clean failures, at most once otherwise."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import resolve
from django.utils import timezone

from config.celery import app
from notifications.models import Notification
from notifications.services import notifications_deliver, notifications_resend
from notifications.services.outbox import INTERRUPTED
from notifications.tasks import deliver
from tests.factories import MemberFactory
from tests.notifications.conftest import reward

pytestmark = pytest.mark.django_db

Status = Notification.Status


def make_due(row: Notification) -> None:
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


def test_an_email_is_sent_with_text_html_and_unsubscribe_headers(member):
    (row,) = reward(member)

    sent = notifications_deliver()

    assert sent == 1
    (message,) = mail.outbox
    assert message.to == [member.email]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.subject == row.content["subject"]
    assert message.body == row.content["body_text"]
    assert message.alternatives[0] == (row.content["body_html"], "text/html")
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{settings.SITE_URL}/notifications/unsubscribe/")
    assert resolve(unsubscribe[len(settings.SITE_URL) + 1 : -1]).url_name == "unsubscribe"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.claim is None


def test_the_message_is_rendered_headers_and_all(member):
    reward(member)
    notifications_deliver()

    message = mail.outbox[0].message()

    assert str(message["List-Unsubscribe"]).strip().startswith("<http")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"


def test_a_sent_notification_is_never_sent_again(member):
    reward(member)
    notifications_deliver()

    assert notifications_deliver() == 0
    Notification.objects.update(next_attempt_at=timezone.now() - timedelta(days=1))
    assert notifications_deliver() == 0

    assert len(mail.outbox) == 1


def test_only_the_given_rows_are_delivered_when_ids_are_passed(program):
    first, second = MemberFactory(program=program), MemberFactory(program=program)
    (row,) = reward(first)
    reward(second)

    assert notifications_deliver(ids=[row.pk]) == 1

    assert [m.to for m in mail.outbox] == [[first.email]]


def test_batches_deliver_everything_due(program):
    for _ in range(7):
        reward(MemberFactory(program=program))

    assert notifications_deliver(batch_size=3) == 7

    assert len(mail.outbox) == 7


def test_a_member_who_withdrew_consent_before_delivery_gets_nothing(member):
    (row,) = reward(member)
    member.consent_email = False
    member.save()

    assert notifications_deliver() == 0

    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == Status.SKIPPED
    assert "consent" in row.last_error


def test_a_failing_mail_server_schedules_retries_with_exponential_backoff(member, failing_mail):
    (row,) = reward(member)
    delays = []

    for attempt in range(1, settings.NOTIFICATIONS_MAX_ATTEMPTS):
        before = timezone.now()
        assert notifications_deliver() == 0
        row.refresh_from_db()
        assert row.status == Status.PENDING
        assert row.attempts == attempt
        assert "connection refused by the mail server" in row.last_error
        delays.append(round((row.next_attempt_at - before).total_seconds() / 60))
        assert notifications_deliver() == 0  # not due yet: nothing happens
        row.refresh_from_db()
        assert row.attempts == attempt
        make_due(row)

    assert delays == [1, 2, 4, 8, 16]


def test_after_the_last_attempt_the_row_stays_failed_with_its_error(member, failing_mail):
    (row,) = reward(member)
    for _ in range(settings.NOTIFICATIONS_MAX_ATTEMPTS):
        make_due(row)
        notifications_deliver()

    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.attempts == settings.NOTIFICATIONS_MAX_ATTEMPTS
    assert row.last_error == "BrokenMailServer: connection refused by the mail server"

    make_due(row)
    notifications_deliver()
    row.refresh_from_db()
    assert row.attempts == settings.NOTIFICATIONS_MAX_ATTEMPTS


def test_a_mail_server_back_up_delivers_the_retried_row(member, settings):
    settings.EMAIL_BACKEND = "tests.notifications.conftest.FailingBackend"
    (row,) = reward(member)
    notifications_deliver()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_due(row)

    assert notifications_deliver() == 1

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 2, "")


def test_a_row_interrupted_mid_send_fails_and_is_not_sent_again(member):
    (row,) = reward(member)
    # A worker marked it "sending" and died before it could say whether it was sent.
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING, attempts=1, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    assert notifications_deliver() == 0

    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.last_error == INTERRUPTED


def test_a_row_sending_within_its_deadline_is_left_alone(member):
    (row,) = reward(member)
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    notifications_deliver()

    row.refresh_from_db()
    assert row.status == Status.SENDING
    assert mail.outbox == []


def test_rows_claimed_by_a_run_that_died_before_sending_are_due_after_the_lease(member):
    (row,) = reward(member)
    Notification.objects.filter(pk=row.pk).update(
        claim="00000000-0000-0000-0000-000000000001",
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    assert notifications_deliver() == 0

    make_due(row)  # the lease ran out

    assert notifications_deliver() == 1
    assert len(mail.outbox) == 1


def test_resend_requeues_failed_rows_only(program, django_capture_on_commit_callbacks):
    failed_member, sent_member = MemberFactory(program=program), MemberFactory(program=program)
    (failed,) = reward(failed_member)
    (sent,) = reward(sent_member)
    notifications_deliver(ids=[sent.pk])
    Notification.objects.filter(pk=failed.pk).update(
        status=Status.FAILED, attempts=6, last_error="boom"
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        count = notifications_resend(notifications=Notification.objects.all())

    assert count == 1
    assert [m.to for m in mail.outbox] == [[failed_member.email]]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.SENT, 1)


def test_the_deliver_task_runs_every_minute_and_delivers(member):
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-deliver"]
    assert entry["task"] == "notifications.tasks.deliver"
    assert entry["task"] in app.tasks
    assert deliver.acks_late
    reward(member)

    assert deliver.delay().get() == 1

    assert len(mail.outbox) == 1
