"""Push endpoints come from browsers, so they must not aim the server anywhere but a push
service: one rule when a browser subscribes and before every send (an https URL of a listed
host written plainly, read the same by every parser), and a send that connects only to
public addresses of one DNS lookup and follows no redirect. Production settings here:
``PUSH_ALLOW_PRIVATE_HOSTS`` off, the shipped ``PUSH_ENDPOINT_HOSTS``."""

import contextlib
import socket
import threading

import pytest
import requests

from loyalty.errors import InvalidInput
from notifications.models import Notification, PushSubscription
from notifications.netguard import GuardedSession
from notifications.services import notifications_deliver, push_subscribe
from notifications.services.push import EndpointRefused, push_endpoint_origin
from tests.factories import MemberFactory
from tests.notifications.conftest import reward
from tests.notifications.pushservice import Browser, push_service_start

pytestmark = pytest.mark.django_db

Status = Notification.Status
SHIPPED_HOSTS = [
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "notify.windows.com",
    "push.apple.com",
]
REBOUND_HOST = "updates.push.services.mozilla.com"


@pytest.fixture
def production(push_keys, settings):
    settings.PUSH_ALLOW_PRIVATE_HOSTS = False
    settings.PUSH_ENDPOINT_HOSTS = SHIPPED_HOSTS


@pytest.fixture
def push_member(program):
    return MemberFactory(program=program, consent_email=False, locale="en")


@pytest.fixture
def internal_service():
    """A service on this machine that push must never reach (an admin API, metadata...)."""
    service = push_service_start()
    yield service
    service.server.shutdown()
    service.server.server_close()


class Listener:
    """A TCP service on this machine that counts who connects to it."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1  # before the close the client would notice
            connection.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()


@pytest.fixture
def internal_https():
    """What listens on port 443 of 127.0.0.1 and 10.0.0.1 in the tests (``rebinding_dns``
    routes there): an internal HTTPS service push must never connect to."""
    listener = Listener()
    yield listener
    listener.stop()


@pytest.fixture
def rebinding_dns(monkeypatch, internal_https):
    """A push service's name that resolves to 127.0.0.1 (DNS rebinding, a poisoned resolver),
    and port 443 of 127.0.0.1 and 10.0.0.1 served by ``internal_https``; every other name
    resolves as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        host = "127.0.0.1" if host == REBOUND_HOST else host
        if host in ("127.0.0.1", "10.0.0.1") and port == 443:
            return real("127.0.0.1", internal_https.port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


ATTACKS = [
    # The reported ones: urllib3 (which sends) connects to 127.0.0.1 / 10.0.0.1.
    "https://127.0.0.1\\@fcm.googleapis.com/x",
    "https://10.0.0.1\\.fcm.googleapis.com/y",
    "https://127.0.0.1:80\\@fcm.googleapis.com/x",
    "https://fcm.googleapis.com/send\\x",
    # User info, whichever side of it the allowed host is.
    "https://user@fcm.googleapis.com/x",
    "https://fcm.googleapis.com@127.0.0.1/x",
    "https://fcm.googleapis.com%2f@127.0.0.1/x",
    "https://127.0.0.1;@fcm.googleapis.com/x",
    "https://127.0.0.1#@fcm.googleapis.com/x",
    "https://127.0.0.1?@fcm.googleapis.com/x",
    # Percent-encoding, whitespace and control characters in the host.
    "https://127.0.0.1%2f.fcm.googleapis.com/x",
    "https://fcm%2egoogleapis%2ecom/x",
    "https://127.0.0.1\t.fcm.googleapis.com/x",
    "https://127.0.0.1\n.fcm.googleapis.com/x",
    "https://fcm.googleapis.com /x",
    # IDNA (full-width letters and dots), upper case, trailing dot, empty labels.
    "https://ｆcm.googleapis.com/x",
    "https://fcm。googleapis。com/x",
    "https://127.0.0.1。fcm.googleapis.com/x",
    "https://FCM.googleapis.com/x",
    "HTTPS://fcm.googleapis.com/x",
    "https://fcm.googleapis.com./x",
    "https://updates..push.services.mozilla.com/x",
    "https://.fcm.googleapis.com/x",
    "https://-x.fcm.googleapis.com/x",
    # Look-alikes of a listed host.
    "https://fcm.googleapis.com.evil.example/x",
    "https://evilfcm.googleapis.com/x",
    "https://xnotify.windows.com/x",
    # Ports and schemes.
    "https://fcm.googleapis.com:8443/x",
    "https://fcm.googleapis.com:22/x",
    "https://fcm.googleapis.com:/x",
    "https://fcm.googleapis.com:99999/x",
    "http://fcm.googleapis.com/x",
    "ftp://fcm.googleapis.com/x",
    "//fcm.googleapis.com/x",
    # Addresses, in every spelling the resolver takes.
    "https://127.0.0.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://2130706433/x",
    "https://0x7f.0.0.1/x",
    "https://127.1/x",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[2002:7f00:1::1]/x",
    "https://[fe80::1%25eth0]/x",
]


@pytest.mark.parametrize("endpoint", ATTACKS)
def test_an_endpoint_that_could_reach_another_host_is_refused(member, production, endpoint):
    browser = Browser(endpoint)

    with pytest.raises(EndpointRefused):
        push_endpoint_origin(endpoint)
    with pytest.raises(InvalidInput) as refused:
        push_subscribe(member=member, subscription=browser.subscription())

    assert list(refused.value.fields) == ["endpoint"]
    assert not PushSubscription.objects.exists()
    member.refresh_from_db()
    assert member.consent_push is False


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/dX7:APA91bH-x_y", "https://fcm.googleapis.com"),
        ("https://fcm.googleapis.com:443/fcm/send/abc", "https://fcm.googleapis.com"),
        (
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
            "https://updates.push.services.mozilla.com",
        ),
        (
            "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB%2bx%3d",
            "https://wns2-par02p.notify.windows.com",
        ),
        ("https://web.push.apple.com/QGuQyavXutnMk", "https://web.push.apple.com"),
        ("https://android.googleapis.com/gcm/send/abc", "https://android.googleapis.com"),
    ],
)
def test_real_push_services_endpoints_are_accepted(member, production, endpoint, origin):
    assert push_endpoint_origin(endpoint) == origin

    push_subscribe(member=member, subscription=Browser(endpoint).subscription())

    assert PushSubscription.objects.get().endpoint == endpoint


