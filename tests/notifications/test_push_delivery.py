"""Delivering push notifications to a real push service on 127.0.0.1: signed with VAPID,
encrypted so only the member's browser reads {title, body, url}, gone browsers removed,
failures retried with backoff, and never sent twice."""

import json
import threading
import time

import pytest
from django.utils import timezone
from py_vapid import Vapid02

from notifications.models import Notification, PushSubscription
from notifications.services import notifications_deliver, push_subscribe
from notifications.services.outbox import retry_delay
from tests.factories import MemberFactory
from tests.notifications.conftest import reward
from tests.notifications.pushservice import Browser, unb64

pytestmark = pytest.mark.django_db

Status = Notification.Status


@pytest.fixture
def push_member(program):
    """A member who takes push only (so each reward is one push row)."""
    return MemberFactory(program=program, consent_email=False, locale="en")


def subscribe(member, service, name: str) -> Browser:
    browser = Browser(f"{service.url}/push/{name}")
    push_subscribe(member=member, subscription=browser.subscription())
    return browser


def test_a_push_reaches_the_browser_signed_and_encrypted(push_member, push_service, settings):
    browser = subscribe(push_member, push_service, "b1")
    (row,) = reward(push_member)

    assert notifications_deliver() == 1

    (request,) = push_service.received(browser.path)
    # VAPID (RFC 8292): a token signed by our key, for this push service, with our contact.
    authorization = request.headers["authorization"]
    assert Vapid02.verify(authorization)
    scheme, params = authorization.split(" ", 1)
    parts = dict(param.split("=", 1) for param in params.split(","))
    assert scheme == "vapid"
    assert parts["k"] == settings.VAPID_PUBLIC_KEY
    claims = json.loads(unb64(parts["t"].split(".")[1]))
    assert claims["aud"] == push_service.url
    assert claims["sub"] == "mailto:push@example.com"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["ttl"] == str(settings.PUSH_TTL_SECONDS)
    # Only the browser's private key opens it (RFC 8291).
    assert browser.decrypt(request.body) == {
        "title": "Your reward is ready",
        "body": "Coupon ABCDE-FGHJK-MNPQR: 10% off",
        "url": f"http://127.0.0.1:8000/profile/{push_member.program.merchant.slug}/#coupons",
    }
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 1, "")
    subscription = PushSubscription.objects.get()
    assert subscription.last_success_at is not None


def test_every_browser_of_the_member_gets_the_push(push_member, push_service):
    phone = subscribe(push_member, push_service, "phone")
    laptop = subscribe(push_member, push_service, "laptop")
    reward(push_member)

    assert notifications_deliver() == 1

    for browser in (phone, laptop):
        (request,) = push_service.received(browser.path)
        assert browser.decrypt(request.body)["title"] == "Your reward is ready"


def test_a_gone_browser_is_removed_and_its_only_push_skipped(push_member, push_service):
    browser = subscribe(push_member, push_service, "gone")
    push_service.statuses[browser.path] = 410
    (row,) = reward(push_member)

    assert notifications_deliver() == 0

    row.refresh_from_db()
    assert row.status == Status.SKIPPED
    assert "gone" in row.last_error
    assert not PushSubscription.objects.exists()
    assert notifications_deliver() == 0
    assert len(push_service.received(browser.path)) == 1


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_browser_is_removed_while_the_others_get_the_push(push_member, push_service, status):
    gone = subscribe(push_member, push_service, "gone")
    kept = subscribe(push_member, push_service, "kept")
    push_service.statuses[gone.path] = status
    (row,) = reward(push_member)

    assert notifications_deliver() == 1

    row.refresh_from_db()
    assert row.status == Status.SENT
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [kept.endpoint]


