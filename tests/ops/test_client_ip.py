"""The client's address for per-IP limits: REMOTE_ADDR, or the forwarded header as far as
trusted proxies wrote it, read from the right; one function that every limit uses."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory

from loyalty.clientip import client_ip, ip_bucket

PROXY = "127.0.0.1"


def address(remote: str, forwarded: str | None = None) -> str:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        # No trusted proxy: the header is whatever the client says, so it is ignored.
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # From a proxy that is not trusted: the same.
        (["10.0.0.0/8"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # The documented shape: the TLS proxy on the same machine appends the client.
        ([PROXY], PROXY, "198.51.100.1", "198.51.100.1"),
        # What the client wrote itself stands left of what the proxy appended.
        ([PROXY], PROXY, "203.0.113.5, 198.51.100.1", "198.51.100.1"),
        # Trusted hops are skipped from the right: a load balancer, then the TLS proxy.
        ([PROXY, "10.0.0.0/8"], PROXY, "203.0.113.5, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
        # ...but never past the first hop that is not a trusted proxy.
        ([PROXY], PROXY, "10.9.9.9, 198.51.100.1", "198.51.100.1"),
        # A trusted proxy that sent no header made the request itself.
        ([PROXY], PROXY, None, PROXY),
        ([PROXY], PROXY, "", PROXY),
        # Garbage: the last trusted hop is as far as anyone vouches for.
        ([PROXY, "10.0.0.0/8"], PROXY, "198.51.100.1, nonsense, 10.1.2.3", "10.1.2.3"),
        # Ports, brackets and IPv4-mapped IPv6 are the same client.
        ([PROXY], PROXY, "198.51.100.1:51234", "198.51.100.1"),
        ([PROXY], PROXY, "[2001:db8::7]:443", "2001:db8::7"),
        ([], "::ffff:203.0.113.9", None, "203.0.113.9"),
        (["::1"], "::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_the_client_is_the_first_address_from_the_right_that_is_no_trusted_proxy(
    settings, proxies, remote, forwarded, expected
):
    settings.TRUSTED_PROXIES = proxies

    assert address(remote, forwarded) == expected


def test_the_header_is_the_configured_one(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    request = RequestFactory().get(
        "/", REMOTE_ADDR=PROXY, HTTP_X_REAL_IP="198.51.100.7", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )

    assert client_ip(request) == "198.51.100.7"


def test_ipv6_clients_count_by_their_64_network():
    assert ip_bucket("2001:db8:1:2:aaaa::1") == ip_bucket("2001:db8:1:2:bbbb::2")
    assert ip_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert ip_bucket("2001:db8:1:3::1") != ip_bucket("2001:db8:1:2::1")
    assert ip_bucket("203.0.113.9") == "203.0.113.9"


APPS = ["loyalty", "rewards", "notifications"]
CLIENT_ADDRESS = re.compile(r"REMOTE_ADDR|FORWARDED_FOR|X-Forwarded-For|CLIENT_IP_HEADER")


def test_only_the_client_ip_module_reads_the_clients_address():
    """Every per-IP limit takes the address from ``loyalty.clientip``: a view that read
    REMOTE_ADDR itself would put every customer behind the proxy's address again."""
    base = Path(settings.BASE_DIR)
    readers = {
        str(path.relative_to(base))
        for folder in APPS
        for path in (base / folder).rglob("*.py")
        if CLIENT_ADDRESS.search(path.read_text())
    }

    assert readers == {"loyalty/clientip.py"}
