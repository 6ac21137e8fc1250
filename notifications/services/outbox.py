"""The notification outbox: written in the event's transaction, delivered after commit.

What it guarantees:
- Never twice by replay: a member has at most one row per dedupe key
  (``"<event>:<occasion>:<channel>"``, a unique constraint); enqueueing the same
  occasion again writes nothing.
- Service notices (``NOTICE_EVENTS``, ``notice_enqueue``) go by email to the address the
  row names, whatever the member's consent: the old address hears of an email change.
- Never twice by concurrent workers: a delivery run claims due rows with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and stamps them with its own claim
  token; only the run holding the token may send a row.
- At most once: a row is committed as ``sending`` before its message is handed
  to the backend, and marked ``sent`` after. A clean failure (the backend
  raised) puts it back to ``pending`` with exponential backoff, up to
  ``NOTIFICATIONS_MAX_ATTEMPTS``, then ``failed``. If the process dies between
  ``sending`` and ``sent`` nobody knows whether the message left, so the row is
  not retried by itself: past ``NOTIFICATIONS_SENDING_TIMEOUT_SECONDS`` it
  becomes ``failed`` with that explanation, and staff may resend it from the
  admin. (The one duplicate no outbox can rule out: a mail server that
  accepted a message and then failed to say so, e.g. a timeout after DATA;
  that counts as a clean failure and is retried.)
- Push (``notifications.services.push``): a row goes to each of the member's
  subscribed browsers; it is sent when one accepted it, retried when none did
  for a reason that may pass, skipped when every browser is gone.
- Nothing lost when the broker is down: handing the rows to Celery after
  commit is best effort; the ``notifications-deliver`` beat job delivers every
  due pending row each minute, and rows a dead worker claimed become due again
  after ``NOTIFICATIONS_CLAIM_SECONDS``.
- The event's transaction never fails because of a notification: rendering
  falls back to the shipped template, a database error rolls back only the
  outbox insert (a savepoint), and the after-commit hand-off logs its errors.
  Only a programming error (an unknown event or variable, a model instance
  passed as a value) raises.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Member
from loyalty.storage import accounts, unit
from notifications import rendering
from notifications.models import (
    NOTICE_EVENTS,
    Channel,
    Event,
    Notification,
    PushSubscription,
    switched_off,
)
from notifications.services.claims import claim_due
from notifications.services.email import EmailSender
from notifications.services.push import PushSender, push_enabled
from notifications.services.sending import Undeliverable
from notifications.services.templates import language_for, templates_render
from notifications.services.unsubscribe import unsubscribe_url

logger = logging.getLogger(__name__)

Status = Notification.Status

INTERRUPTED = (
    "Delivery was interrupted after the message was handed to the sender, so it may or may "
    "not have been sent. It is not retried automatically, to never send it twice; resend it "
    "if the member did not get it."
)
# Stop claiming new batches after this long, well inside the task's time limit.
RUN_SECONDS = 240
DEDUPE_KEY_LENGTH = Notification._meta.get_field("dedupe_key").max_length or 300
# The URL name of a shop's customer profile page (its sign-in when not signed in).
PROFILE_URL_NAME = "profile:merchant"


class Sender(Protocol):
    def refusal(self, notification: Notification) -> str: ...

    def send(self, notification: Notification) -> None: ...

    def close(self) -> None: ...


# One sender per channel that can be delivered; rows of other channels wait, pending.
SENDERS: dict[str, Callable[[], Sender]] = {Channel.EMAIL: EmailSender, Channel.PUSH: PushSender}


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def max_attempts() -> int:
    return _setting("NOTIFICATIONS_MAX_ATTEMPTS", 6)


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the ``attempts``-th failure: base, 2 x base, 4 x base, ..."""
    base = _setting("NOTIFICATIONS_RETRY_BASE_SECONDS", 60)
    return timedelta(seconds=base * 2 ** max(attempts - 1, 0))


def profile_url(merchant_slug: str) -> str:
    path = reverse(PROFILE_URL_NAME, kwargs={"slug": merchant_slug})
    return settings.SITE_URL.rstrip("/") + path


# Writing


def member_channels(member: Member, *, subscribed: set[int] | None = None) -> list[str]:
    """The channels a member agreed to and we can reach them on (push: a browser of theirs
    is subscribed and push is configured). A batch passes ``subscribed`` (from
    ``push_subscribed``) to ask once for all its members."""
    channels = []
    if member.consent_email and member.email:
        channels.append(Channel.EMAIL.value)
    if member.consent_push and push_enabled():
        if (
            member.pk in subscribed
            if subscribed is not None
            else accounts.push(accounts.account(member))
        ):
            channels.append(Channel.PUSH.value)
    return channels


