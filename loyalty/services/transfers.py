"""Points given by one member to another of the same program (family pooling, gifts).

Invariants: a transfer moves points between two ledgers in one transaction (a
``transfer_out`` entry on the sender, a ``transfer_in`` on the recipient, both keyed
``transfer:<key>``), so the sum of the two balances never changes; a ``key`` applies
once (the same key with other data is a conflict); the sender never goes below zero.
A refusal never depends on whether the recipient exists, except "no such member" when
nothing else stands in the way (then the transfer would have happened).
Both members are locked in pk order, whichever gives to whom, so A->B and B->A at the
same moment queue up instead of deadlocking.
"""

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.clientip import ip_bucket
from loyalty.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidInput,
    TransferLimitExceeded,
    TransferRateLimited,
    TransfersDisabled,
)
from loyalty.models import LedgerEntry, Member, Program, Transfer
from loyalty.rules.earning import local_date, month_bounds
from loyalty.services.conversion import rewards_convert
from loyalty.services.ledger import ledger_append
from loyalty.services.limits import attempt_count
from loyalty.storage.members import members_lock_by_pk
from rewards.models import Coupon

MAX_TRANSFER = 100_000_000


@dataclass
class TransferResult:
    transfer: Transfer
    created: bool
    sender_balance: int
    recipient_balance: int
    coupons_issued: list[Coupon] = field(default_factory=list)


def transfer_rate_check(*, member: Member, ip: str) -> None:
    """Count one transfer tried by ``member`` from ``ip`` (the profile page's form); raise
    ``TransferRateLimited`` past the limits per member and per client IP (each merchant
    counts its own). Every try counts, given or refused, so member numbers cannot be
    tried one after another."""
    merchant_id = member.program.merchant_id
    retry_after = attempt_count(
        prefix=settings.PROFILE_TRANSFER_KEY_PREFIX,
        counters=[
            (f"member:{member.pk}", settings.PROFILE_TRANSFER_LIMIT_PER_MEMBER),
            (f"ip:{merchant_id}:{ip_bucket(ip)}", settings.PROFILE_TRANSFER_LIMIT_PER_IP),
        ],
        window=settings.PROFILE_TRANSFER_WINDOW_SECONDS,
    )
    if retry_after is not None:
        raise TransferRateLimited(retry_after=retry_after)


def _check_input(program: Program, *, points: int, note: str, same: bool) -> None:
    """Refuse a transfer the program does not allow, or odd input, before any look-up."""
    if not program.transfers_enabled:
        raise TransfersDisabled()
    errors: dict[str, list[str]] = {}
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        errors["points"] = [str(_("Give a whole number of points above zero."))]
    elif points < program.transfer_min_points:
        errors["points"] = [
            str(_("A transfer moves at least %(min)s points."))
            % {"min": program.transfer_min_points}
        ]
    elif points > MAX_TRANSFER:
        errors["points"] = [str(_("At most 100000000 points at once."))]
    if len(note) > 200:
        errors["note"] = [str(_("At most 200 characters."))]
    if same:
        errors["to"] = [str(_("A member cannot transfer points to themself."))]
    if errors:
        raise InvalidInput(errors)


def _check_month(program: Program, sender: Member, points: int) -> None:
    """Refuse what would take the sender past the program's monthly limit (its time zone's
    calendar month)."""
    if program.transfer_monthly_limit is None:
        return
    start, end = month_bounds(program, local_date(program, timezone.now()))
    given = (
        Transfer.objects.filter(sender=sender, created_at__gte=start, created_at__lt=end).aggregate(
            total=Sum("points")
        )["total"]
        or 0
    )
    if given + points > program.transfer_monthly_limit:
        limit = program.transfer_monthly_limit
        raise TransferLimitExceeded(limit=limit, given=given, left=max(limit - given, 0))


def _book(
    program: Program, sender: Member, recipient: Member, *, points: int, note: str, key: str
) -> Transfer:
    """The transfer and its two ledger entries, under one key (the members are locked)."""
    transfer = Transfer.objects.create(
        program=program, sender=sender, recipient=recipient, points=points, note=note, key=key
    )
    suffix = f": {note}" if note else ""
    ledger_append(
        member=sender,
        kind=LedgerEntry.Kind.TRANSFER_OUT,
        points=-points,
        reason=f"Transfer of {points} points to {recipient.external_id}{suffix}",
        key=key,
        details={"transfer": transfer.pk},
    )
    ledger_append(
        member=recipient,
        kind=LedgerEntry.Kind.TRANSFER_IN,
        points=points,
        reason=f"Transfer of {points} points from {sender.external_id}{suffix}",
        key=key,
        details={"transfer": transfer.pk},
    )
    return transfer


@transaction.atomic
def transfer_create(
    *,
    program: Program,
    sender_external_id: str,
    recipient_external_id: str,
    points: int,
    note: str = "",
    key: str | None = None,
) -> TransferResult:
    """Move ``points`` from the sender to the recipient, once per ``key``."""
    note = (note or "").strip()
    _check_input(
        program, points=points, note=note, same=sender_external_id == recipient_external_id
    )
    key = f"transfer:{key or uuid.uuid4()}"

    found = dict(
        Member.objects.filter(
            program=program, external_id__in=[sender_external_id, recipient_external_id]
        ).values_list("external_id", "pk")
    )
    if sender_external_id not in found:
        raise InvalidInput({"member": [str(_("No such member in this program."))]})
    # Whether the recipient exists is the last thing told: every refusal about the sender
    # (used key, monthly limit, balance) comes first, on the same path either way, so the
    # form cannot be used to look member numbers up. The fixed lock order: by pk, whoever
    # gives (the recipient too when there is one).
    recipient_pk = found.get(recipient_external_id)
    pks = [found[sender_external_id]] + ([recipient_pk] if recipient_pk is not None else [])
    locked = members_lock_by_pk(pks=pks)
    sender = locked[found[sender_external_id]]
    sender.program = program

    existing = Transfer.objects.filter(program=program, key=key).first()
    if existing is not None:
        if (existing.sender_id, existing.recipient_id, existing.points, existing.note) != (
            sender.pk, recipient_pk, points, note,
        ):  # fmt: skip
            raise IdempotencyConflict()
        return TransferResult(
            existing, False, sender.balance, locked[existing.recipient_id].balance
        )
    _check_month(program, sender, points)
    if sender.balance < points:
        raise InsufficientPoints(balance=sender.balance, points=points)
    if recipient_pk is None:
        raise InvalidInput({"to": [str(_("No such member in this program."))]})
    recipient = locked[recipient_pk]
    recipient.program = program

    transfer = _book(program, sender, recipient, points=points, note=note, key=key)
    coupons = rewards_convert(member=recipient, program=program)
    return TransferResult(transfer, True, sender.balance, recipient.balance, coupons)
