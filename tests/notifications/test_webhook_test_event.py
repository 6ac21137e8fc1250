"""A manager sends a signed test event to a webhook endpoint from its admin page and sees what
the receiver answered (or why it was not reached); it goes through the real sender (signed,
netguard's address checks), is audited, and only managers of the endpoint's merchant may
send one. An endpoint must listen to at least one event."""

import json
import socket

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from loyalty.errors import InvalidInput
from loyalty.models import AuditEntry, Program, User
from loyalty.roles import RoleForbidden
from notifications.models import WebhookEndpoint
from notifications.services.webhook_endpoints import webhook_endpoint_save
from notifications.services.webhook_test import webhook_test_send
from tests.factories import ProgramFactory, StaffFactory
from tests.notifications.receivers import VerifyingReceiver

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:notifications_webhookendpoint_add")


@pytest.fixture
def receiver():
    with VerifyingReceiver() as running:
        yield running


@pytest.fixture
def shop(db) -> Program:
    return ProgramFactory()


@pytest.fixture
def endpoint(shop, receiver) -> WebhookEndpoint:
    made = WebhookEndpoint.objects.create(
        merchant=shop.merchant, url=receiver.url, events=["order_recorded"]
    )
    receiver.secret = made.secret
    return made


def login(program: Program, role: str = User.Role.MANAGER) -> tuple[User, Client]:
    user = StaffFactory(merchant=program.merchant, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def send_url(endpoint: WebhookEndpoint) -> str:
    return reverse("admin:notifications_webhookendpoint_test", args=[endpoint.pk])


def change_url(endpoint: WebhookEndpoint) -> str:
    return reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk])


def shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# Sending


def test_a_manager_sends_a_signed_test_event_and_sees_the_receivers_answer(
    shop, endpoint, receiver
):
    _user, client = login(shop)

    page = client.post(send_url(endpoint), follow=True)

    (request,) = receiver.requests
    assert request["verified"]
    sent = json.loads(request["body"])
    assert sent["event"] == "test"
    assert sent["data"]["test"] is True
    assert request["headers"]["X-Loyalty-Event"] == "test"
    assert request["headers"]["X-Loyalty-Delivery"] == sent["id"]
    assert sent["id"].startswith("test-")
    assert page.redirect_chain == [(change_url(endpoint), 302)]
    html = page.content.decode()
    assert "HTTP 200" in html
    assert "verified" in html
    assert "accepted the test event" in html


def test_the_page_offers_the_button_to_managers(shop, endpoint):
    _user, client = login(shop)

    html = client.get(change_url(endpoint)).content.decode()

    assert f'action="{send_url(endpoint)}"' in html
    assert "Send a test event" in html


def test_a_refusal_shows_its_status_code_and_the_start_of_the_answer(shop, endpoint, receiver):
    receiver.status = 500
    receiver.answer = b"database down " + b"x" * 2000
    _user, client = login(shop)

    page = client.post(send_url(endpoint), follow=True)

    html = page.content.decode()
    assert "refused the test event: HTTP 500" in html
    assert "database down" in html
    assert "x" * 300 not in html  # only the start of a long answer
    entry = AuditEntry.objects.get(action="webhook.test")
    assert entry.changes["status_code"] == 500


def test_a_receiver_with_another_secret_refuses_it(shop, endpoint, receiver):
    receiver.secret = "what-the-receiver-wrongly-holds"
    _user, client = login(shop)

    page = client.post(send_url(endpoint), follow=True)

    assert not receiver.requests[0]["verified"]
    assert "HTTP 401" in page.content.decode()
    assert "bad signature" in page.content.decode()


def test_an_unreachable_receiver_shows_the_connection_error(shop):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    endpoint = WebhookEndpoint.objects.create(
        merchant=shop.merchant, url=f"http://127.0.0.1:{port}/hooks", events=["order_recorded"]
    )
    _user, client = login(shop)

    messages = shown(client.post(send_url(endpoint), follow=True))

    assert len(messages) == 1
    assert "did not reach the receiver" in messages[0]
    assert "refused" in messages[0].lower()
    assert AuditEntry.objects.get(action="webhook.test").changes["status_code"] is None


def test_the_test_event_keeps_to_public_addresses(shop, endpoint, receiver, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_HOSTS = False  # production: 127.0.0.1 is not public
    _user, client = login(shop)

    messages = shown(client.post(send_url(endpoint), follow=True))

    assert receiver.requests == []
    assert "did not reach the receiver" in messages[0]
    assert "127.0.0.1" in messages[0]


def test_the_test_event_is_audited_with_the_answer(shop, endpoint, receiver):
    user, client = login(shop)

    client.post(send_url(endpoint))

    entry = AuditEntry.objects.get(action="webhook.test")
    assert (entry.actor, entry.merchant_id, entry.target_id) == (
        user,
        shop.merchant_id,
        str(endpoint.pk),
    )
    assert entry.changes["status_code"] == 200
    assert entry.changes["answer"] == "verified"
    assert endpoint.secret not in json.dumps(entry.changes)


# Who may


@pytest.mark.parametrize("role", [User.Role.VIEWER, User.Role.SUPPORT])
def test_weaker_roles_neither_see_nor_use_the_button(shop, endpoint, receiver, role):
    _user, client = login(shop, role)

    page = client.get(change_url(endpoint))
    sent = client.post(send_url(endpoint))

    assert page.status_code == 200
    assert "Send a test event" not in page.content.decode()
    assert sent.status_code == 403
    assert receiver.requests == []
    assert not AuditEntry.objects.exists()


def test_a_manager_of_another_merchant_cannot_send_to_the_endpoint(endpoint, receiver):
    _user, client = login(ProgramFactory())

    sent = client.post(send_url(endpoint))

    assert sent.status_code == 404
    assert receiver.requests == []


def test_the_service_refuses_a_weaker_role(shop, endpoint, receiver):
    viewer = StaffFactory(merchant=shop.merchant, role=User.Role.VIEWER)

    with pytest.raises(RoleForbidden):
        webhook_test_send(endpoint=endpoint, actor=viewer)

    assert receiver.requests == []


def test_a_get_sends_nothing(shop, endpoint, receiver):
    _user, client = login(shop)

    assert client.get(send_url(endpoint)).status_code == 405
    assert receiver.requests == []


# At least one event


def test_an_endpoint_without_events_is_refused_next_to_the_field(shop):
    _user, client = login(shop)

    page = client.post(ADD_URL, {"url": "https://shop.example/in", "active": "on"})

    assert page.status_code == 200
    errors = page.context["adminform"].form.errors
    assert "Choose at least one event" in str(errors["events"])
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEntry.objects.exists()


def test_removing_every_event_from_an_endpoint_is_refused(shop, endpoint):
    user = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)
    endpoint.events = []

    with pytest.raises(InvalidInput) as refused:
        webhook_endpoint_save(endpoint=endpoint, actor=user)

    assert "events" in refused.value.fields
    endpoint.refresh_from_db()
    assert endpoint.events == ["order_recorded"]