def push_subscribed(member_ids: list[int]) -> set[int]:
    """Which of these members have a browser subscribed to push (one query; none when push
    is not configured)."""
    if not push_enabled() or not member_ids:
        return set()
    return set(
        PushSubscription.objects.filter(member_id__in=member_ids).values_list(
            "member_id", flat=True
        )
    )


def notification_enqueue(
    *, member: Member, event: str, occasion: str, context: dict[str, Any]
) -> list[Notification]:
    """Write the member's notifications of an event, one per consented channel; deliver them
    after the caller's transaction commits.

    ``occasion`` names this happening of the event (a coupon id, an expiry date
    and offset...): a second call with the same event and occasion writes
    nothing. ``context`` holds documented template variables with plain
    values; ``member_name``, ``balance``, ``merchant_name``, ``profile_url``
    and ``unsubscribe_url`` are filled in from the member unless given.
    Returns the rows of the keys that were new to this call (a concurrent writer
    of the same key may get the same row back; it is still sent once).
    """
    if event not in Event.values:
        raise ValueError(f"unknown notification event {event!r}")
    rendering.plain_context(context)  # a programming error raises here, before any write
    if len(f"{event}:{occasion}:{Channel.EMAIL}") > DEDUPE_KEY_LENGTH:
        raise ValueError(f"occasion {occasion[:40]!r}... is too long for a dedupe key")
    channels = member_channels(member)
    if channels:
        # The merchant is read for the rendering anyway: the switch costs no query.
        channels = switched_off(member.program.merchant.notifications_off, event, channels)
    if not channels:
        return []
    if unit.current() is not None:
        # In the order path: the rows wait for the unit's flush, where a key written before
        # is kept once (ON CONFLICT DO NOTHING); the hand-off goes with the commit.
        rows = _rows(member=member, event=event, occasion=occasion, channels=channels,
                     context=context)  # fmt: skip
        unit.after_commit(_hand_off, unit.add_unless_present(rows))
        return rows
    try:
        with transaction.atomic():
            created = _write(
                member=member, event=event, occasion=occasion, channels=channels, context=context
            )
    except DatabaseError:
        logger.exception("notification %s:%s for member %s not written", event, occasion, member.pk)
        return []
    if created:
        unit.after_commit(_hand_off, [row.pk for row in created])
    return created


def notice_enqueue(
    *, member: Member, event: str, occasion: str, to: str, context: dict[str, Any] | None = None
) -> list[Notification]:
    """Write a service notice (an event of ``NOTICE_EVENTS``) to the address ``to``, by email,
    whatever the member's consent; delivered after the caller's transaction commits.

    Otherwise as ``notification_enqueue``: one row per occasion, and the event's transaction
    never fails because of it.
    """
    if event not in NOTICE_EVENTS:
        raise ValueError(f"{event!r} is not a service notice")
    context = context or {}
    rendering.plain_context(context)  # a programming error raises here, before any write
    try:
        with transaction.atomic():
            created = _write(
                member=member,
                event=event,
                occasion=occasion,
                channels=[Channel.EMAIL.value],
                context=context,
                to=to,
            )
    except DatabaseError:
        logger.exception("notice %s:%s for member %s not written", event, occasion, member.pk)
        return []
    if created:
        unit.after_commit(_hand_off, [row.pk for row in created])
    return created


def _write(
    *,
    member: Member,
    event: str,
    occasion: str,
    channels: list[str],
    context: dict[str, Any],
    to: str = "",
) -> list[Notification]:
    keys = {channel: f"{event}:{occasion}:{channel}" for channel in channels}
    existing = set(
        Notification.objects.filter(member=member, dedupe_key__in=keys.values()).values_list(
            "dedupe_key", flat=True
        )
    )
    channels = [channel for channel in channels if keys[channel] not in existing]
    if not channels:
        return []
    rows = _rows(
        member=member, event=event, occasion=occasion, channels=channels, context=context, to=to
    )
    # A concurrent writer of the same key wins quietly: ignore_conflicts.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    written = [keys[channel] for channel in channels]
    return list(Notification.objects.filter(member=member, dedupe_key__in=written).order_by("id"))


def _rows(
    *,
    member: Member,
    event: str,
    occasion: str,
    channels: list[str],
    context: dict[str, Any],
    to: str = "",
) -> list[Notification]:
    """The member's notifications of the event on these channels, rendered, not written."""
    merchant = member.program.merchant
    values = rendering.plain_context(
        {
            "member_name": member.name,
            # An F() expression (a balance updated in the database only) is not shown.
            "balance": member.balance if isinstance(member.balance, int) else "",
            "merchant_name": merchant.name,
            "profile_url": profile_url(merchant.slug),
            "unsubscribe_url": unsubscribe_url(member=member),
            **context,
        }
    )
    language = language_for(member.locale)
    rendered = templates_render(
        merchant_id=merchant.pk, event=event, channels=channels, language=language, values=values
    )
    return [
        Notification(
            member=member,
            event=event,
            channel=channel,
            dedupe_key=f"{event}:{occasion}:{channel}",
            language=language,
            to_address=to,
            context=values,
            content=rendered[channel],
        )
        for channel in channels
    ]


