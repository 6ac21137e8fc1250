"""Expiry reminders: 'your points expire on 3 March' at each of the program's offsets.

Rules:
- each member gets each reminder once per expiry date: the notification's occasion
  is "<expiry date>:<offset>", and the outbox refuses a second one (its unique
  (member, dedupe key) constraint; rows already there are skipped, and a concurrent run's
  rows are ignored on insert);
- a job that ran late or missed days sends only the nearest due reminder (the
  smallest offset whose moment has come), never a burst of the ones it missed;
- a new order that moves the date makes the old reminders moot: the new date
  makes new occasions, and the old date is no longer anyone's.

Set-based: due members are read in chunks in the order of the expiry index, each chunk's
rows are written with one INSERT in its own transaction, and each template is rendered once
per language and shape (``TemplatesBatch``), with each member's own values slotted in.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, F, Q, Sum, Value
from django.utils import timezone

from loyalty.models import Member, PointLot, Program
from loyalty.rules.validity import per_earning
from notifications import rendering
from notifications.models import Event, Notification, switched_off
from notifications.services import outbox
from notifications.services.outbox import member_channels, profile_url, push_subscribed
from notifications.services.templates import TemplatesBatch, language_for
from notifications.services.unsubscribe import unsubscribe_urls

EVENT = Event.POINTS_EXPIRING.value


def nearest_due_offset(*, expire_at: datetime, offsets: list[int], now: datetime) -> int | None:
    """The smallest offset (days before expiry) whose reminder moment has come, if any."""
    due = [days for days in offsets if expire_at - timedelta(days=days) <= now < expire_at]
    return min(due) if due else None


def reminders_send(*, now: datetime | None = None, chunk_size: int = 1000) -> int:
    """Write the due reminders of every program; returns how many members were reminded."""
    now = now or timezone.now()
    reminded = 0
    programs = Program.objects.filter(points_validity_days__isnull=False).select_related("merchant")
    for program in programs:
        offsets = [int(days) for days in program.reminder_offsets_days or []]
        if not offsets:
            continue
        members = (
            Member.objects.filter(
                program=program,
                balance__gt=0,
                points_expire_at__gt=now,
                points_expire_at__lte=now + timedelta(days=max(offsets)),
            )
            .filter(Q(consent_email=True) & ~Q(email="") | Q(consent_push=True))
            .only(
                "id",
                "name",
                "email",
                "locale",
                "consent_email",
                "consent_push",
                "balance",
                "points_expire_at",
            )  # fmt: skip
            .order_by("points_expire_at", "id")
        )
        batches: dict[str, TemplatesBatch] = {}
        last: tuple[datetime, int] | None = None
        while True:
            page = members
            if last is not None:  # keyset: resumes where the last chunk ended, on the index
                page = page.filter(
                    Q(points_expire_at__gt=last[0]) | Q(points_expire_at=last[0], id__gt=last[1])
                )
            chunk = list(page[:chunk_size])
            if not chunk:
                break
            last = (chunk[-1].points_expire_at, chunk[-1].pk)  # type: ignore[assignment]
            reminded += _remind_chunk(
                program=program, members=chunk, offsets=offsets, now=now, batches=batches
            )
    return reminded


@transaction.atomic
def _remind_chunk(
    *,
    program: Program,
    members: list[Member],
    offsets: list[int],
    now: datetime,
    batches: dict[str, TemplatesBatch],
) -> int:
    """Remind the chunk's members who reached an offset today; how many were reminded."""
    due: list[tuple[Member, int]] = []
    for member in members:
        assert member.points_expire_at is not None
        offset = nearest_due_offset(expire_at=member.points_expire_at, offsets=offsets, now=now)
        if offset is not None:
            due.append((member, offset))
    if not due:
        return 0
    expiring = _expiring_points(program=program, members=[member for member, _ in due])
    keys: dict[int, tuple[str, list[str]]] = {}
    subscribed = push_subscribed([member.pk for member, _ in due if member.consent_push])
    off = program.merchant.notifications_off
    for member, offset in due:
        if expiring.get(member.pk):
            assert member.points_expire_at is not None
            date = timezone.localdate(member.points_expire_at).isoformat()
            keys[member.pk] = (
                f"{EVENT}:{date}:{offset}",
                switched_off(off, EVENT, member_channels(member, subscribed=subscribed)),
            )
    rows = _reminders(
        program=program,
        members=[member for member, _offset in due if member.pk in keys],
        keys=keys,
        expiring=expiring,
        batches=batches,
    )
    return _insert(rows) if rows else 0


