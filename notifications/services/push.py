"""Web push: members' browser subscriptions, and the push channel of the outbox.

What it keeps:
- Push is on iff both VAPID keys are configured (``VAPID_PUBLIC_KEY``,
  ``VAPID_PRIVATE_KEY``); without them no push row is written and
  ``push_public_key()`` is None, so the profile page offers no push button.
- A subscription is stored only when it is one a browser could have made: an
  endpoint on a known push service and a valid P-256 key and 16-byte auth secret.
  One row per endpoint: subscribing again updates it; at most ``MAX_SUBSCRIPTIONS``
  browsers per member.
- The server POSTs to endpoints that browsers give, so an endpoint must not aim it
  at anything but a push service (``push_endpoint_origin``, checked when a browser
  subscribes and again before every send): an https URL on port 443 whose host is
  one of ``PUSH_ENDPOINT_HOSTS`` or a subdomain of one, written plainly (RFC 3986:
  no user info, no percent-encoding or backslash, a lower-case ASCII name without
  a trailing dot), and read the same by the standard library and by the parsers
  that send it (requests, urllib3). The send connects only to public addresses of
  one DNS lookup (``notifications.netguard``) and never follows a redirect.
  ``PUSH_ALLOW_PRIVATE_HOSTS`` (local development, tests) lets a push service on
  this machine in: plain http on 127.0.0.1/localhost, any port, private addresses.
- ``consent_push`` follows the member's choice: on when they subscribe a
  browser, off when they unsubscribe the last one.
- Delivery (``PushSender``, used by the outbox): each message is encrypted for
  each of the member's browsers (RFC 8291, aes128gcm) and signed with VAPID
  (RFC 8292). A browser the push service reports gone (404/410) is deleted. A
  push notification is sent when at least one browser accepted it; browsers
  that failed are counted on their subscription and not retried for that
  message, so no browser ever gets it twice. When none accepted it and some
  failure may pass (5xx, 429, a redirect, a network error or an address the
  guard refused), the outbox retries the whole message with backoff; when every
  browser is gone it is skipped. A stored endpoint that the rule refuses (saved
  before it, or ``PUSH_ENDPOINT_HOSTS`` changed) is never sent to: it is counted
  as a failure and kept; when no browser is left to try the message is skipped.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from py_vapid import Vapid02
from pywebpush import WebPusher
from requests.models import PreparedRequest
from urllib3.util import parse_url

from loyalty.errors import InvalidInput
from loyalty.models import Member
from notifications.models import LOCAL_HOSTS, Notification, PushSubscription
from notifications.netguard import AddressRefused, GuardedSession, IPAddress, address_refusal
from notifications.services.sending import Undeliverable

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 10
ENDPOINT_LENGTH = PushSubscription._meta.get_field("endpoint").max_length or 1000
# Connect and read timeouts of one POST to a push service (seconds).
TIMEOUT = (5, 15)
# A VAPID token is valid for at most 24 hours (RFC 8292); a delivery run signs a fresh one.
VAPID_TOKEN_SECONDS = 12 * 3600
GONE = frozenset({404, 410})


def push_enabled() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def push_private_hosts_allowed() -> bool:
    """A push service on this machine or a private network may be used (development)."""
    return bool(getattr(settings, "PUSH_ALLOW_PRIVATE_HOSTS", False))


def push_public_key() -> str | None:
    """The VAPID public key browsers subscribe with (urlsafe base64), None when push is off."""
    return settings.VAPID_PUBLIC_KEY if push_enabled() else None


# Subscriptions


def _b64decode(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value or len(value) > 200:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


# The characters of RFC 3986 (unreserved, reserved, "%"): no space, control, backslash
# or non-ASCII character, which parsers handle each their own way.
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
# An authority that is a plain host and port, and ends where RFC 3986 ends it: no user
# info ("@"), no percent-encoding, nothing a parser could read as another host.
_ENDPOINT = re.compile(
    r"(?P<scheme>https?)://(?P<host>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?"
    r"(?:[/?#].*)?"
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# A top-level domain is letters or an IDNA A-label, never a number: "10.0.0.1", "127.1"
# or "0x7f.1" are addresses to the resolver.
_TOP_LABEL = re.compile(r"[a-z]{1,63}|xn--[a-z0-9-]{1,59}")


class EndpointRefused(ValueError):
    """A push endpoint the server must not POST to (the message says why)."""


def _invalid() -> EndpointRefused:
    return EndpointRefused(_("The endpoint is not a valid address."))


def _unknown() -> EndpointRefused:
    return EndpointRefused(_("The endpoint is not the address of a known push service."))


def _host_address(host: str) -> IPAddress | None:
    """The address a literal host names (None for a DNS name); refused if it is neither a
    bracketed IPv6 address, a dotted IPv4 address nor a well-formed DNS name."""
    if host.startswith("["):
        try:
            return ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _invalid() from None
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        try:
            return ipaddress.IPv4Address(host)
        except ValueError:
            raise _invalid() from None
    if (
        len(host) > 253
        or not all(_LABEL.fullmatch(label) for label in labels)
        or not _TOP_LABEL.fullmatch(labels[-1])
    ):
        raise _invalid()
    return None


def _readings(endpoint: str) -> set[tuple[str, str | None, str, int | None]]:
    """(scheme, user info, host, port) as each parser reads ``endpoint``: the standard
    library's, and requests' preparing the URL then urllib3's reading it (what sends)."""
    prepared = PreparedRequest()
    prepared.prepare_url(endpoint, None)
    sent = parse_url(prepared.url or "")
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    return {
        (sent.scheme or "", sent.auth, sent.host or "", sent.port),
        (parts.scheme, parts.username, f"[{host}]" if ":" in host else host, parts.port),
    }


