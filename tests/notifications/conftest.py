"""Fixtures of the notification tests: a member who accepts email, and helpers."""

import datetime

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from config.celery import app
from notifications.models import Notification
from notifications.services import notification_enqueue

REWARD_CONTEXT = {
    "points": 500,
    "coupon_code": "ABCDE-FGHJK-MNPQR",
    "coupon_terms": "10% off",
    "coupon_valid_until": datetime.date(2030, 1, 31),
}


class BrokenMailServer(Exception):
    pass


class FailingBackend(BaseEmailBackend):
    """An email backend whose server is down: every send raises."""

    def send_messages(self, email_messages):
        raise BrokenMailServer("connection refused by the mail server")


class SlowBackend(LocmemBackend):
    """The test outbox, a little slow per message, so concurrent runs really overlap."""

    def send_messages(self, messages):
        import time

        time.sleep(0.01)
        return super().send_messages(messages)


def reward(member, occasion="coupon-1", **context) -> list[Notification]:
    """Enqueue a "reward issued" notification for ``member``."""
    return notification_enqueue(
        member=member,
        event="reward_issued",
        occasion=occasion,
        context={**REWARD_CONTEXT, **context},
    )


@pytest.fixture(autouse=True)
def tasks_in_process():
    """Celery runs the after-commit delivery in this process, as on the embedded default,
    even when REDIS_URL is set for the suite (test_worker.py uses the real broker)."""
    saved = {name: app.conf[name] for name in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    app.conf.update(saved)


@pytest.fixture
def failing_mail(settings):
    settings.EMAIL_BACKEND = "tests.notifications.conftest.FailingBackend"


# Web push


@pytest.fixture
def push_keys(settings):
    """Push configured with a fresh VAPID key pair, and 127.0.0.1 taken for a push service."""
    from notifications.management.commands.generate_vapid_keys import vapid_keys_new

    public, private = vapid_keys_new()
    settings.VAPID_PUBLIC_KEY = public
    settings.VAPID_PRIVATE_KEY = private
    settings.VAPID_SUBJECT = "mailto:push@example.com"
    settings.PUSH_ENDPOINT_HOSTS = ["127.0.0.1", "push.example.net"]
    return public


@pytest.fixture
def push_service(push_keys):
    """A real push service on 127.0.0.1 recording what it receives (tests/.../pushservice.py)."""
    from tests.notifications.pushservice import push_service_start

    service = push_service_start()
    yield service
    service.server.shutdown()
    service.server.server_close()
