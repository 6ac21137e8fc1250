"""The client's address, the one place every per-IP limit takes it from.

Invariant: a header naming the client is believed only when the request comes from a
trusted proxy (``TRUSTED_PROXIES``), and then only as far as trusted proxies wrote it:
``CLIENT_IP_HEADER`` (X-Forwarded-For) is read from the right, each trusted hop skipped,
and the first address that is not a trusted proxy is the client. Whatever a client puts
in the header itself stands left of that, so it is never reached. Without trusted
proxies the header is ignored and the address is REMOTE_ADDR.

Limits count per ``ip_bucket``: an IPv4 address, or an IPv6 address's /64 (one
subscriber's network, whose addresses a client can change at will).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address(text: str) -> IPAddress | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:port``, ``[v6]:port``."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # the same IPv4 client, however the socket spelled it
    return address


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request`` (see the module's invariant)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    address = _address(remote)
    if address is None:
        return remote
    proxies = _networks(tuple(settings.TRUSTED_PROXIES))

    def trusted(hop: IPAddress) -> bool:
        return any(hop in network for network in proxies)

    if not trusted(address):
        return str(address)
    forwarded = str(request.META.get(settings.CLIENT_IP_HEADER, ""))
    for entry in reversed(forwarded.split(",")):
        hop = _address(entry)
        if hop is None:
            # Unreadable: the last trusted hop is as far as anyone vouches for.
            break
        address = hop
        if not trusted(hop):
            break
    return str(address)


def ip_bucket(ip: str) -> str:
    """What a per-IP limit counts: the address, or an IPv6 address's /64 network."""
    address = _address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address) if address is not None else ip