def _loopback_name(host: str) -> bool:
    # RFC 6761: "localhost" and names under it are the loopback interface.
    return host == "localhost" or host.endswith(".localhost")


def _listed(host: str, address: IPAddress | None) -> bool:
    """``host`` is a push service of ``PUSH_ENDPOINT_HOSTS`` or a subdomain of one (an
    address only when it is listed itself)."""
    for entry in settings.PUSH_ENDPOINT_HOSTS:
        entry = entry.strip().strip(".").lower()
        if not entry:
            continue
        if address is None:
            if host == entry or host.endswith("." + entry):
                return True
            continue
        try:
            if ipaddress.ip_address(entry.strip("[]")) == address:
                return True
        except ValueError:
            continue
    return False


def push_endpoint_origin(endpoint: Any) -> str:
    """The origin (``scheme://host[:port]``, the VAPID audience) of a push endpoint the
    server may POST to; raises ``EndpointRefused`` with the reason otherwise.

    The one rule for push endpoints, checked when a browser subscribes and before every
    send (the module docstring says what it keeps).
    """
    if not isinstance(endpoint, str) or not endpoint:
        raise EndpointRefused(_("The subscription has no endpoint."))
    if len(endpoint) > ENDPOINT_LENGTH:
        raise EndpointRefused(_("The endpoint address is too long."))
    match = _ENDPOINT.fullmatch(endpoint) if _URL_CHARS.fullmatch(endpoint) else None
    if match is None:
        raise _invalid()
    scheme, host = match["scheme"], match["host"]
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        raise _invalid()
    address = _host_address(host)
    try:
        readings = _readings(endpoint)
    except (ValueError, requests.RequestException):
        raise _invalid() from None
    if readings != {(scheme, None, host, port)}:
        raise _invalid()
    if push_private_hosts_allowed():
        if scheme == "http" and host.strip("[]") not in LOCAL_HOSTS:
            raise _unknown()
    elif scheme != "https" or port not in (None, 443):
        raise _unknown()
    elif (address is not None and address_refusal(address)) or _loopback_name(host):
        # What can be told without DNS; the send checks every address the name resolves to.
        raise _unknown()
    if not _listed(host, address):
        raise _unknown()
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def _keys_problems(keys: Any) -> list[str]:
    if not isinstance(keys, dict):
        return [str(_("The subscription has no keys."))]
    problems = []
    p256dh = _b64decode(keys.get("p256dh"))
    try:
        if p256dh is None:
            raise ValueError
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
        if len(p256dh) != 65:
            raise ValueError
    except ValueError:
        problems.append(str(_("The key p256dh is not a P-256 public key.")))
    auth = _b64decode(keys.get("auth"))
    if auth is None or len(auth) != 16:
        problems.append(str(_("The auth secret must be 16 bytes.")))
    return problems


