"""Webhooks: signed POSTs to a real HTTP receiver on this machine, deduplicated per endpoint,
retried with backoff, written only when the caller's transaction commits, and a delivery log
in the admin, scoped per merchant, with a "resend" for failed deliveries."""

import hashlib
import hmac
import json
import socket
import time
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.services.webhooks import (
    webhook_enqueue,
    webhook_signature,
    webhooks_deliver,
)
from tests.factories import ProgramFactory, StaffFactory
from tests.notifications.receivers import Receiver

pytestmark = pytest.mark.django_db

ORDER = {
    "order": "A-1001",
    "member": "M-1",
    "amount": "42.50",
    "currency": "EUR",
    "points_earned": 42,
    "balance": 142,
}
ENDPOINTS_URL = reverse("admin:notifications_webhookendpoint_changelist")
ENDPOINT_ADD_URL = reverse("admin:notifications_webhookendpoint_add")
DELIVERIES_URL = reverse("admin:notifications_webhookdelivery_changelist")


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def endpoint(program, receiver) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        merchant=program.merchant, url=receiver.url, events=["order_recorded", "points_earned"]
    )


def order_recorded(program, occasion="A-1001", **payload) -> int:
    return webhook_enqueue(
        merchant_id=program.merchant_id,
        event="order_recorded",
        occasion=occasion,
        payload={**ORDER, **payload},
    )


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """What a receiver computes, written out without the app's helper."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# Delivery


def test_delivery_arrives_signed_with_the_endpoints_secret(
    program, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        written = order_recorded(program)

    assert written == 1
    (request,) = receiver.requests
    delivery = WebhookDelivery.objects.get()
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Loyalty-Event"] == "order_recorded"
    assert headers["X-Loyalty-Delivery"] == str(delivery.pk)
    assert abs(int(headers["X-Loyalty-Timestamp"]) - time.time()) < 60
    signature = expected_signature(endpoint.secret, headers["X-Loyalty-Timestamp"], body)
    assert hmac.compare_digest(signature, headers["X-Loyalty-Signature"])
    assert webhook_signature(endpoint.secret, headers["X-Loyalty-Timestamp"], body) == signature
    sent = json.loads(body)
    assert (sent["id"], sent["event"], sent["data"]) == (delivery.pk, "order_recorded", ORDER)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 1, 200)
    assert delivery.sent_at is not None


def test_a_signature_made_with_another_secret_does_not_verify(
    program, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order_recorded(program)

    (request,) = receiver.requests
    headers = request["headers"]
    forged = expected_signature("not-the-secret", headers["X-Loyalty-Timestamp"], request["body"])
    assert not hmac.compare_digest(forged, headers["X-Loyalty-Signature"])


def test_an_event_the_endpoint_did_not_subscribe_to_writes_nothing(program, endpoint, receiver):
    written = webhook_enqueue(
        merchant_id=program.merchant_id,
        event="tier_changed",
        occasion="M-1:gold",
        payload={"member": "M-1", "tier": "gold"},
    )

    assert written == 0
    assert not WebhookDelivery.objects.exists()


def test_an_inactive_endpoint_gets_nothing(program, endpoint, receiver):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)

    assert order_recorded(program) == 0
    assert not WebhookDelivery.objects.exists()


def test_another_merchants_endpoint_gets_nothing(program, receiver):
    WebhookEndpoint.objects.create(
        merchant=ProgramFactory().merchant, url=receiver.url, events=["order_recorded"]
    )

    assert order_recorded(program) == 0


def test_every_subscribed_endpoint_gets_its_own_delivery(
    program, endpoint, receiver, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(
        merchant=program.merchant, url=receiver.url + "/second", events=["order_recorded"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        written = order_recorded(program)

    assert written == 2
    assert sorted(r["path"] for r in receiver.requests) == ["/hooks", "/hooks/second"]


def test_the_same_occasion_twice_is_delivered_once(
    program, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = order_recorded(program)
        second = order_recorded(program)
    with django_capture_on_commit_callbacks(execute=True):
        third = order_recorded(program)

    assert (first, second, third) == (1, 0, 0)
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_an_error_answer_is_retried_with_backoff_then_failed(
    program, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60
    receiver.status = 500

    with django_capture_on_commit_callbacks(execute=True):
        order_recorded(program)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert "HTTP 500" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert webhooks_deliver() == 0  # not due yet
    assert len(receiver.requests) == 1

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhooks_deliver()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 500)
    assert "HTTP 500" in delivery.last_error
    assert [r["headers"]["X-Loyalty-Delivery"] for r in receiver.requests] == [str(delivery.pk)] * 2


def test_an_unreachable_endpoint_is_retried_with_the_error_kept(
    program, django_capture_on_commit_callbacks
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    WebhookEndpoint.objects.create(
        merchant=program.merchant, url=f"http://127.0.0.1:{port}/", events=["order_recorded"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        order_recorded(program)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert "URLError" in delivery.last_error


def test_a_delivery_left_sending_by_a_dead_worker_is_retried(program, endpoint, receiver):
    order_recorded(program)
    WebhookDelivery.objects.update(
        status="sending", attempts=1, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    assert webhooks_deliver() == 1

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


# Transactions


class Rollback(Exception):
    pass


def test_an_enqueue_rolled_back_writes_and_sends_nothing(
    program, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                assert order_recorded(program) == 1
                raise Rollback
        except Rollback:
            pass

    assert callbacks == []
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_a_database_error_does_not_reach_the_caller(program, endpoint, monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(WebhookDelivery.objects, "bulk_create", broken)

    with transaction.atomic():
        assert order_recorded(program) == 0
        assert WebhookEndpoint.objects.count() == 1  # the caller's transaction still works


def test_a_broker_error_leaves_the_delivery_for_the_scheduled_run(
    program, endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    def down(**kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("notifications.tasks.deliver_webhooks.delay", down)

    with django_capture_on_commit_callbacks(execute=True):
        assert order_recorded(program) == 1

    assert WebhookDelivery.objects.get().status == "pending"
    assert receiver.requests == []
    assert webhooks_deliver() == 1
    assert len(receiver.requests) == 1


def test_an_unknown_event_is_a_programming_error(program):
    with pytest.raises(ValueError, match="unknown webhook event"):
        webhook_enqueue(merchant_id=program.merchant_id, event="nope", occasion="1", payload={})


# The endpoint


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://example.com/hooks", True),
        ("http://127.0.0.1:8000/hooks", True),
        ("http://localhost/hooks", True),
        ("http://example.com/hooks", False),
        ("ftp://example.com/hooks", False),
    ],
)
def test_an_endpoint_must_be_https_except_on_this_machine(program, url, valid):
    endpoint = WebhookEndpoint(merchant=program.merchant, url=url, events=["order_recorded"])

    if valid:
        endpoint.full_clean()
    else:
        with pytest.raises(Exception, match="https://"):
            endpoint.full_clean()


def test_an_endpoint_gets_a_secret_of_its_own(program):
    first = WebhookEndpoint.objects.create(merchant=program.merchant, url="https://a.example/")
    second = WebhookEndpoint.objects.create(merchant=program.merchant, url="https://b.example/")

    assert len(first.secret) == 64
    assert first.secret != second.secret


# The admin


@pytest.fixture
def staff(program):
    return StaffFactory(merchant=program.merchant)


@pytest.fixture
def quiet(monkeypatch):
    """No delivery right after commit: rows stay as the test leaves them."""
    monkeypatch.setattr("notifications.services.webhooks.webhooks_hand_off", lambda ids: None)


def test_staff_add_an_endpoint_for_their_own_merchant_and_see_its_secret_once(
    client, staff, program
):
    client.force_login(staff)

    response = client.post(
        ENDPOINT_ADD_URL,
        {"url": "https://shop.example/hooks", "events": ["order_recorded", "tier_changed"]},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.merchant_id == program.merchant_id
    assert endpoint.events == ["order_recorded", "tier_changed"]
    assert endpoint.secret in client.get(response.url).content.decode()  # the next page, once
    page = client.get(reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in page.content.decode()
    assert f"ends in …{endpoint.secret[-4:]}" in page.content.decode()


def test_staff_cannot_register_a_plain_http_endpoint(client, staff):
    client.force_login(staff)

    response = client.post(
        ENDPOINT_ADD_URL, {"url": "http://shop.example/hooks", "events": ["order_recorded"]}
    )

    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_staff_see_only_their_merchants_endpoints_and_deliveries(
    client, staff, program, endpoint, quiet
):
    other = ProgramFactory()
    theirs = WebhookEndpoint.objects.create(
        merchant=other.merchant, url="https://theirs.example/hooks", events=["order_recorded"]
    )
    order_recorded(program)
    order_recorded(other)
    their_delivery = WebhookDelivery.objects.get(endpoint=theirs)
    client.force_login(staff)

    endpoints = client.get(ENDPOINTS_URL)
    deliveries = client.get(DELIVERIES_URL)
    opened = client.get(reverse("admin:notifications_webhookendpoint_change", args=[theirs.pk]))
    log = client.get(
        reverse("admin:notifications_webhookdelivery_change", args=[their_delivery.pk])
    )

    assert list(endpoints.context["cl"].result_list) == [endpoint]
    assert [d.endpoint_id for d in deliveries.context["cl"].result_list] == [endpoint.pk]
    assert opened.status_code in (302, 403, 404)
    assert log.status_code in (302, 403, 404)
    assert theirs.secret not in opened.content.decode()


def test_the_delivery_log_shows_the_status_code_and_error_and_is_read_only(
    client, staff, program, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    receiver.status = 503
    with django_capture_on_commit_callbacks(execute=True):
        order_recorded(program)
    delivery = WebhookDelivery.objects.get()
    client.force_login(staff)

    listing = client.get(DELIVERIES_URL, {"status__exact": "failed"}).content.decode()
    page = client.get(reverse("admin:notifications_webhookdelivery_change", args=[delivery.pk]))

    assert "HTTP 503" in listing
    assert "503" in page.content.decode()
    assert page.context["has_change_permission"] is False


def test_resend_sends_a_failed_delivery_again_and_leaves_sent_ones(
    client, staff, program, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        order_recorded(program, occasion="A-1")
    failed = WebhookDelivery.objects.get()
    assert failed.status == "failed"
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        order_recorded(program, occasion="A-2")
    sent = WebhookDelivery.objects.get(dedupe_key="order_recorded:A-2")
    assert sent.status == "sent"
    receiver.requests.clear()
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            DELIVERIES_URL, {"action": "resend", "_selected_action": [failed.pk, sent.pk]}
        )

    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 delivery queued to be sent again." in messages
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_status_code) == ("sent", 1, 200)
    assert [r["headers"]["X-Loyalty-Delivery"] for r in receiver.requests] == [str(failed.pk)]


def test_resend_resets_a_failed_delivery_to_pending(client, staff, program, endpoint, quiet):
    order_recorded(program)
    WebhookDelivery.objects.update(status="failed", attempts=6, last_error="HTTP 500")
    delivery = WebhookDelivery.objects.get()
    client.force_login(staff)

    client.post(DELIVERIES_URL, {"action": "resend", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.next_attempt_at <= timezone.now()


def test_staff_cannot_resend_another_merchants_delivery(client, staff, quiet):
    other = ProgramFactory()
    WebhookEndpoint.objects.create(
        merchant=other.merchant, url="https://theirs.example/hooks", events=["order_recorded"]
    )
    order_recorded(other)
    WebhookDelivery.objects.update(status="failed", attempts=6)
    theirs = WebhookDelivery.objects.get()
    client.force_login(staff)

    client.post(DELIVERIES_URL, {"action": "resend", "_selected_action": [theirs.pk]})

    theirs.refresh_from_db()
    assert theirs.status == "failed"
