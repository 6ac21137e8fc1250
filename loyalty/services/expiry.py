"""The expiry job: points whose validity ran out become ``expire`` ledger entries.

Set-based and in batches: each batch locks up to ``batch_size`` due members with
SKIP LOCKED (a member being written by an order right now is simply taken by a
later batch or run), then writes all their entries with one INSERT and moves
all their balances with one UPDATE. Each batch commits on its own, so a crash
loses at most the batch in flight and a rerun carries on. Running twice, or two
runs at once, never expires the same points twice: an expiry's idempotency key
names what expired (the member's expiry date, or the lot), and the ledger's
unique (member, key) constraint refuses a second one.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.db.models.functions import Least
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, PointLot
from notifications.models import Event, WebhookEndpoint, WebhookEvent
from notifications.services import notification_enqueue
from notifications.services.webhooks import webhook_enqueue


@dataclass
class ExpiryRun:
    members: int = 0
    entries: int = 0
    points: int = 0


def points_expire(*, now: datetime | None = None, batch_size: int = 1000) -> ExpiryRun:
    """Expire everything due at ``now`` in both validity modes."""
    now = now or timezone.now()
    run = ExpiryRun()
    while _expire_reset_batch(now=now, batch_size=batch_size, run=run):
        pass
    while _expire_lots_batch(now=now, batch_size=batch_size, run=run):
        pass
    return run


@transaction.atomic
def _expire_reset_batch(*, now: datetime, batch_size: int, run: ExpiryRun) -> bool:
    """Reset mode: the whole balance of members whose date has passed."""
    members = list(
        # Lock the members only, not the program rows the filter joins.
        Member.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            points_expire_at__lte=now,
            program__reset_validity_on_order=True,
            program__points_validity_days__isnull=False,
        )
        .only("id", "program_id", "balance", "points_expire_at", "last_order_at")
        # The partial index's order: expired members leave the index, so each batch
        # starts where the due ones are instead of walking past the done ones.
        .order_by("points_expire_at", "id")[:batch_size]
    )
    if not members:
        return False
    entries = [
        LedgerEntry(
            program_id=m.program_id,
            member_id=m.pk,
            kind=LedgerEntry.Kind.EXPIRE,
            points=-m.balance,
            balance_after=0,
            reason=_reset_reason(m),
            idempotency_key=f"expire:{m.points_expire_at.isoformat()}",  # type: ignore[union-attr]
            created_at=now,
        )
        for m in members
        if m.balance > 0
    ]
    LedgerEntry.objects.bulk_create(entries)
    # The date is spent either way: a member without points just has nothing to expire.
    Member.objects.filter(pk__in=[m.pk for m in members]).update(
        balance=Least(F("balance"), 0), points_expire_at=None
    )
    # After the update: the notifications and webhooks show the balance the expiry left.
    _tell_expired({e.member_id: (-e.points, e.created_at) for e in entries})
    run.members += len(members)
    run.entries += len(entries)
    run.points += sum(-e.points for e in entries)
    return True


def _tell_expired(expired: dict[int, tuple[int, datetime]]) -> None:
    """The 'points expired' notification, for the members of a batch who agreed to hear.

    Only those members are loaded (in one query), so a batch of members without consent
    costs nothing here.
    """
    _hook_expired(expired)
    reachable = (
        Member.objects.filter(pk__in=expired)
        .filter(Q(consent_email=True) & ~Q(email="") | Q(consent_push=True))
        .select_related("program__merchant")
    )
    for member in reachable:
        points, at = expired[member.pk]
        notification_enqueue(
            member=member,
            event=Event.POINTS_EXPIRED,
            occasion=f"expired:{at.isoformat()}",
            context={"points": points, "expiry_date": timezone.localdate(at)},
        )


def _hook_expired(expired: dict[int, tuple[int, datetime]]) -> None:
    """The 'points_expired' webhook, for merchants with an endpoint (one query a batch
    when none has)."""
    merchants = set(
        WebhookEndpoint.objects.filter(active=True).values_list("merchant_id", flat=True)
    )
    if not merchants:
        return
    rows = Member.objects.filter(pk__in=expired, program__merchant_id__in=merchants).values_list(
        "pk", "external_id", "program__merchant_id", "balance"
    )
    for pk, external_id, merchant_id, balance in rows:
        points, at = expired[pk]
        webhook_enqueue(
            merchant_id=merchant_id,
            event=WebhookEvent.POINTS_EXPIRED,
            occasion=f"{external_id}:{at.isoformat()}",
            payload={
                "member": external_id,
                "points": points,
                "expired_on": timezone.localdate(at).isoformat(),
                "balance": balance,
            },
        )


def _reset_reason(member: Member) -> str:
    assert member.points_expire_at is not None
    since = (
        f"no order since {timezone.localdate(member.last_order_at).isoformat()}"
        if member.last_order_at
        else "no order"
    )
    return (
        f"{member.balance} points expired on "
        f"{timezone.localdate(member.points_expire_at).isoformat()} ({since})"
    )


@transaction.atomic
def _expire_lots_batch(*, now: datetime, batch_size: int, run: ExpiryRun) -> bool:
    """Per-earning mode: each due lot of up to ``batch_size`` members, one entry per lot."""
    due = PointLot.objects.filter(member=OuterRef("pk"), remaining__gt=0, expires_at__lte=now)
    members = {
        m.pk: m
        for m in Member.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(Exists(due))
        .only("id", "program_id", "balance", "points_expire_at")
        .order_by("id")[:batch_size]
    }
    if not members:
        return False
    lots = list(
        PointLot.objects.filter(member__in=members, remaining__gt=0, expires_at__lte=now)
        .select_related("entry__order")
        .order_by("member_id", "expires_at", "id")
    )
    entries = []
    for lot in lots:
        member = members[lot.member_id]
        member.balance -= lot.remaining
        entries.append(
            LedgerEntry(
                program_id=member.program_id,
                member_id=member.pk,
                kind=LedgerEntry.Kind.EXPIRE,
                points=-lot.remaining,
                balance_after=member.balance,
                reason=_lot_reason(lot),
                details={"lot": lot.pk, "entry": lot.entry_id},
                idempotency_key=f"expire:lot:{lot.pk}",
                created_at=now,
            )
        )
        run.points += lot.remaining
        lot.remaining = 0
    LedgerEntry.objects.bulk_create(entries)
    expired: dict[int, tuple[int, datetime]] = {}
    for e in entries:
        points, _at = expired.get(e.member_id, (0, now))
        expired[e.member_id] = (points - e.points, now)
    PointLot.objects.bulk_update(lots, ["remaining"])
    next_dates = dict(
        PointLot.objects.filter(member__in=members, remaining__gt=0)
        .values("member")
        .annotate(at=Min("expires_at"))
        .values_list("member", "at")
    )
    for member in members.values():
        member.points_expire_at = next_dates.get(member.pk)
    Member.objects.bulk_update(members.values(), ["balance", "points_expire_at"])
    _tell_expired(expired)
    run.members += len(members)
    run.entries += len(entries)
    return True


def _lot_reason(lot: PointLot) -> str:
    source = lot.entry.reason.split(":")[0] if lot.entry.order_id else lot.entry.get_kind_display()
    earned = timezone.localdate(lot.entry.created_at).isoformat()
    until = timezone.localdate(lot.expires_at).isoformat() if lot.expires_at else "-"
    return f"{lot.remaining} of {lot.points} points from {source} ({earned}) expired on {until}"
