"""Requests to addresses that users give go only to public internet addresses (no
server-side request forgery).

A merchant's webhook endpoint or a browser's push endpoint must not make our servers call
into our own network: addresses that are private, loopback, link-local (cloud metadata at
169.254.169.254), multicast, reserved, unspecified or otherwise not global are refused, for
IPv4 and IPv6. An IPv6 address that carries an IPv4 address is judged by it: an
IPv4-mapped address (``::ffff:a.b.c.d``, which the system connects to over IPv4) and one of
the well-known NAT64 prefix (``64:ff9b::/96``, which a NAT64 gateway translates) as their
IPv4 address; the other transition prefixes (6to4, Teredo, IPv4-compatible,
IPv4-translated, local-use NAT64) are refused outright, since a relay or translator would
carry the request to the IPv4 address inside.

Checked when the address is given (a webhook endpoint when it is saved, with a readable
error in the admin; a push endpoint when a browser subscribes) and, what really holds, at
every delivery on the addresses the connection uses: the host name is resolved once,
every address it resolves to is checked, and the socket connects to a checked address,
never to a second resolution. So a name that resolved to a public address when it was
given and to a private one later (DNS rebinding) is refused at send time. One
``connect`` serves both transports: http.client's (urllib, webhooks) and urllib3's
(requests, web push; ``GuardedSession``). Neither channel follows redirects (a checked
host could point anywhere).

``settings.WEBHOOKS_ALLOW_PRIVATE_HOSTS`` and ``settings.PUSH_ALLOW_PRIVATE_HOSTS`` (local
development, tests with a receiver on 127.0.0.1) switch the check off for their channel.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import sys
import urllib.request
from typing import Any

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# socket.create_connection's "no timeout given" marker (not in the type stubs).
DEFAULT_TIMEOUT: Any = getattr(socket, "_GLOBAL_DEFAULT_TIMEOUT")  # noqa: B009

# A NAT64 gateway sends these to the IPv4 address in their last 32 bits (RFC 6052).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IPv6 prefixes that carry an IPv4 address to a relay or translator: 6to4 (RFC 3056,
# deprecated by RFC 7526), Teredo (RFC 4380), IPv4-compatible (deprecated by RFC 4291),
# IPv4-translated (RFC 2765) and local-use NAT64 (RFC 8215). No receiver needs them.
TRANSITION = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in ("2002::/16", "2001::/32", "::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48")
)


class AddressRefused(OSError):
    """The endpoint's host is, or resolves to, an address our servers must not reach."""


def private_hosts_allowed() -> bool:
    """Webhooks may go to private addresses (local development only)."""
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_HOSTS", False))


def address_refusal(address: IPAddress) -> str | None:
    """Why our servers may not connect to ``address`` (None when it is a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for flag, kind in (
        ("is_loopback", _("a loopback address")),
        ("is_private", _("a private address")),
        ("is_link_local", _("a link-local address")),
        ("is_multicast", _("a multicast address")),
        ("is_reserved", _("a reserved address")),
        ("is_unspecified", _("an unspecified address")),
    ):
        if getattr(address, flag):
            return kind
    if isinstance(address, ipaddress.IPv6Address) and any(
        address in prefix for prefix in TRANSITION
    ):
        return _("an IPv6 transition address, which carries an IPv4 address")
    if not address.is_global:
        return _("not a public internet address")
    return None


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` for a TCP connection, refused when any address is not public."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        reason = address_refusal(address)
        if reason:
            params = {"host": host, "address": address, "reason": reason}
            if host.strip("[]") == str(address):
                message = _(
                    "%(host)s is %(reason)s: our servers call only public internet addresses."
                )
            else:
                message = _(
                    "%(host)s resolves to %(address)s, %(reason)s: our servers call only "
                    "public internet addresses."
                )
            raise AddressRefused(message % params)
    return infos


def host_refusal(host: str, port: int) -> str | None:
    """Why ``host`` may not receive webhooks, if it can be told now.

    A name that does not resolve at all is not refused here (DNS may be down or not set up
    yet); every delivery checks again before it connects.
    """
    if private_hosts_allowed():
        return None
    try:
        resolve(host, port)
    except AddressRefused as refused:
        return str(refused)
    except (OSError, UnicodeError, ValueError):
        return None
    return None


def connect(
    address: tuple[str, int],
    timeout: Any = DEFAULT_TIMEOUT,
    source: Any = None,
    socket_options: Any = None,
) -> socket.socket:
    """``socket.create_connection`` that connects only to checked addresses of one lookup."""
    host, port = address
    error: OSError | None = None
    for family, type_, proto, _name, sockaddr in resolve(host, port):
        sock = socket.socket(family, type_, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source:
                sock.bind(source)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"no address for {host}")


# http.client (urllib): webhooks


def _webhook_connect(
    address: tuple[str, int], timeout: Any = DEFAULT_TIMEOUT, source: Any = None
) -> socket.socket:
    if private_hosts_allowed():
        return socket.create_connection(address, timeout, source)
    return connect(address, timeout, source)


class GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _webhook_connect


class GuardedHTTPSConnection(http.client.HTTPSConnection):
    # TLS is set up on the guarded socket with the host name (SNI, certificate check).
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _webhook_connect


class GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(GuardedHTTPConnection, req)


class GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(GuardedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


# urllib3 (requests): web push


class _GuardedUrllib3HTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        # urllib3's own _new_conn, with the checked connect and the same errors.
        try:
            sock = connect(
                (self._dns_host, self.port), self.timeout, self.source_address, self.socket_options
            )
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        except TimeoutError as error:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        except OSError as error:
            raise NewConnectionError(
                self, f"Failed to establish a new connection: {error}"
            ) from error
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class _GuardedUrllib3HTTPSConnection(_GuardedUrllib3HTTPConnection, HTTPSConnection):
    # TLS is set up on the guarded socket with the host name (SNI, certificate check).
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedUrllib3HTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedUrllib3HTTPSConnection


class _GuardedPoolManager(PoolManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        # HTTPAdapter.init_poolmanager with the guarded pools (and what it keeps for pickling).
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _GuardedPoolManager(
            num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )


class GuardedSession(requests.Session):
    """A requests session for addresses that users give.

    It never follows a redirect (the response is returned as it is, a failure like any
    non-2xx) and ignores the environment (no proxy or .netrc credentials picked up from
    it). With ``guard_addresses`` it connects only to checked public addresses.
    """

    def __init__(self, *, guard_addresses: bool) -> None:
        super().__init__()
        self.trust_env = False
        self.max_redirects = 0
        if guard_addresses:
            adapter = _GuardedAdapter()
            self.mount("https://", adapter)
            self.mount("http://", adapter)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None