def push_subscribe(
    *, member: Member, subscription: dict[str, Any], user_agent: str = ""
) -> PushSubscription:
    """Store a browser's PushSubscription (``{endpoint, keys: {p256dh, auth}}``) for ``member``
    and turn their push consent on.

    Idempotent by endpoint: the same browser again updates its row (and moves it
    to this member if someone else had subscribed on it). Bad input raises
    ``InvalidInput`` and changes nothing.
    """
    if not isinstance(subscription, dict):
        raise InvalidInput({"subscription": [str(_("Send the browser's push subscription."))]})
    fields: dict[str, list[str]] = {}
    endpoint = subscription.get("endpoint")
    try:
        push_endpoint_origin(endpoint)
    except EndpointRefused as refused:
        fields["endpoint"] = [str(refused)]
    keys_problems = _keys_problems(subscription.get("keys"))
    if keys_problems:
        fields["keys"] = keys_problems
    if fields:
        raise InvalidInput(fields)
    keys = subscription["keys"]
    endpoint = str(endpoint)
    with transaction.atomic():
        # The member's row first: a concurrent unsubscribe of their last browser
        # must not turn consent off after this one turned it on.
        locked = Member.objects.select_for_update().only("consent_push").get(pk=member.pk)
        PushSubscription.objects.bulk_create(
            [
                PushSubscription(
                    member=member,
                    endpoint=endpoint,
                    p256dh=keys["p256dh"],
                    auth=keys["auth"],
                    user_agent=(user_agent or "")[:300],
                )
            ],
            update_conflicts=True,
            unique_fields=["endpoint"],
            update_fields=["member", "p256dh", "auth", "user_agent"],
        )
        row = PushSubscription.objects.get(endpoint=endpoint)
        # A browser that is no longer used never says so; the oldest make room.
        stale = PushSubscription.objects.filter(member=member).order_by("-id")[MAX_SUBSCRIPTIONS:]
        PushSubscription.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
        if not locked.consent_push:
            Member.objects.filter(pk=member.pk).update(consent_push=True, updated_at=timezone.now())
        member.consent_push = True
    return row


def push_unsubscribe(*, member: Member, endpoint: str) -> None:
    """Forget the member's browser at ``endpoint``; with no browser left, push consent is off.

    Harmless to repeat, and for an endpoint that is not theirs it changes nothing
    but their consent (off when they have no browser left).
    """
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=member.pk).first()
        PushSubscription.objects.filter(member=member, endpoint=endpoint).delete()
        if not PushSubscription.objects.filter(member=member).exists():
            Member.objects.filter(pk=member.pk, consent_push=True).update(
                consent_push=False, updated_at=timezone.now()
            )
            member.consent_push = False


# Delivery


class PushFailed(Exception):
    """No browser accepted the message, and trying again later may work."""


# Push services must accept 4096 bytes of encrypted message (RFC 8030), and notifications
# show a few lines anyway: longer texts are cut (in characters, at most 3 UTF-8 bytes each
# for the texts we ship; the link is a URL of ours).
TITLE_CHARS = 120
BODY_CHARS = 600


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def push_payload(notification: Notification) -> bytes:
    """What the service worker receives: ``{"title", "body", "url"}``."""
    payload = {
        "title": _cut(notification.part("title"), TITLE_CHARS),
        "body": _cut(notification.part("body"), BODY_CHARS),
        "url": notification.part("link"),
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def _subscriptions(notification: Notification) -> list[PushSubscription]:
    # The outbox prefetches them with the batch it claimed (one query per batch).
    return list(notification.member.push_subscriptions.all())


def _failure(error: requests.RequestException) -> str:
    """What went wrong, in a few words: the guard's reason when it refused the address."""
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, AddressRefused):
            return str(cause)
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return type(error).__name__