def test_a_local_push_service_is_refused_unless_private_hosts_are_allowed(
    member, production, settings
):
    settings.PUSH_ENDPOINT_HOSTS = ["127.0.0.1", "::1", "localhost"]
    local = ["http://127.0.0.1:8080/push/1", "https://[::1]/push/1", "https://localhost/push/1"]

    for endpoint in local:
        with pytest.raises(EndpointRefused):
            push_endpoint_origin(endpoint)

    settings.PUSH_ALLOW_PRIVATE_HOSTS = True
    assert [push_endpoint_origin(endpoint) for endpoint in local] == [
        "http://127.0.0.1:8080",
        "https://[::1]",
        "https://localhost",
    ]


def test_an_address_is_accepted_only_when_listed_itself(push_keys, settings):
    settings.PUSH_ENDPOINT_HOSTS = ["0.0.1", "push.example.net"]

    for endpoint in ["http://127.0.0.1:8080/x", "https://10.0.0.1/x"]:
        with pytest.raises(EndpointRefused):
            push_endpoint_origin(endpoint)


# Sending


@pytest.mark.parametrize(
    "endpoint",
    ["https://127.0.0.1\\@fcm.googleapis.com/x", "https://10.0.0.1\\.fcm.googleapis.com/y"],
)
def test_an_endpoint_stored_before_the_rule_is_not_sent_to(
    push_member, production, rebinding_dns, internal_https, endpoint
):
    # What the reported attack left in the table (urllib3 connects to port 443 of the address).
    keys = Browser("x").subscription()["keys"]
    PushSubscription.objects.create(
        member=push_member, endpoint=endpoint, p256dh=keys["p256dh"], auth=keys["auth"]
    )
    push_member.consent_push = True
    push_member.save()
    (row,) = reward(push_member)

    assert notifications_deliver() == 0

    assert internal_https.connections == 0
    row.refresh_from_db()
    assert row.status == Status.SKIPPED
    assert "not a valid address" in row.last_error
    subscription = PushSubscription.objects.get()  # kept: the list may be fixed
    assert subscription.failure_count == 1


def test_a_push_host_that_resolves_to_a_private_address_is_refused_at_send(
    push_member, production, rebinding_dns, internal_https
):
    push_subscribe(
        member=push_member,
        subscription=Browser(f"https://{REBOUND_HOST}/wpush/v2/abc").subscription(),
    )
    (row,) = reward(push_member)

    assert notifications_deliver() == 0

    assert internal_https.connections == 0
    row.refresh_from_db()
    assert row.status == Status.PENDING  # retried later, like any failure to connect
    assert f"{REBOUND_HOST} resolves to 127.0.0.1, a loopback address" in row.last_error


def test_the_guarded_session_checks_the_address_it_connects_to(internal_service, rebinding_dns):
    url = f"http://{REBOUND_HOST}:{internal_service.server.server_port}/admin"

    with pytest.raises(requests.ConnectionError, match="resolves to 127.0.0.1"):
        GuardedSession(guard_addresses=True).post(url, data=b"x", timeout=5)
    assert internal_service.requests == []

    assert GuardedSession(guard_addresses=False).post(url, data=b"x", timeout=5).ok
    assert len(internal_service.requests) == 1


def test_a_redirect_from_the_push_service_is_not_followed(
    push_member, push_service, internal_service
):
    browser = Browser(f"{push_service.url}/push/moved")
    push_subscribe(member=push_member, subscription=browser.subscription())
    push_service.statuses[browser.path] = 302
    push_service.locations[browser.path] = f"{internal_service.url}/admin/delete-everything"
    (row,) = reward(push_member)

    assert notifications_deliver() == 0

    assert len(push_service.received(browser.path)) == 1
    assert internal_service.requests == []
    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert "HTTP 302" in row.last_error


@pytest.mark.parametrize("status", [301, 307, 308])
def test_no_redirect_is_followed_whatever_its_kind(internal_service, status):
    moved = push_service_start()
    try:
        moved.statuses["/push/x"] = status
        moved.locations["/push/x"] = f"{internal_service.url}/admin"

        response = GuardedSession(guard_addresses=False).post(
            f"{moved.url}/push/x", data=b"x", timeout=5
        )
    finally:
        moved.server.shutdown()
        moved.server.server_close()

    assert response.status_code == status
    assert internal_service.requests == []
