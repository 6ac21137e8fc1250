"""Webhooks: events POSTed, signed, to the endpoints merchants register.

What it guarantees (the email outbox's rules, ``notifications.services.outbox``):
- Never twice by replay: an endpoint has at most one delivery per
  ``"<event>:<occasion>"`` (a unique constraint); enqueueing the same occasion
  again writes nothing.
- Never twice by concurrent workers: a delivery run claims due rows with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and stamps them with its own token; only
  the run holding the token may send a row.
- Retried with backoff: a non-2xx answer or a network error puts the row back
  to ``pending`` after ``retry_delay`` (``NOTIFICATIONS_RETRY_BASE_SECONDS``),
  up to ``NOTIFICATIONS_MAX_ATTEMPTS``, then ``failed`` with the status code
  and error kept; staff may resend it from the admin. A row left ``sending`` by
  a dead worker counts as a failed attempt and is retried the same way. So a
  receiver may see a delivery twice (as with any webhook: the answer may be
  lost); ``X-Loyalty-Delivery`` is the same each time, deduplicate on it.
- The caller's transaction never fails because of a webhook: a database error
  rolls back only the webhook insert (a savepoint), and the after-commit
  hand-off to Celery is best effort (the ``webhooks-deliver`` beat job sends
  every due row each minute). Only a programming error (an unknown event, a
  payload that is not JSON) raises.

The request: ``POST`` to the endpoint's URL, body
``{"id": <delivery id>, "event": "<event>", "created_at": "<ISO 8601>", "data": {payload}}``
(UTF-8 JSON), headers ``Content-Type: application/json``, ``X-Loyalty-Event``,
``X-Loyalty-Delivery`` (the delivery id), ``X-Loyalty-Timestamp`` (Unix seconds)
and ``X-Loyalty-Signature``. Redirects are not followed.

Verifying a delivery (what a receiver mirrors, see ``webhook_signature``)::

    expected = "sha256=" + hmac.new(
        secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Loyalty-Signature"])

where ``timestamp`` is the ``X-Loyalty-Timestamp`` header as sent and
``raw_body`` the request body's bytes, unparsed. Refuse timestamps more than a
few minutes old to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from loyalty.storage import unit
from notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from notifications.netguard import GuardedHTTPHandler, GuardedHTTPSHandler
from notifications.services.claims import claim_due
from notifications.services.outbox import max_attempts, retry_delay

if TYPE_CHECKING:
    from loyalty.models import LedgerEntry, Member

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

REQUEST_TIMEOUT_SECONDS = 10
# A row still "sending" after this long was interrupted (well past the request timeout).
SENDING_TIMEOUT_SECONDS = 120
# Stop claiming new batches after this long, well inside the task's time limit.
RUN_SECONDS = 240
ERROR_BODY_CHARS = 500
DEDUPE_KEY_LENGTH = WebhookDelivery._meta.get_field("dedupe_key").max_length or 300
INTERRUPTED = "Delivery was interrupted (the worker stopped while sending)."
USER_AGENT = "loyalty-webhooks/1"


def webhook_signature(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The ``X-Loyalty-Signature`` value of a body sent at ``timestamp`` (Unix seconds):
    ``"sha256=" + hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))``."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


# Writing


def webhook_points_earned(
    *, member: Member, entry: LedgerEntry, order: str | None = None, **extra: Any
) -> int:
    """The ``points_earned`` event of one ledger entry: an order's earning, its release
    after the return window, a grant or a bonus (the member holds the new balance)."""
    return webhook_enqueue(
        merchant_id=member.program.merchant_id,
        event=WebhookEvent.POINTS_EARNED,
        occasion=str(entry.pk),
        payload={
            "member": member.external_id,
            "points": entry.points,
            "reason": entry.reason,
            "order": order,
            "balance": member.balance,
            **extra,
        },
    )


_EVENTS = frozenset(WebhookEvent.values)  # ``WebhookEvent.values`` builds a new list each time


def webhook_enqueue(*, merchant_id: int, event: str, occasion: str, payload: dict[str, Any]) -> int:
    """Write a delivery of ``event`` for each of the merchant's active endpoints subscribed to
    it; send them after the caller's transaction commits. Returns how many rows were written.

    ``occasion`` names this happening of the event (an order id, a coupon id...):
    a second call with the same event and occasion writes nothing. ``payload``
    is the delivery's ``data``: plain JSON values (dates and decimals are turned
    into strings).
    """
    if event not in _EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    key = f"{event}:{occasion}"
    if len(key) > DEDUPE_KEY_LENGTH:
        raise ValueError(f"occasion {occasion[:40]!r}... is too long for a dedupe key")
    snapshot = _endpoints_snapshot.get()
    if snapshot is not None and merchant_id in snapshot and not _endpoints_for(merchant_id, event):
        return 0  # known to have no endpoint for it: not even a savepoint's round trips
    # A programming error raises here, before any write; stored as it will be sent.
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    if unit.current() is not None:
        # In the order path: the rows wait for the unit's flush, where a key written before
        # is kept once (ON CONFLICT DO NOTHING); the hand-off goes with the commit.
        rows = [
            WebhookDelivery(endpoint_id=pk, event=event, dedupe_key=key, payload=data)
            for pk in _endpoints_for(merchant_id, event)
        ]
        unit.after_commit(webhooks_hand_off, unit.add_unless_present(rows))
        return len(rows)
    try:
        with transaction.atomic():
            ids = _write(merchant_id=merchant_id, event=event, key=key, data=data)
    except DatabaseError:
        logger.exception("webhook %s for merchant %s not written", key, merchant_id)
        return 0
    unit.after_commit(webhooks_hand_off, ids)
    return len(ids)


# Within ``webhook_endpoints_snapshot()``: each merchant's active endpoints and their events,
# read once. An order enqueues two events and a batch of orders many more; without it each
# enqueue asks the database for the endpoints again.
_endpoints_snapshot: ContextVar[dict[int, list[tuple[int, list[str]]]] | None] = ContextVar(
    "webhook_endpoints_snapshot", default=None
)


@contextmanager
def webhook_endpoints_snapshot(*, merchant_id: int | None = None) -> Iterator[None]:
    """Read each merchant's webhook endpoints once for the duration of the block (one API
    request): an endpoint added meanwhile gets the events of the next request on.

    With ``merchant_id`` its endpoints are read here, before the caller's transaction, so
    an event with no endpoint costs no query (not even a savepoint) inside it.
    """
    token = _endpoints_snapshot.set({})
    try:
        if merchant_id is not None:
            _endpoints_for(merchant_id, "")
        yield
    finally:
        _endpoints_snapshot.reset(token)


def _endpoints_for(merchant_id: int, event: str) -> list[int]:
    snapshot = _endpoints_snapshot.get()
    if snapshot is None:
        return list(
            WebhookEndpoint.objects.filter(
                merchant_id=merchant_id, active=True, events__contains=[event]
            ).values_list("pk", flat=True)
        )
    if merchant_id not in snapshot:
        snapshot[merchant_id] = _endpoints_cached(merchant_id)
    return [pk for pk, events in snapshot[merchant_id] if event in events]


# Across requests, per process: merchant id -> (read at, endpoints). Endpoints change rarely
# and orders arrive all the time, so each web process reads them at most once every
# WEBHOOK_ENDPOINTS_CACHE_SECONDS; a change in the admin reaches every process within that.
_endpoints_cache: dict[int, tuple[float, list[tuple[int, list[str]]]]] = {}


def _endpoints_cached(merchant_id: int) -> list[tuple[int, list[str]]]:
    ttl = settings.WEBHOOK_ENDPOINTS_CACHE_SECONDS
    now = time.monotonic()
    cached = _endpoints_cache.get(merchant_id)
    if ttl > 0 and cached is not None and now - cached[0] < ttl:
        return cached[1]
    endpoints = list(
        WebhookEndpoint.objects.filter(merchant_id=merchant_id, active=True)
        .order_by("pk")
        .values_list("pk", "events")
    )
    if ttl > 0:
        _endpoints_cache[merchant_id] = (now, endpoints)
    return endpoints


def webhook_endpoints_forget() -> None:
    """Drop this process's cached endpoints (the next request reads them again)."""
    _endpoints_cache.clear()


