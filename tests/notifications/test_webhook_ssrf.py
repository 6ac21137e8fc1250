"""Webhooks reach only public internet addresses: refused on save and, after DNS resolution,
at every delivery (with ``WEBHOOKS_ALLOW_PRIVATE_HOSTS`` off, as in production)."""

import ipaddress
import socket

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.netguard import address_refusal
from notifications.services.webhooks import webhook_enqueue, webhooks_deliver
from tests.factories import ProgramFactory, StaffFactory
from tests.notifications.test_webhooks import Receiver

REBOUND_HOST = "hooks.rebinding.test"


@pytest.fixture
def guarded(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_HOSTS = False


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def rebinding_dns(monkeypatch):
    """A name that resolves to 127.0.0.1 (what a DNS-rebinding attacker's name does after the
    endpoint was saved); every other name resolves as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host == REBOUND_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1",
        "224.0.0.1", "240.0.0.1", "0.0.0.0",  # noqa: S104 - refused, not bound
        "255.255.255.255", "::1", "::", "fe80::1",
        "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2001:db8::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::1", "2002:a00:1::1", "2002:a9fe:a9fe::1",  # 6to4: 127.0.0.1, 10.0.0.1...
        "2002:808:808::1",  # 6to4 of a public address: still a relay's business, refused
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe",  # NAT64 of private ones
        "64:ff9b:1::808:808",  # local-use NAT64
        "::7f00:1", "::808:808",  # IPv4-compatible
        "::ffff:0:7f00:1", "::ffff:0:808:808",  # IPv4-translated
        "::ffff:169.254.169.254", "::ffff:100.64.0.1",  # IPv4-mapped
    ],
)  # fmt: skip
def test_ipv6_addresses_carrying_ipv4_are_refused_unless_mapped_or_nat64_of_a_public_one(
    address,
):
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])  # fmt: skip
def test_public_addresses_are_accepted(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]:8443/hooks",
        "https://[fd12:3456::1]/hooks",
        "https://[2002:7f00:1::1]/hook",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://127.0.0.1:8000/hooks",
        "https://localhost/hooks",
        f"https://{REBOUND_HOST}/hooks",
    ],
)
def test_saving_an_endpoint_on_a_private_address_is_refused(guarded, rebinding_dns, url):
    endpoint = WebhookEndpoint(merchant=ProgramFactory().merchant, url=url, events=[])

    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()

    assert refused.value.error_dict["url"][0].code == "private_address"


@pytest.mark.django_db
def test_local_receivers_are_allowed_when_the_setting_says_so(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_HOSTS = True
    endpoint = WebhookEndpoint(
        merchant=ProgramFactory().merchant, url="http://127.0.0.1:8000/hooks", events=[]
    )

    endpoint.full_clean()


@pytest.mark.django_db
def test_the_admin_shows_why_a_private_endpoint_is_refused(client, guarded):
    program = ProgramFactory()
    client.force_login(StaffFactory(merchant=program.merchant))

    response = client.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {"url": "https://192.168.0.10/hooks", "events": ["order_recorded"]},
    )

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["url"]
    assert "192.168.0.10" in error
    assert "a private address" in error
    assert not WebhookEndpoint.objects.exists()


def deliver_to(url):
    program = ProgramFactory()
    # Saved as an endpoint was before the guard, or before its name was re-pointed.
    WebhookEndpoint.objects.create(merchant=program.merchant, url=url, events=["order_recorded"])
    webhook_enqueue(
        merchant_id=program.merchant_id, event="order_recorded", occasion="A-1", payload={}
    )
    sent = webhooks_deliver()
    return sent, WebhookDelivery.objects.get()


@pytest.mark.django_db
def test_delivery_to_a_loopback_endpoint_fails_with_the_reason(guarded, receiver):
    sent, delivery = deliver_to(receiver.url)

    assert sent == 0
    assert receiver.requests == []
    assert delivery.status == WebhookDelivery.Status.PENDING  # retried later, like any failure
    assert "127.0.0.1 is a loopback address" in delivery.last_error


@pytest.mark.django_db
def test_a_name_rebound_to_a_private_address_after_saving_is_refused_at_delivery(
    guarded, receiver, rebinding_dns
):
    port = receiver.server.server_port

    sent, delivery = deliver_to(f"http://{REBOUND_HOST}:{port}/hooks")

    assert sent == 0
    assert receiver.requests == []
    assert f"{REBOUND_HOST} resolves to 127.0.0.1" in delivery.last_error


@pytest.mark.django_db
def test_a_name_that_resolves_to_a_6to4_address_of_loopback_is_refused_at_delivery(
    guarded, receiver, monkeypatch
):
    port = receiver.server.server_port
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == REBOUND_HOST:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2002:7f00:1::1", port, 0, 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    sent, delivery = deliver_to(f"http://{REBOUND_HOST}:{port}/hooks")

    assert sent == 0
    assert f"{REBOUND_HOST} resolves to 2002:7f00:1::1, an IPv6 transition address" in (
        delivery.last_error
    )


@pytest.mark.django_db
def test_the_same_rebound_name_is_delivered_when_private_hosts_are_allowed(
    settings, receiver, rebinding_dns
):
    settings.WEBHOOKS_ALLOW_PRIVATE_HOSTS = True
    port = receiver.server.server_port

    sent, delivery = deliver_to(f"http://{REBOUND_HOST}:{port}/hooks")

    assert sent == 1
    assert len(receiver.requests) == 1
    assert delivery.status == WebhookDelivery.Status.SENT