def _reminders(
    *,
    program: Program,
    members: list[Member],
    keys: dict[int, tuple[str, list[str]]],
    expiring: dict[int, int],
    batches: dict[str, TemplatesBatch],
) -> list[Notification]:
    """The notifications to write: each member's occasion (``keys``) on each of its
    channels, less those an earlier run wrote already."""
    existing = set(
        Notification.objects.filter(
            member_id__in=keys,
            dedupe_key__in={f"{occasion}:{c}" for occasion, cs in keys.values() for c in cs},
        ).values_list("member_id", "dedupe_key")
    )
    shared = {
        "merchant_name": program.merchant.name,
        "profile_url": profile_url(program.merchant.slug),
    }
    unsubscribe_url = unsubscribe_urls()
    rows: list[Notification] = []
    for member in members:
        occasion, channels = keys[member.pk]
        channels = [c for c in channels if (member.pk, f"{occasion}:{c}") not in existing]
        if not channels:
            continue
        member.program = program
        values = rendering.plain_context(
            {
                **shared,
                "member_name": member.name,
                "balance": member.balance,
                "unsubscribe_url": unsubscribe_url(member.pk),
                "expiring_points": expiring[member.pk],
                "expiry_date": timezone.localdate(member.points_expire_at),
            }
        )
        language = language_for(member.locale)
        batch = batches.get(language)
        if batch is None:
            batch = batches[language] = TemplatesBatch(
                merchant_id=program.merchant_id, event=EVENT, language=language
            )
        rendered = batch.render(channels=channels, values=values)
        rows.extend(
            Notification(
                member_id=member.pk,
                event=EVENT,
                channel=channel,
                dedupe_key=f"{occasion}:{channel}",
                language=language,
                context=values,
                content=rendered[channel],
            )
            for channel in channels
        )
    return rows


def _insert(rows: list[Notification]) -> int:
    """Write the reminders and hand ours to the outbox after commit; how many members got
    one from this run."""
    # A concurrent run writing the same keys wins quietly: its rows stay, ours are ignored.
    # Our rows are the ones with our stamp (a concurrent run's have its own).
    stamp = timezone.now()
    # A literal expression makes Django insert with VALUES instead of UNNEST arrays: psycopg
    # escapes every quote of every JSON document in an array literal, most of the time here.
    literal = Value(stamp, output_field=DateTimeField())
    for row in rows:
        row.created_at = literal
        row.next_attempt_at = stamp
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    ours = {(row.member_id, row.dedupe_key) for row in rows}
    written = [
        (pk, member_id)
        for pk, member_id, key in Notification.objects.filter(
            member_id__in={row.member_id for row in rows}, created_at=stamp
        ).values_list("pk", "member_id", "dedupe_key")
        if (member_id, key) in ours
    ]
    if written:
        ids = [pk for pk, _member in written]
        # Looked up when called: the benchmark switches the hand-off off to time writing alone.
        transaction.on_commit(lambda: outbox._hand_off(ids))
    return len({member_id for _pk, member_id in written})


def _expiring_points(*, program: Program, members: list[Member]) -> dict[int, int]:
    """How many points each member loses on their next expiry date (one query a chunk in
    per-earning mode, none in reset mode where the whole balance expires together)."""
    if not per_earning(program):
        return {member.pk: member.balance for member in members}
    sums: dict[int, Any] = dict(
        PointLot.objects.filter(
            member_id__in=[member.pk for member in members],
            remaining__gt=0,
            expires_at=F("member__points_expire_at"),
        )
        .values("member_id")
        .annotate(points=Sum("remaining"))
        .values_list("member_id", "points")
    )
    return {member.pk: int(sums.get(member.pk) or 0) for member in members}
