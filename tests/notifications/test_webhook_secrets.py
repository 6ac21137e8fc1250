"""Webhook signing secrets: only managers of the merchant (and superusers) add endpoints and
rotate secrets; a secret is shown once (when made or rotated), never to viewers or support
staff, and every change, rotation included, is in the audit trail without the secret."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from loyalty.models import AuditEntry, Program, User
from loyalty.roles import MerchantForbidden, RoleForbidden
from notifications.models import WebhookEndpoint
from notifications.services.webhook_endpoints import (
    webhook_endpoint_delete,
    webhook_endpoint_save,
    webhook_secret_rotate,
)
from tests.factories import ProgramFactory, StaffFactory

pytestmark = pytest.mark.django_db

READ_ONLY_ROLES = [User.Role.VIEWER, User.Role.SUPPORT]
LIST_URL = reverse("admin:notifications_webhookendpoint_changelist")
ADD_URL = reverse("admin:notifications_webhookendpoint_add")


@pytest.fixture
def shop(db) -> Program:
    return ProgramFactory()


@pytest.fixture
def endpoint(shop: Program) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        merchant=shop.merchant, url="https://shop.example/hooks", events=["order_recorded"]
    )


def login(program: Program, role: str) -> tuple[User, Client]:
    user = StaffFactory(merchant=program.merchant, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def change_url(endpoint: WebhookEndpoint) -> str:
    return reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk])


def rotate(client: Client, *endpoints: WebhookEndpoint):
    return client.post(
        LIST_URL,
        {"action": "rotate_secret", "_selected_action": [e.pk for e in endpoints]},
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# Read-only roles, through the admin


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_never_see_a_secret(shop, endpoint, role):
    _user, client = login(shop, role)

    page = client.get(change_url(endpoint))
    listing = client.get(LIST_URL)

    assert page.status_code == 200  # they read the endpoint: URL and events
    assert "https://shop.example/hooks" in page.content.decode()
    assert endpoint.secret not in page.content.decode()
    assert endpoint.secret not in listing.content.decode()
    assert endpoint.secret[:16] not in page.content.decode()


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_add_change_delete_or_rotate(shop, endpoint, role):
    _user, client = login(shop, role)
    secret = endpoint.secret

    added = client.post(ADD_URL, {"url": "https://evil.example/", "events": ["order_recorded"]})
    changed = client.post(
        change_url(endpoint), {"url": "https://evil.example/", "events": ["order_recorded"]}
    )
    deleted = client.post(
        reverse("admin:notifications_webhookendpoint_delete", args=[endpoint.pk]),
        {"post": "yes"},
    )
    rotated = rotate(client, endpoint)

    assert (added.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert not any(secret in text for text in texts(rotated))
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.secret) == ("https://shop.example/hooks", secret)
    assert WebhookEndpoint.objects.count() == 1
    assert not AuditEntry.objects.exists()
    assert "rotate_secret" not in client.get(LIST_URL).content.decode()


def test_a_manager_of_another_merchant_reaches_no_endpoint(shop, endpoint):
    _user, client = login(ProgramFactory(), User.Role.MANAGER)
    secret = endpoint.secret

    opened = client.get(change_url(endpoint))
    rotated = rotate(client, endpoint)

    assert opened.status_code == 302  # "not found"
    assert secret not in opened.content.decode()
    assert not any(secret in text for text in texts(rotated))
    endpoint.refresh_from_db()
    assert endpoint.secret == secret


# The services, called directly


def _writes(endpoint: WebhookEndpoint, actor: User) -> list:
    def change():
        endpoint.url = "https://evil.example/"
        return webhook_endpoint_save(endpoint=endpoint, actor=actor)

    new = WebhookEndpoint(
        merchant_id=endpoint.merchant_id, url="https://evil.example/", events=["tier_changed"]
    )
    return [
        lambda: webhook_endpoint_save(endpoint=new, actor=actor),
        change,
        lambda: webhook_secret_rotate(endpoint=endpoint, actor=actor),
        lambda: webhook_endpoint_delete(endpoint=endpoint, actor=actor),
    ]


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_are_refused_by_the_services(shop, endpoint, role):
    user = StaffFactory(merchant=shop.merchant, role=role)
    secret = endpoint.secret

    for write in _writes(endpoint, user):
        with pytest.raises(RoleForbidden):
            write()

    stored = WebhookEndpoint.objects.get()
    assert (stored.url, stored.secret) == ("https://shop.example/hooks", secret)
    assert not AuditEntry.objects.exists()


def test_a_manager_of_another_merchant_is_refused_by_the_services(shop, endpoint):
    stranger = StaffFactory(merchant=ProgramFactory().merchant, role=User.Role.MANAGER)
    secret = endpoint.secret

    for write in _writes(endpoint, stranger):
        with pytest.raises(MerchantForbidden):
            write()
    # Nor may an endpoint be moved to the stranger's merchant.
    endpoint.refresh_from_db()
    endpoint.merchant_id = stranger.merchant_id
    with pytest.raises(MerchantForbidden):
        webhook_endpoint_save(endpoint=endpoint, actor=stranger)

    stored = WebhookEndpoint.objects.get()
    assert (stored.merchant_id, stored.secret) == (shop.merchant_id, secret)


def test_a_superuser_may_do_everything(shop, endpoint):
    root = User.objects.create_superuser("root", "root@example.com", "pw")

    for write in _writes(endpoint, root):
        write()

    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# Managers: shown once, rotated, audited


def test_a_manager_sees_a_new_secret_once_and_its_hint_after(shop):
    user, client = login(shop, User.Role.MANAGER)

    added = client.post(
        ADD_URL, {"url": "https://shop.example/in", "events": ["tier_changed"]}, follow=True
    )

    endpoint = WebhookEndpoint.objects.get()
    [message] = [text for text in texts(added) if endpoint.secret in text]
    assert "will not be shown again" in message
    assert endpoint.secret in added.content.decode()  # on the page it leads to, once
    page = client.get(change_url(endpoint)).content.decode()
    assert endpoint.secret not in page
    assert f"…{endpoint.secret[-4:]}" in page
    entry = AuditEntry.objects.get(action="webhook.create")
    assert entry.actor == user
    assert entry.changes["url"] == [None, "https://shop.example/in"]
    assert entry.changes["secret"] == [None, f"…{endpoint.secret[-4:]}"]
    assert endpoint.secret not in str(entry.changes)


def test_a_manager_rotates_the_secret_and_the_rotation_is_audited(shop, endpoint):
    user, client = login(shop, User.Role.MANAGER)
    old = endpoint.secret

    rotated = rotate(client, endpoint)
    shown = client.get(LIST_URL).content.decode()

    endpoint.refresh_from_db()
    assert endpoint.secret in shown  # once, on the page after the action
    assert endpoint.secret != old
    assert len(endpoint.secret) == 64
    assert any(endpoint.secret in text for text in texts(rotated))
    assert endpoint.secret not in client.get(change_url(endpoint)).content.decode()
    entry = AuditEntry.objects.get(action="webhook.rotate_secret")
    assert (entry.actor, entry.merchant_id, entry.target_id) == (
        user,
        shop.merchant_id,
        str(endpoint.pk),
    )
    assert entry.changes == {"secret": [f"…{old[-4:]}", f"…{endpoint.secret[-4:]}"]}
    assert old not in str(entry.changes)
    assert endpoint.secret not in str(entry.changes)


def test_changes_and_deletions_are_audited_with_before_and_after(shop, endpoint):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)

    endpoint.url = "https://shop.example/v2"
    endpoint.events = ["order_recorded", "tier_changed"]
    webhook_endpoint_save(endpoint=endpoint, actor=manager)
    webhook_endpoint_delete(endpoint=endpoint, actor=manager)

    update = AuditEntry.objects.get(action="webhook.update")
    assert update.changes == {
        "url": ["https://shop.example/hooks", "https://shop.example/v2"],
        "events": [["order_recorded"], ["order_recorded", "tier_changed"]],
    }
    delete = AuditEntry.objects.get(action="webhook.delete")
    assert delete.changes["url"] == ["https://shop.example/v2", None]
    assert delete.changes["secret"] == [f"…{endpoint.secret[-4:]}", None]
    assert not WebhookEndpoint.objects.exists()


def test_a_change_keeps_the_secret(shop, endpoint):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)
    secret = endpoint.secret

    endpoint.active = False
    endpoint.secret = "chosen-by-the-caller"
    webhook_endpoint_save(endpoint=endpoint, actor=manager)

    assert WebhookEndpoint.objects.get().secret == secret


def test_a_superuser_adds_and_rotates_in_the_admin_and_sees_the_secret_once(shop):
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    added = client.post(
        ADD_URL,
        {
            "merchant": shop.merchant_id,
            "url": "https://shop.example/in",
            "events": ["tier_changed"],
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    first = endpoint.secret
    rotate(client, endpoint)
    endpoint.refresh_from_db()

    assert first in added.content.decode()
    assert endpoint.secret != first
    assert endpoint.secret in client.get(LIST_URL).content.decode()
    assert endpoint.secret not in client.get(change_url(endpoint)).content.decode()
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "webhook.create",
        "webhook.rotate_secret",
    ]
