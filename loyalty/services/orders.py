"""Orders earn points; refunds take back their share. The whole effect of an order is here.

Rules kept here:
- An order earns ``floor(points base x earn rate)`` points once; the points base
  is the part of the amount the program says earns (see ``loyalty.services.earning``).
- The same external id with the same data is a replay (answered, earns nothing);
  with other data it is a conflict. The database's unique constraint on
  (program, external_id) is what makes a second earning impossible.
- A refund takes back points in proportion to the refunded share of the order,
  at the rate the order earned at, never more than the order earned in total.
  It is the one write allowed to take a balance below zero (points already
  spent); later earnings pay the debt back first, simply by adding to it.
"""

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty import money, sql
from loyalty.errors import (
    CurrencyMismatch,
    InvalidInput,
    OrderConflict,
    OrderNotFound,
    RefundConflict,
    RefundExceedsOrder,
)
from loyalty.ids import external_id_problem, order_id_problem
from loyalty.models import LedgerEntry, Member, Order, Program, Refund
from loyalty.services.deferred import deferred_insert, deferred_member_update, deferred_update
from loyalty.services.earning import earn_breakdown, lines_clean
from loyalty.services.ledger import ledger_append
from loyalty.services.pending import (
    order_pending,
    pending_available_at,
    pending_cancel,
    pending_hold,
)
from loyalty.services.referrals import (
    order_member_lock,
    referral_on_first_order,
    referral_on_refund,
)
from loyalty.services.tiers import tier_on_earn
from loyalty.services.validity import validity_on_order
from notifications.models import WebhookEvent
from notifications.services.webhooks import webhook_enqueue, webhook_points_earned
from rewards.models import Coupon
from rewards.services.conversion import rewards_convert
from rewards.services.coupons import coupons_void_for_refund

BREAKDOWN_PARTS = ("discount", "shipping", "tax", "paid_with_gift_card")
# An order may be stamped a little ahead of our clock (clock skew), not more.
PLACED_AT_TOLERANCE = timedelta(minutes=5)


@dataclass
class OrderResult:
    order: Order
    created: bool
    balance: int
    coupons_issued: list[Coupon] = field(default_factory=list)
    bonuses: list[LedgerEntry] = field(default_factory=list)
    # Points of this order still in the program's return window, and until when.
    pending_points: int = 0
    pending_until: datetime | None = None


@dataclass
class RefundResult:
    refund: Refund
    created: bool
    balance: int


def _check_amount(name: str, value: Decimal, currency: str, errors: dict[str, list[str]]) -> None:
    if not value.is_finite() or value < 0 or value > money.MAX_AMOUNT:
        errors[name] = [str(_("Must be a number between 0 and 1000000000."))]
    elif not money.fits_currency(value, currency):
        errors[name] = [
            str(_("%(currency)s amounts have at most %(digits)s decimals."))
            % {"currency": currency, "digits": money.minor_unit(currency)}
        ]


def _validate_order(
    *, program: Program, amount: Decimal, currency: str, breakdown: dict[str, Decimal],
    placed_at: datetime,
) -> None:  # fmt: skip
    if currency.upper() != program.currency:
        raise CurrencyMismatch(expected=program.currency, given=currency)
    errors: dict[str, list[str]] = {}
    _check_amount("amount", amount, currency, errors)
    if "amount" not in errors and amount == 0:
        errors["amount"] = [str(_("An order amount must be more than zero."))]
    for part, value in breakdown.items():
        _check_amount(part, value, currency, errors)
    if not errors:
        excluded = breakdown["shipping"] + breakdown["tax"] + breakdown["paid_with_gift_card"]
        if excluded > amount:
            errors["amount"] = [
                str(_("Shipping, tax and gift-card payment together exceed the amount."))
            ]
    if placed_at > timezone.now() + PLACED_AT_TOLERANCE:
        errors["placed_at"] = [str(_("An order cannot be placed in the future."))]
    if errors:
        raise InvalidInput(errors)


def order_ids_check(*, external_id: str, member_external_id: str) -> None:
    """The order's and the member's external ids, by the id rules (loyalty.ids)."""
    for name, problem in (
        ("external_id", order_id_problem(external_id)),
        ("member", external_id_problem(member_external_id)),
    ):
        if problem:
            raise InvalidInput({name: [problem]})


