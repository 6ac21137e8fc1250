"""Refunds take back an order's share of points.

A refund takes back points in proportion to the refunded share of the order, at the rate
the order earned at, never more than the order earned in total. It is the one write allowed
to take a balance below zero (points already spent); later earnings pay the debt back first,
simply by adding to it. Inside the program's return window the points come off the pending
ones instead; a refund of points already converted into an unused coupon may void the coupon
(``Program.refund_after_conversion``).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from loyalty import money
from loyalty.errors import (
    CurrencyMismatch,
    InvalidInput,
    OrderNotFound,
    RefundConflict,
    RefundExceedsOrder,
)
from loyalty.ids import external_id_problem
from loyalty.models import LedgerEntry, Member, Order, Program, Refund
from loyalty.services.conversion import rewards_convert
from loyalty.services.coupon_voids import coupons_void_for_refund
from loyalty.services.ledger import ledger_append
from loyalty.services.order_input import check_amount
from loyalty.services.pending import pending_cancel
from loyalty.services.referrals import referral_on_refund
from loyalty.storage.members import members_lock


@dataclass
class RefundResult:
    refund: Refund
    created: bool
    balance: int


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
    ref = _refund_check(program=program, order_external_id=order_external_id,
                        external_id=external_id, amount=amount, currency=currency)  # fmt: skip
    # Lock order: member (with its referrer, in pk order) first, then the order (the same
    # order every writer uses).
    locked = members_lock(
        program=program, external_ids=[ref["member__external_id"]], referrers=True
    )
    member = next(m for m in locked.values() if m.external_id == ref["member__external_id"])
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
    refund = _take_back(program=program, member=member, order=order, external_id=external_id,
                        amount=amount)  # fmt: skip
    # A voided coupon may give back more than the refund takes: convert what is left.
    if rewards_convert(member=member, program=program):
        Refund.objects.filter(pk=refund.pk).update(balance_after=member.balance)
        refund.balance_after = member.balance
    return RefundResult(refund=refund, created=True, balance=member.balance)


def _refund_check(
    *, program: Program, order_external_id: str, external_id: str, amount: Decimal,
    currency: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The refunded order (its pk, member and currency), or the refusal; reads nothing else."""
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
    check_amount("amount", amount, ref["currency"], errors)
    if not errors and amount == 0:
        errors["amount"] = [str(_("A refund amount must be more than zero."))]
    if errors:
        raise InvalidInput(errors)
    return dict(ref)


def _take_back(
    *, program: Program, member: Member, order: Order, external_id: str, amount: Decimal
) -> Refund:
    """The refund's points: off the pending ones inside the return window, else off the
    balance (voiding an unused coupon they became, when the program says so)."""
    refunded = order.refunded_amount + amount
    # Cumulative, so partial refunds add up to exactly what the order earned.
    target = money.floor_points(Decimal(order.points_earned) * refunded / order.amount)
    points = min(target, order.points_earned) - order.points_reversed
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
        program=program, order=order, external_id=external_id, amount=amount,
        points_reversed=points, pending_cancelled=cancelled,
        balance_after=member.balance - (points - cancelled),
    )  # fmt: skip
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
    return refund


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