def _write(*, merchant_id: int, event: str, key: str, data: dict[str, Any]) -> list[int]:
    endpoints = _endpoints_for(merchant_id, event)
    if not endpoints:
        return []
    existing = set(
        WebhookDelivery.objects.filter(endpoint_id__in=endpoints, dedupe_key=key).values_list(
            "endpoint_id", flat=True
        )
    )
    new = [pk for pk in endpoints if pk not in existing]
    if not new:
        return []
    rows = [
        WebhookDelivery(endpoint_id=pk, event=event, dedupe_key=key, payload=data) for pk in new
    ]
    # A concurrent writer of the same key wins quietly: ignore_conflicts.
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        WebhookDelivery.objects.filter(endpoint_id__in=new, dedupe_key=key)
        .order_by("id")
        .values_list("pk", flat=True)
    )


def webhooks_hand_off(ids: list[int]) -> None:
    """After commit: ask a worker to deliver now. Best effort; the beat job is the safety net.
    The task is found by its name in the Celery app: the tasks module imports this one."""
    try:
        current_app.tasks["notifications.tasks.deliver_webhooks"].delay(ids=ids)
    except Exception:
        logger.warning(
            "webhooks %s not handed to the task queue; the scheduled delivery will send them",
            ids,
            exc_info=True,
        )