class PushSender:
    """Sends a delivery run's push messages over one HTTP session, with one VAPID token per
    push service."""

    def __init__(self) -> None:
        # Connects only to public addresses (unless PUSH_ALLOW_PRIVATE_HOSTS), never redirected.
        self.session = GuardedSession(guard_addresses=not push_private_hosts_allowed())
        self.tokens: dict[str, dict[str, str]] = {}
        self.vapid: Vapid02 | None = None
        self.key_error = ""
        if push_enabled():
            try:
                self.vapid = Vapid02.from_string(settings.VAPID_PRIVATE_KEY)
            except Exception as error:
                # A configuration mistake: the rows fail (and retry) with it in plain view.
                self.key_error = f"VAPID_PRIVATE_KEY is not a usable key ({error})."
                logger.error("web push: %s", self.key_error)

    def _headers(self, audience: str) -> dict[str, str]:
        if audience not in self.tokens:
            assert self.vapid is not None  # send() checked it
            claims = {
                "sub": settings.VAPID_SUBJECT,
                "aud": audience,
                "exp": int(time.time()) + VAPID_TOKEN_SECONDS,
            }
            self.tokens[audience] = self.vapid.sign(claims)
        return dict(self.tokens[audience])

    def refusal(self, notification: Notification) -> str:
        """Why this message must not go out (stored on the skipped row); empty if it may."""
        if not notification.member.consent_push:
            return "The member does not consent to push notifications (anymore)."
        if not push_enabled():
            return "Web push is not configured (no VAPID keys)."
        if not _subscriptions(notification):
            return "The member has no push subscription (left)."
        return ""

    def send(self, notification: Notification) -> None:
        if self.vapid is None:
            raise PushFailed(self.key_error)
        rows = _subscriptions(notification)
        data = push_payload(notification)
        delivered: list[int] = []
        failed: list[int] = []
        refused: list[int] = []
        gone: list[int] = []
        errors: list[str] = []
        for row in rows:
            try:
                origin = push_endpoint_origin(row.endpoint)
            except EndpointRefused as refusal:
                # Stored before the rule was, or PUSH_ENDPOINT_HOSTS changed: kept, not sent.
                refused.append(row.pk)
                errors.append(f"push subscription {row.pk}: {refusal}")
                continue
            host = origin.split("://", 1)[1]
            try:
                response = WebPusher(row.info(), requests_session=self.session).send(
                    data,
                    self._headers(origin),
                    ttl=settings.PUSH_TTL_SECONDS,
                    content_encoding="aes128gcm",
                    timeout=TIMEOUT,
                )
            except requests.RequestException as error:
                failed.append(row.pk)
                errors.append(f"{host}: {_failure(error)}")
                continue
            assert isinstance(response, requests.Response)
            if response.status_code in GONE:
                gone.append(row.pk)
            elif 200 <= response.status_code < 300:
                delivered.append(row.pk)
            else:
                # A redirect too: it is not followed (it could point anywhere).
                failed.append(row.pk)
                reason = response.text[:200].strip()
                errors.append(f"{host}: HTTP {response.status_code} {reason}")
        self._record(delivered=delivered, failed=failed + refused, gone=gone)
        if delivered:
            if errors:
                logger.warning("push %s missed some browsers: %s", notification.pk, errors)
            return
        if failed:
            raise PushFailed("; ".join(errors))
        if refused:
            raise Undeliverable("No push endpoint of the member may be used: " + "; ".join(errors))
        raise Undeliverable("Every push subscription of the member is gone (404/410).")

    def _record(self, *, delivered: list[int], failed: list[int], gone: list[int]) -> None:
        if delivered:
            PushSubscription.objects.filter(pk__in=delivered).update(
                last_success_at=timezone.now(), failure_count=0
            )
        if failed:
            PushSubscription.objects.filter(pk__in=failed).update(
                failure_count=F("failure_count") + 1
            )
        if gone:
            PushSubscription.objects.filter(pk__in=gone).delete()

    def close(self) -> None:
        self.session.close()
