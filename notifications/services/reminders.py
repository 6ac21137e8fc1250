"""Expiry reminders: 'your points expire on 3 March' at each of the program's offsets.

Rules:
- each member gets each reminder once per expiry date: the notification's occasion
  is "<expiry date>:<offset>", and the outbox refuses a second one;
- a job that ran late or missed days sends only the nearest due reminder (the
  smallest offset whose moment has come), never a burst of the ones it missed;
- a new order that moves the date makes the old reminders moot: the new date
  makes new occasions, and the old date is no longer anyone's.
"""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from loyalty.models import Member, Program
from loyalty.selectors import points_expiring
from notifications.models import Event
from notifications.services.outbox import notification_enqueue


def nearest_due_offset(*, expire_at: datetime, offsets: list[int], now: datetime) -> int | None:
    """The smallest offset (days before expiry) whose reminder moment has come, if any."""
    due = [days for days in offsets if expire_at - timedelta(days=days) <= now < expire_at]
    return min(due) if due else None


def reminders_send(*, now: datetime | None = None, chunk_size: int = 500) -> int:
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
            .order_by("points_expire_at", "id")
        )
        for member in members.iterator(chunk_size=chunk_size):
            member.program = program
            assert member.points_expire_at is not None
            offset = nearest_due_offset(expire_at=member.points_expire_at, offsets=offsets, now=now)
            if offset is None:
                continue
            expire_at, points = points_expiring(member=member)
            if not points or expire_at is None:
                continue
            written = notification_enqueue(
                member=member,
                event=Event.POINTS_EXPIRING,
                occasion=f"{timezone.localdate(expire_at).isoformat()}:{offset}",
                context={"expiring_points": points, "expiry_date": timezone.localdate(expire_at)},
            )
            reminded += bool(written)
    return reminded