def webhooks_resend(*, deliveries: QuerySet[WebhookDelivery]) -> int:
    """Put failed deliveries back in the queue with fresh attempts; others are untouched.
    Returns how many were queued."""
    ids = list(deliveries.filter(status=Status.FAILED).values_list("pk", flat=True))
    count = WebhookDelivery.objects.filter(pk__in=ids, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), claim=None
    )
    if count:
        unit.after_commit(webhooks_hand_off, ids)
    return count


# Delivering


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any non-2xx: urllib would re-send a POST as a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# Connections only to public addresses, checked on the address actually connected to.
_opener = urllib.request.build_opener(_NoRedirect, GuardedHTTPHandler, GuardedHTTPSHandler)


def webhooks_deliver(*, ids: list[int] | None = None, batch_size: int = 100) -> int:
    """Send the due pending deliveries (only ``ids`` when given); return how many were sent.

    Safe to run concurrently and twice: rows are claimed with SKIP LOCKED and
    marked ``sending`` before the request, so no other run sends them meanwhile.
    """
    webhooks_recover_interrupted()
    started = timezone.now()
    sent = 0
    while timezone.now() - started < timedelta(seconds=RUN_SECONDS):
        token, rows = _claim(ids=ids, batch_size=batch_size)
        if not rows:
            break
        for row in rows:
            sent += _deliver_one(row, token)
    return sent


def webhooks_recover_interrupted() -> int:
    """Rows left ``sending`` past their deadline (their worker died): a failed attempt."""
    stuck = WebhookDelivery.objects.filter(
        status=Status.SENDING, next_attempt_at__lt=timezone.now()
    )
    failed = stuck.filter(attempts__gte=max_attempts()).update(
        status=Status.FAILED, claim=None, last_error=INTERRUPTED
    )
    retried = stuck.filter(attempts__lt=max_attempts()).update(
        status=Status.PENDING, claim=None, last_error=INTERRUPTED
    )
    return failed + retried