def test_a_push_service_error_is_retried_with_backoff_then_fails(
    push_member, push_service, settings
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    browser = subscribe(push_member, push_service, "down")
    push_service.statuses[browser.path] = 500
    (row,) = reward(push_member)

    before = timezone.now()
    assert notifications_deliver() == 0

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert "HTTP 500" in row.last_error
    assert row.next_attempt_at >= before + retry_delay(1)
    assert PushSubscription.objects.get().failure_count == 1
    # Not due yet: a second run leaves it alone.
    assert notifications_deliver() == 0
    assert len(push_service.received(browser.path)) == 1

    for attempt in (2, 3):
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        notifications_deliver()
        row.refresh_from_db()
        assert row.attempts == attempt
    assert row.status == Status.FAILED
    assert "HTTP 500" in row.last_error
    assert len(push_service.received(browser.path)) == 3


def test_a_recovered_push_service_gets_the_retry(push_member, push_service):
    browser = subscribe(push_member, push_service, "flaky")
    push_service.statuses[browser.path] = 503
    (row,) = reward(push_member)
    notifications_deliver()

    push_service.statuses[browser.path] = 201
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert notifications_deliver() == 1

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    assert PushSubscription.objects.get().failure_count == 0


def test_an_unreachable_push_service_is_retried(push_member, push_keys):
    # Nothing listens on port 9 (discard) of this machine: the connection is refused.
    browser = Browser("http://127.0.0.1:9/push/nobody")
    push_subscribe(member=push_member, subscription=browser.subscription())
    (row,) = reward(push_member)

    assert notifications_deliver() == 0

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert "ConnectionError" in row.last_error


def test_a_push_after_the_member_withdrew_consent_is_skipped(push_member, push_service):
    browser = subscribe(push_member, push_service, "b1")
    (row,) = reward(push_member)
    push_member.__class__.objects.filter(pk=push_member.pk).update(consent_push=False)

    assert notifications_deliver() == 0

    row.refresh_from_db()
    assert row.status == Status.SKIPPED
    assert "consent" in row.last_error
    assert push_service.received(browser.path) == []


def test_a_push_whose_browsers_were_all_unsubscribed_is_skipped(push_member, push_service):
    browser = subscribe(push_member, push_service, "b1")
    (row,) = reward(push_member)
    PushSubscription.objects.all().delete()

    assert notifications_deliver() == 0

    row.refresh_from_db()
    assert row.status == Status.SKIPPED
    assert push_service.received(browser.path) == []


def test_delivering_twice_sends_once(push_member, push_service):
    browser = subscribe(push_member, push_service, "b1")
    reward(push_member, occasion="c1")
    reward(push_member, occasion="c2")

    assert notifications_deliver() == 2
    assert notifications_deliver() == 0

    assert len(push_service.received(browser.path)) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_delivery_runs_send_each_push_once(program, push_service):
    members = [
        MemberFactory(program=program, consent_email=False, external_id=f"m{n}") for n in range(30)
    ]
    browsers = [subscribe(member, push_service, f"m{n}") for n, member in enumerate(members)]
    for member in members:
        reward(member, occasion="c1")
        reward(member, occasion="c2")
    # Each reward's commit handed its push to the (in-process) worker, which sent it.
    assert Notification.objects.filter(status=Status.SENT).count() == 60
    assert len(push_service.requests) == 60
    # Queue them all again for the concurrent runs.
    Notification.objects.update(
        status=Status.PENDING, claim=None, attempts=0, next_attempt_at=timezone.now()
    )
    push_service.requests.clear()

    barrier = threading.Barrier(3)
    sent: list[int] = []

    def run():
        from django.db import connection

        try:
            barrier.wait()
            sent.append(notifications_deliver(batch_size=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(sent) == 60
    for browser in browsers:
        received = push_service.received(browser.path)
        assert len(received) == 2
        assert (
            sorted(browser.decrypt(r.body)["title"] for r in received)
            == ["Your reward is ready"] * 2
        )
    assert Notification.objects.filter(status=Status.SENT).count() == 60


def test_the_vapid_token_is_signed_once_per_push_service_in_a_run(push_member, push_service):
    subscribe(push_member, push_service, "b1")
    for n in range(3):
        reward(push_member, occasion=f"c{n}")

    notifications_deliver()

    tokens = {request.headers["authorization"] for request in push_service.requests}
    assert len(tokens) == 1


def test_delivery_queries_do_not_grow_with_browsers(program, push_service):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(members: int, browsers: int) -> int:
        Notification.objects.all().delete()
        PushSubscription.objects.all().delete()
        for _member in range(members):
            member = MemberFactory(program=program, consent_email=False)
            for b in range(browsers):
                subscribe(member, push_service, f"{member.pk}-{b}")
            reward(member)
        with CaptureQueriesContext(connection) as queries:
            assert notifications_deliver() == members
        return len(queries)

    one = queries_for(members=2, browsers=1)
    many = queries_for(members=2, browsers=3)
    more_members = queries_for(members=4, browsers=3)

    assert many == one
    # Three writes per push (sending, the browsers' success, sent), nothing per browser.
    assert more_members - many == 2 * 3


def test_a_long_merchant_text_is_cut_to_fit_a_push_message(push_member, push_service):
    browser = subscribe(push_member, push_service, "b1")
    (row,) = reward(push_member)
    Notification.objects.filter(pk=row.pk).update(
        content={"title": "T" * 500, "body": "ж" * 5000, "link": "https://shop.example/"}
    )

    assert notifications_deliver() == 1

    (request,) = push_service.received(browser.path)
    payload = browser.decrypt(request.body)
    assert len(request.body) <= 4096  # the most a push service must accept (RFC 8030)
    assert payload["body"].startswith("жжж")
    assert payload["body"].endswith("…")
    assert len(payload["title"]) <= 120


def test_a_broken_vapid_key_fails_the_push_visibly_and_retries(push_member, push_service, settings):
    browser = subscribe(push_member, push_service, "b1")
    (row,) = reward(push_member)
    settings.VAPID_PRIVATE_KEY = "not-a-key"

    assert notifications_deliver() == 0

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert "VAPID_PRIVATE_KEY" in row.last_error
    assert push_service.received(browser.path) == []