def _hand_off(ids: list[int]) -> None:
    """After commit: ask a worker to deliver now. Best effort; the beat job is the safety net.
    The task is found by its name in the Celery app: the tasks module imports this one."""
    try:
        current_app.tasks["notifications.tasks.deliver"].delay(ids=ids)
    except Exception:
        logger.warning(
            "notifications %s not handed to the task queue; the scheduled delivery will send them",
            ids,
            exc_info=True,
        )


def notifications_resend(*, notifications: QuerySet[Notification]) -> int:
    """Put failed notifications back in the queue with fresh attempts; others are untouched
    (a sent row is never sent again). Returns how many were queued."""
    ids = list(notifications.filter(status=Status.FAILED).values_list("pk", flat=True))
    count = Notification.objects.filter(pk__in=ids, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), claim=None
    )
    if count:
        unit.after_commit(_hand_off, ids)
    return count


# Delivering


def notifications_deliver(*, ids: list[int] | None = None, batch_size: int = 100) -> int:
    """Send the due pending notifications (only ``ids`` when given); return how many were sent.

    Safe to run concurrently and twice: rows are claimed with SKIP LOCKED, and
    a row is marked ``sending`` before it is sent, so no run sends it again.
    """
    notifications_fail_interrupted()
    started = timezone.now()
    senders: dict[str, Sender] = {}
    sent = 0
    try:
        while timezone.now() - started < timedelta(seconds=RUN_SECONDS):
            token, rows = _claim(ids=ids, batch_size=batch_size)
            if not rows:
                break
            for row in rows:
                if row.channel not in senders:
                    senders[row.channel] = SENDERS[row.channel]()
                sent += _deliver_one(row, token, senders[row.channel])
    finally:
        for sender in senders.values():
            sender.close()
    return sent


def notifications_fail_interrupted() -> int:
    """Rows left ``sending`` past their deadline (their worker died mid-send) become failed."""
    return Notification.objects.filter(
        status=Status.SENDING, next_attempt_at__lt=timezone.now()
    ).update(status=Status.FAILED, claim=None, last_error=INTERRUPTED)


def _claim(*, ids: list[int] | None, batch_size: int) -> tuple[uuid.UUID, list[Notification]]:
    pending = Notification.objects.filter(status=Status.PENDING, channel__in=list(SENDERS))
    token, picked = claim_due(pending, ids=ids, batch_size=batch_size)
    rows = (
        Notification.objects.filter(pk__in=picked, claim=token)
        .select_related("member")
        .prefetch_related("member__push_subscriptions")
    )
    return token, list(rows.order_by("id"))


def _deliver_one(row: Notification, token: uuid.UUID, sender: Sender) -> int:
    mine = Notification.objects.filter(pk=row.pk, claim=token)
    refusal = sender.refusal(row)
    if refusal:
        mine.filter(status=Status.PENDING).update(
            status=Status.SKIPPED, claim=None, last_error=refusal
        )
        return 0
    deadline = timezone.now() + timedelta(
        seconds=_setting("NOTIFICATIONS_SENDING_TIMEOUT_SECONDS", 900)
    )
    # Committed before sending (autocommit): from here on, no run will send it again.
    if not mine.filter(status=Status.PENDING).update(
        status=Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=deadline
    ):
        return 0  # our lease ran out and another run took the row
    attempts = row.attempts + 1
    try:
        sender.send(row)
    except SoftTimeLimitExceeded:
        raise  # cut off mid-send: it stays "sending" and is never retried by itself
    except Undeliverable as error:
        mine.filter(status=Status.SENDING).update(
            status=Status.SKIPPED, claim=None, last_error=str(error)[:2000]
        )
        return 0
    except Exception as error:
        _failed(row, mine, attempts=attempts, error=error)
        return 0
    mine.filter(status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), claim=None, last_error=""
    )
    return 1


def _failed(
    row: Notification, mine: QuerySet[Notification], *, attempts: int, error: Exception
) -> None:
    message = f"{type(error).__name__}: {error}"[:2000]
    if attempts >= max_attempts():
        logger.error("notification %s failed after %s attempts: %s", row.pk, attempts, message)
        mine.filter(status=Status.SENDING).update(
            status=Status.FAILED, claim=None, last_error=message
        )
        return
    logger.warning("notification %s failed (attempt %s), retrying: %s", row.pk, attempts, message)
    mine.filter(status=Status.SENDING).update(
        status=Status.PENDING,
        claim=None,
        next_attempt_at=timezone.now() + retry_delay(attempts),
        last_error=message,
    )