def _claim(*, ids: list[int] | None, batch_size: int) -> tuple[uuid.UUID, list[WebhookDelivery]]:
    pending = WebhookDelivery.objects.filter(status=Status.PENDING)
    token, picked = claim_due(pending, ids=ids, batch_size=batch_size)
    rows = WebhookDelivery.objects.filter(pk__in=picked, claim=token).select_related("endpoint")
    return token, list(rows.order_by("id"))


def _deliver_one(row: WebhookDelivery, token: uuid.UUID) -> int:
    mine = WebhookDelivery.objects.filter(pk=row.pk, claim=token)
    deadline = timezone.now() + timedelta(seconds=SENDING_TIMEOUT_SECONDS)
    # Committed before sending (autocommit): no other run sends it meanwhile.
    if not mine.filter(status=Status.PENDING).update(
        status=Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=deadline
    ):
        return 0  # our lease ran out and another run took the row
    attempts = row.attempts + 1
    try:
        code = _post(row)
    except SoftTimeLimitExceeded:
        raise  # cut off mid-request: recovered as an interrupted attempt
    except urllib.error.HTTPError as error:
        detail = error.read(ERROR_BODY_CHARS).decode("utf-8", "replace")
        _failed(
            row, mine, attempts=attempts, code=error.code, message=f"HTTP {error.code}: {detail}"
        )
        return 0
    except Exception as error:
        _failed(row, mine, attempts=attempts, code=None, message=f"{type(error).__name__}: {error}")
        return 0
    if not 200 <= code < 300:
        _failed(row, mine, attempts=attempts, code=code, message=f"HTTP {code}")
        return 0
    mine.filter(status=Status.SENDING).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        claim=None,
        last_status_code=code,
        last_error="",
    )
    return 1


def webhook_body(row: WebhookDelivery) -> bytes:
    envelope = {
        "id": row.pk,
        "event": row.event,
        "created_at": row.created_at.isoformat(),
        "data": row.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def _post(row: WebhookDelivery) -> int:
    """POST the delivery; the answer's status code (a non-2xx one may also raise HTTPError)."""
    request = webhook_request(
        url=row.endpoint.url,
        secret=row.endpoint.secret,
        event=row.event,
        delivery=str(row.pk),
        body=webhook_body(row),
    )
    with webhook_open(request) as response:
        status: int = response.status
        return status


def webhook_request(
    *, url: str, secret: str, event: str, delivery: str, body: bytes
) -> urllib.request.Request:
    """The signed ``POST`` of ``body`` to ``url``, signed now (the module docstring's headers)."""
    timestamp = int(time.time())
    return urllib.request.Request(  # noqa: S310 - the URL's scheme is validated on the model
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Loyalty-Event": event,
            "X-Loyalty-Delivery": delivery,
            "X-Loyalty-Timestamp": str(timestamp),
            "X-Loyalty-Signature": webhook_signature(secret, timestamp, body),
        },
    )


def webhook_open(request: urllib.request.Request) -> Any:
    """Send it through the guarded opener: public addresses only, no redirects followed."""
    return _opener.open(request, timeout=REQUEST_TIMEOUT_SECONDS)


def _failed(
    row: WebhookDelivery,
    mine: QuerySet[WebhookDelivery],
    *,
    attempts: int,
    code: int | None,
    message: str,
) -> None:
    message = message[:2000]
    if attempts >= max_attempts():
        logger.error("webhook %s failed after %s attempts: %s", row.pk, attempts, message)
        mine.filter(status=Status.SENDING).update(
            status=Status.FAILED, claim=None, last_status_code=code, last_error=message
        )
        return
    logger.warning("webhook %s failed (attempt %s), retrying: %s", row.pk, attempts, message)
    mine.filter(status=Status.SENDING).update(
        status=Status.PENDING,
        claim=None,
        next_attempt_at=timezone.now() + retry_delay(attempts),
        last_status_code=code,
        last_error=message,
    )