def _fingerprint(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class OrderInput:
    """An order as checked and fingerprinted by ``order_input``: ready to record."""

    external_id: str
    member_external_id: str
    amount: Decimal
    currency: str
    placed_at: datetime
    parts: dict[str, Decimal]
    lines: list[dict[str, Any]]
    fingerprint: str


def order_arguments(body: Mapping[str, Any]) -> dict[str, Any]:
    """An order's fields as the API takes them (``member``, optional parts left out), as the
    keyword arguments of ``order_input``, ``order_record`` and ``order_quote``."""
    return {
        "external_id": body["external_id"],
        "member_external_id": body["member"],
        "amount": body["amount"],
        "currency": body["currency"],
        "placed_at": body.get("placed_at"),
        "breakdown": body.get("breakdown"),
        "lines": body.get("lines"),
    }


def order_input(
    *,
    program: Program,
    external_id: str,
    member_external_id: str,
    amount: Decimal,
    currency: str,
    placed_at: datetime | None = None,
    breakdown: dict[str, Decimal] | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> OrderInput:
    """Check an order (``InvalidInput``, ``CurrencyMismatch``) and fingerprint it. Reads nothing."""
    parts = {part: Decimal((breakdown or {}).get(part) or 0) for part in BREAKDOWN_PARTS}
    currency = currency.upper()
    clean_lines = lines_clean(lines=lines, currency=currency)
    fingerprint = _fingerprint(
        {
            # Only when sent, so orders without lines keep the fingerprints they had.
            **({"lines": _lines_out(clean_lines)} if clean_lines else {}),
            "member": member_external_id,
            "amount": str(amount.normalize()) if amount.is_finite() else str(amount),
            "currency": currency,
            # The same moment in any time zone is the same order.
            "placed_at": placed_at.astimezone(UTC).isoformat() if placed_at else None,
            **{k: str(v.normalize()) for k, v in parts.items() if v.is_finite()},
        }
    )
    placed_at = placed_at or timezone.now()
    order_ids_check(external_id=external_id, member_external_id=member_external_id)
    _validate_order(
        program=program, amount=amount, currency=currency, breakdown=parts, placed_at=placed_at
    )
    return OrderInput(
        external_id=external_id,
        member_external_id=member_external_id,
        amount=amount,
        currency=currency,
        placed_at=placed_at,
        parts=parts,
        lines=clean_lines,
        fingerprint=fingerprint,
    )


def order_record(
    *,
    program: Program,
    external_id: str,
    member_external_id: str,
    amount: Decimal,
    currency: str,
    placed_at: datetime | None = None,
    breakdown: dict[str, Decimal] | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> OrderResult:
    """Record a paid order and earn its points, once.

    Safe to call any number of times, also concurrently, with the same data.
    """
    order = order_input(
        program=program, external_id=external_id, member_external_id=member_external_id,
        amount=amount, currency=currency, placed_at=placed_at, breakdown=breakdown, lines=lines,
    )  # fmt: skip
    return order_record_input(program=program, order=order)


def order_record_input(
    *, program: Program, order: OrderInput, member: Member | None = None
) -> OrderResult:
    """``order_record`` for an order already checked.

    ``member``: only for a batch (``order_batch``) that holds the member locked in its
    transaction and knows that no order has this external id yet.
    """
    if member is not None:
        return _order_write(program=program, member=member, checked=order)
    try:
        return _order_record(program=program, order=order)
    except IntegrityError:
        # The external id is recorded already: by an earlier request (a retry), or by
        # another transaction for another member (whose lock did not queue us), which has
        # committed now. Everything of ours is rolled back: a replay or a conflict.
        if not Order.objects.filter(program=program, external_id=order.external_id).exists():
            raise
        return order_replay(
            program=program, external_id=order.external_id, fingerprint=order.fingerprint
        )


def _lines_out(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines as stored and fingerprinted: the amount as a plain decimal string."""
    return [{**line, "amount": format(line["amount"].normalize(), "f")} for line in lines]


def order_replay(*, program: Program, external_id: str, fingerprint: str) -> OrderResult:
    """The answer for an order recorded already: the same again, or a conflict."""
    order = Order.objects.select_related("member").get(program=program, external_id=external_id)
    if order.fingerprint != fingerprint:
        raise OrderConflict(external_id=external_id)
    pending_points, pending_until = order_pending(order=order)
    return OrderResult(
        order=order,
        created=False,
        balance=order.balance_after,
        coupons_issued=list(order.coupons_issued.order_by("pk")),
        pending_points=pending_points,
        pending_until=pending_until,
    )


@transaction.atomic
def _order_record(*, program: Program, order: OrderInput) -> OrderResult:
    # Locks the referrer too (pk order) when this may be a referred member's first order.
    member = order_member_lock(program=program, external_id=order.member_external_id)
    # No look for the external id first: a replay is rare, and the order's unique key
    # refuses it at the insert (before anything else is written), which order_record_input
    # turns into the replay or the conflict.
    return _order_write(program=program, member=member, checked=order)


def _order_write(*, program: Program, member: Member, checked: OrderInput) -> OrderResult:
    """The order's whole effect, for a locked member and a new external id. Its inserts
    and member updates go through ``deferred``: at once, or together for a batch."""
    external_id, amount, currency = checked.external_id, checked.amount, checked.currency
    placed_at, parts, lines = checked.placed_at, checked.parts, checked.lines
    # The same computation as the quote (loyalty.services.earning), so they agree.
    earned = earn_breakdown(
        program=program,
        member=member,
        external_id=external_id,
        amount=amount,
        currency=currency,
        breakdown=parts,
        lines=lines,
        placed_at=placed_at,
    )
    base, points = earned.points_base, earned.total
    # Inside a return window the points wait (loyalty.services.pending) instead of counting.
    pending_until = pending_available_at(program=program, placed_at=placed_at, points=points)
    order = Order(
        program=program,
        member=member,
        external_id=external_id,
        amount=amount,
        currency=currency,
        points_base=base,
        earn_rate=program.earn_rate,
        points_earned=points,
        balance_after=member.balance + (0 if pending_until else points),
        placed_at=placed_at,
        fingerprint=checked.fingerprint,
        lines=_lines_out(lines),
        earning=earned.as_dict(),
        **parts,
    )
    deferred_insert(order)
    activity = validity_on_order(member=member, program=program, placed_at=placed_at)
    if pending_until:
        pending_hold(
            member=member,
            order=order,
            points=points,
            available_at=pending_until,
            reason=earned.reason,
            member_updates=activity,
        )
    elif points:
        entry = ledger_append(
            member=member,
            kind=LedgerEntry.Kind.EARN,
            points=points,
            reason=earned.reason,
            key=f"order:{order.pk}:earn",
            order=order,
            details={"base": str(base), "rate": str(program.earn_rate), "total": points}
            | (
                {"tier_multiplier": str(earned.tier_multiplier), "tier": earned.tier}
                if earned.tier
                else {}
            ),
            member_updates=activity,
            expires_at=_lot_expiry(program, placed_at),
        )
        webhook_points_earned(member=member, entry=entry, order=external_id)
        tier_on_earn(member=member)  # up at once; down only by the daily job
    elif activity:
        deferred_member_update(member, **activity)
    bonuses = referral_on_first_order(member=member, order=order)
    coupons = rewards_convert(member=member, program=program, order=order)
    if (coupons or bonuses) and order.balance_after != member.balance:
        order.balance_after = member.balance
        deferred_update(order, "balance_after")
    webhook_enqueue(
        merchant_id=program.merchant_id,
        event=WebhookEvent.ORDER_RECORDED,
        occasion=external_id,
        payload={
            "order": external_id,
            "member": member.external_id,
            "amount": str(amount),
            "currency": currency,
            "points_earned": points,
            "points_pending": points if pending_until else 0,
            "balance": member.balance,
        },
    )
    return OrderResult(
        order=order,
        created=True,
        balance=member.balance,
        coupons_issued=coupons,
        bonuses=bonuses,
        pending_points=points if pending_until else 0,
        pending_until=pending_until,
    )


def _lot_expiry(program: Program, placed_at: datetime) -> datetime | None:
    """An earning's own expiry counts from when the order was placed."""
    days = program.points_validity_days
    return placed_at + timedelta(days=days) if days else None


def orders_recorded(*, program: Program, external_ids: Collection[str]) -> set[str]:
    """Which of these external ids the program has an order for."""
    if not external_ids:
        return set()
    return {row[0] for row in sql.run(_recorded_sql(), [list(external_ids), program.pk])}


@cache
def _recorded_sql() -> str:
    # Each id looked up on its own, by the unique index (see members._lock_many_sql).
    return (
        f"SELECT e FROM unnest(%s::text[]) AS e WHERE EXISTS (SELECT 1 FROM "  # noqa: S608
        f"{sql.quote(Order._meta.db_table)} WHERE {sql.column(Order, 'program')} = %s "
        f"AND {sql.column(Order, 'external_id')} = e)"
    )


def order_get(*, program: Program, external_id: str) -> Order:
    order = (
        Order.objects.select_related("member")
        .filter(program=program, external_id=external_id)
        .first()
    )
    if order is None:
        raise OrderNotFound(external_id=external_id)
    return order


@transaction.atomic
def refund_record(
    *,
    program: Program,
    order_external_id: str,
    external_id: str,
    amount: Decimal,
    currency: str | None = None,
) -> RefundResult:
    """Record a refund of an order and take back its proportional share of points, once."""
    found = Order.objects.filter(program=program, external_id=order_external_id).values(
        "pk", "member__external_id", "currency"
    )
    if not found:
        raise OrderNotFound(external_id=order_external_id)
    ref = found[0]
    if currency is not None and currency.upper() != ref["currency"]:
        raise CurrencyMismatch(expected=ref["currency"], given=currency)
    errors: dict[str, list[str]] = {}
    if problem := external_id_problem(external_id):
        errors["external_id"] = [problem]
    _check_amount("amount", amount, ref["currency"], errors)
    if not errors and amount == 0:
        errors["amount"] = [str(_("A refund amount must be more than zero."))]
    if errors:
        raise InvalidInput(errors)

    # Lock order: member (with its referrer, in pk order) first, then the order (the same
    # order every writer uses).
    member = order_member_lock(program=program, external_id=ref["member__external_id"])
    order = Order.objects.select_for_update().get(pk=ref["pk"])
    order.program = program

    existing = Refund.objects.filter(order=order, external_id=external_id).first()
    if existing is not None:
        if existing.amount != amount:
            raise RefundConflict(external_id=external_id)
        return RefundResult(refund=existing, created=False, balance=existing.balance_after)
    if amount > order.refundable_amount:
        raise RefundExceedsOrder(
            refundable=order.refundable_amount,
            amount=amount,
            currency=order.currency,
            external_id=order.external_id,
        )

    refunded = order.refunded_amount + amount
    # Cumulative, so partial refunds add up to exactly what the order earned.
    target = money.floor_points(Decimal(order.points_earned) * refunded / order.amount)
    points = min(target, order.points_earned) - order.points_reversed
    # Inside the return window the points come off the pending ones, not the balance.
    cancelled = pending_cancel(member=member, order=order, points=points)
    shortfall = points - cancelled - max(member.balance, 0)
    if (
        shortfall > 0
        and program.refund_after_conversion == Program.RefundAfterConversion.VOID_COUPON
    ):
        # The points were converted into a coupon: take the coupon back while it is unused.
        coupons_void_for_refund(
            member=member, points_needed=shortfall, order=order, refund_id=external_id
        )
    refund = Refund.objects.create(
        program=program,
        order=order,
        external_id=external_id,
        amount=amount,
        points_reversed=points,
        pending_cancelled=cancelled,
        balance_after=member.balance - (points - cancelled),
    )
    status = Order.Status.REFUNDED if refunded == order.amount else Order.Status.PARTIALLY_REFUNDED
    Order.objects.filter(pk=order.pk).update(
        refunded_amount=F("refunded_amount") + amount,
        points_reversed=F("points_reversed") + points,
        status=status,
    )
    if points > cancelled:
        ledger_append(
            member=member,
            kind=LedgerEntry.Kind.REVERSAL,
            points=-(points - cancelled),
            reason=_reversal_reason(order, refund, member.balance),
            key=f"refund:{refund.pk}",
            order=order,
            refund=refund,
        )
    if status == Order.Status.REFUNDED:
        referral_on_refund(member=member, order=order)
    # A voided coupon may give back more than the refund takes: convert what is left.
    if rewards_convert(member=member, program=program):
        Refund.objects.filter(pk=refund.pk).update(balance_after=member.balance)
        refund.balance_after = member.balance
    return RefundResult(refund=refund, created=True, balance=member.balance)


def _reversal_reason(order: Order, refund: Refund, balance_before: int) -> str:
    reason = (
        f"Refund {refund.external_id} of order #{order.external_id}: "
        f"{money.format_money(refund.amount, order.currency)} of "
        f"{money.format_money(order.amount, order.currency)}, "
        f"{refund.points_reversed} of the {order.points_earned} points it earned taken back"
    )
    spent = refund.points_reversed - max(balance_before, 0)
    if spent > 0:
        reason += (
            f"; {spent} of them were already spent, so the balance stays below zero "
            "until new points pay it back"
        )
    return reason
