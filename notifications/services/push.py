"""Web push: members' browser subscriptions, and the push channel of the outbox.

What it keeps:
- Push is on iff both VAPID keys are configured (``VAPID_PUBLIC_KEY``,
  ``VAPID_PRIVATE_KEY``); without them no push row is written and
  ``push_public_key()`` is None, so the profile page offers no push button.
- A subscription is stored only when it is one a browser could have made: an
  endpoint on a known push service (``PUSH_ENDPOINT_HOSTS``; the server POSTs to
  it, so an arbitrary address would let anyone aim it at internal services) and
  a valid P-256 key and 16-byte auth secret. One row per endpoint: subscribing
  again updates it; at most ``MAX_SUBSCRIPTIONS`` browsers per member.
- ``consent_push`` follows the member's choice: on when they subscribe a
  browser, off when they unsubscribe the last one.
- Delivery (``PushSender``, used by the outbox): each message is encrypted for
  each of the member's browsers (RFC 8291, aes128gcm) and signed with VAPID
  (RFC 8292). A browser the push service reports gone (404/410) is deleted. A
  push notification is sent when at least one browser accepted it; browsers
  that failed are counted on their subscription and not retried for that
  message, so no browser ever gets it twice. When none accepted it and some
  failure may pass (5xx, 429, a network error), the outbox retries the whole
  message with backoff; when every browser is gone it is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
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

from loyalty.errors import InvalidInput
from loyalty.models import Member
from notifications.models import LOCAL_HOSTS, Notification, PushSubscription
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


def _endpoint_problem(endpoint: Any) -> str | None:
    if not isinstance(endpoint, str) or not endpoint:
        return str(_("The subscription has no endpoint."))
    if len(endpoint) > ENDPOINT_LENGTH:
        return str(_("The endpoint address is too long."))
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        return str(_("The endpoint is not a valid address."))
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS)
    known = any(
        host == allowed or host.endswith("." + allowed) for allowed in settings.PUSH_ENDPOINT_HOSTS
    )
    if not (secure and known):
        return str(_("The endpoint is not the address of a known push service."))
    return None


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
    problem = _endpoint_problem(endpoint)
    if problem:
        fields["endpoint"] = [problem]
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


class PushSender:
    """Sends a delivery run's push messages over one HTTP session, with one VAPID token per
    push service."""

    def __init__(self) -> None:
        self.session = requests.Session()
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

    def _headers(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
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
        gone: list[int] = []
        errors: list[str] = []
        for row in rows:
            try:
                response = WebPusher(row.info(), requests_session=self.session).send(
                    data,
                    self._headers(row.endpoint),
                    ttl=settings.PUSH_TTL_SECONDS,
                    content_encoding="aes128gcm",
                    timeout=TIMEOUT,
                )
            except requests.RequestException as error:
                failed.append(row.pk)
                errors.append(f"{urlsplit(row.endpoint).hostname}: {type(error).__name__}")
                continue
            assert isinstance(response, requests.Response)
            if response.status_code in GONE:
                gone.append(row.pk)
            elif 200 <= response.status_code < 300:
                delivered.append(row.pk)
            else:
                failed.append(row.pk)
                reason = response.text[:200].strip()
                errors.append(
                    f"{urlsplit(row.endpoint).hostname}: HTTP {response.status_code} {reason}"
                )
        self._record(delivered=delivered, failed=failed, gone=gone)
        if delivered:
            if errors:
                logger.warning("push %s missed some browsers: %s", notification.pk, errors)
            return
        if failed:
            raise PushFailed("; ".join(errors))
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
