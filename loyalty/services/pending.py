"""Pending points: an order's points wait out the program's return window before they count.

Invariants:
- ``member.balance`` stays the available points, the sum of the member's ledger entries.
  Pending points are not in the ledger: they reach it when they are released, as the
  order's ``earn`` entry (idempotency key ``order:<pk>:earn``, the key an order without a
  window writes at once), so the ledger's unique key makes a second release impossible.
- ``member.pending`` is the sum of ``points`` of the member's pending rows; ``ledger_audit``
  proves it, and that each released row's entry carries exactly its points.
- A refund inside the window takes its points off the pending ones (nothing leaves the
  balance, so points already spent are never touched); once released, a refund reverses
  from the balance as for any order. Either way the order's ``points_reversed`` counts them,
  so partial refunds add up to what the order earned, never more.

Every write here holds the member's lock (``member_lock`` or the job's SKIP LOCKED batch),
so a release and a refund of one order queue up: whichever comes second sees what the first
did. The release job is set-based in batches, commits each batch, and is safe to run twice
or twice at once.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Min, QuerySet
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Order, PendingEarning
from loyalty.rules.validity import earning_expiry
from loyalty.services.conversion import rewards_convert
from loyalty.services.ledger import ledger_append
from loyalty.services.tiers import tier_on_earn
from loyalty.snapshot import program_snapshot
from loyalty.storage import unit
from notifications.models import WebhookEndpoint, WebhookEvent
from notifications.services.webhooks import webhook_points_earned
from rewards.models import RewardThreshold


def pending_hold(
    *,
    member: Member,
    order: Order,
    points: int,
    available_at: datetime,
    reason: str,
    member_updates: dict[str, Any] | None = None,
) -> PendingEarning:
    """Keep an order's points pending until ``available_at``. The member must be locked.

    ``reason`` is the earning's explanation, written into the ledger on release.
    ``member_updates`` are other member columns to set in the same write (the order's
    activity dates).
    """
    row = PendingEarning(
        program_id=member.program_id,
        member=member,
        order=order,
        points=points,
        available_at=available_at,
        created_at=order.created_at,
        reason=reason,
    )
    unit.add(row)
    unit.member_update(member, deltas={"pending": points}, **(member_updates or {}))
    return row


def pending_cancel(*, member: Member, order: Order, points: int) -> int:
    """A refund of ``order`` takes back ``points``: while the order's points are pending, they
    come off the pending ones. Returns how many did (the rest, if any, the caller reverses
    from the balance). The member must be locked."""
    if points <= 0 or member.pending <= 0:
        return 0
    row = PendingEarning.objects.filter(order=order, status=PendingEarning.Status.PENDING).first()
    if row is None:
        return 0
    cancelled = min(points, row.points)
    row.points -= cancelled
    if row.points == 0:
        row.status = PendingEarning.Status.CANCELLED
    row.cancelled += cancelled
    row.save(update_fields=["points", "status", "cancelled"])
    unit.member_update(member, deltas={"pending": -cancelled})
    return cancelled


@dataclass
class ReleaseRun:
    members: int = 0
    earnings: int = 0
    points: int = 0


def pending_release(*, now: datetime | None = None, batch_size: int = 500) -> ReleaseRun:
    """Release every pending earning whose window has ended at ``now``."""
    now = now or timezone.now()
    run = ReleaseRun()
    # Tiers and thresholds read once for the run, not once per member released.
    with program_snapshot():
        while _release_batch(now=now, batch_size=batch_size, run=run):
            pass
    return run


@transaction.atomic
def _release_batch(*, now: datetime, batch_size: int, run: ReleaseRun) -> bool:
    due = PendingEarning.objects.filter(status=PendingEarning.Status.PENDING, available_at__lte=now)
    members = _due_members_locked(due, batch_size=batch_size)
    if not members:
        return False
    # Read after the lock: what a refund committed before it is seen here.
    rows = list(
        due.filter(member_id__in=members)
        .select_related("order")
        .order_by("member_id", "available_at", "id")
    )
    hooked, smallest = _listeners(programs={member.program_id for member in members.values()})
    last_order = _release_rows(rows, members=members, now=now, run=run, hooked=hooked)
    PendingEarning.objects.bulk_update(rows, ["status", "entry", "released_at"])
    for member_pk, order in last_order.items():
        member = members[member_pk]
        # The released points count now: tiers and thresholds react as to an order's.
        tier_on_earn(member=member)
        if member.balance >= smallest.get(member.program_id, member.balance + 1):
            rewards_convert(member=member, program=member.program, order=order)
    run.members += len(members)
    return True


def _due_members_locked(due: QuerySet[PendingEarning], *, batch_size: int) -> dict[int, Member]:
    """The next batch of members with due earnings, locked, by pk, in id order."""
    return {
        m.pk: m
        # SKIP LOCKED: a member being written right now (an order, a refund, another run's
        # batch) is left to a later batch or run instead of being waited for.
        for m in Member.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=due.values("member_id"))
        .select_related("program")
        .order_by("id")[:batch_size]
    }


def _listeners(*, programs: set[int]) -> tuple[set[int], dict[int, int]]:
    """The merchants with a points-earned webhook, and each program's smallest reward
    threshold. One query each, so a batch costs nothing for merchants without endpoints
    or thresholds."""
    hooked = set(
        WebhookEndpoint.objects.filter(
            merchant__program__in=programs,
            active=True,
            events__contains=[WebhookEvent.POINTS_EARNED],
        ).values_list("merchant_id", flat=True)
    )
    smallest = dict(
        RewardThreshold.objects.filter(program__in=programs)
        .values("program")
        .annotate(points=Min("points"))
        .values_list("program", "points")
    )
    return hooked, smallest


def _release_rows(
    rows: list[PendingEarning], *, members: dict[int, Member], now: datetime, run: ReleaseRun,
    hooked: set[int],
) -> dict[int, Order]:  # fmt: skip
    """Each due earning into the ledger as its order's ``earn`` entry (the rows are marked
    released, the caller saves them); each member's last released order."""
    last_order: dict[int, Order] = {}
    for row in rows:
        member = members[row.member_id]
        order = row.order
        order.program = member.program
        row.entry = ledger_append(
            member=member,
            kind=LedgerEntry.Kind.EARN,
            points=row.points,
            reason=_release_reason(row),
            key=f"order:{order.pk}:earn",
            order=order,
            details={"pending_since": order.placed_at.isoformat(), "released": now.isoformat()},
            member_updates={"pending": member.pending - row.points},
            expires_at=earning_expiry(program=member.program, placed_at=order.placed_at),
        )
        row.status = PendingEarning.Status.RELEASED
        row.released_at = now
        last_order[member.pk] = order
        run.earnings += 1
        run.points += row.points
        if member.program.merchant_id in hooked:
            _hook_earned(member=member, row=row)
    return last_order


def _release_reason(row: PendingEarning) -> str:
    since = timezone.localdate(row.order.placed_at).isoformat()
    reason = f"{row.reason} (pending since {since}, the return window ended"
    if row.cancelled:
        reason += f"; {row.cancelled} of them cancelled by refunds in the window"
    return reason + ")"


def _hook_earned(*, member: Member, row: PendingEarning) -> None:
    assert row.entry is not None
    webhook_points_earned(
        member=member,
        entry=row.entry,
        order=row.order.external_id,
        pending_since=row.order.placed_at,
    )


def member_pending_until(*, member: Member) -> datetime | None:
    """When the member's next pending points become available (None when none are pending)."""
    if member.pending <= 0:
        return None
    return PendingEarning.objects.filter(
        member=member, status=PendingEarning.Status.PENDING
    ).aggregate(at=Min("available_at"))["at"]


def order_pending(*, order: Order) -> tuple[int, datetime | None]:
    """How many of the order's points are still pending, and until when."""
    row = (
        PendingEarning.objects.filter(order=order, status=PendingEarning.Status.PENDING)
        .values_list("points", "available_at")
        .first()
    )
    return row if row is not None else (0, None)
