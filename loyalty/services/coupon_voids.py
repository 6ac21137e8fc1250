"""A coupon voided gives its points back: staff cancel an unused coupon, or a refund takes back
points that were already converted into one (``Program.refund_after_conversion``).

Each void is a ``CouponEvent`` with its reason, and a reward coupon's points come back as a
ledger entry (kind ``adjustment``, key ``void:<coupon>``: once). Staff voids are a manager's,
audited; the coupon and its member are locked.

The member reads why in its own language: staff give the reason per language too
(``reason_i18n``, the base reason the fallback), and the entry's ``details["void"]`` keeps
what its history line is told from (the code, and staff's reason with its translations, or
the refund and order that took the points back).
"""

from typing import Any

from django.db import transaction

from loyalty.audit import Action, audit_record
from loyalty.content import REASON_KEY
from loyalty.errors import InvalidInput
from loyalty.models import LedgerEntry, Member, Order, Program, User
from loyalty.roles import Permission, role_check
from loyalty.services.ledger import ledger_append
from loyalty.storage.members import member_locked
from rewards.errors import CouponNotVoidable
from rewards.models import Coupon, CouponEvent
from rewards.services.coupons import coupon_get, reason_problem, reason_translations


@transaction.atomic
def coupon_void(
    *,
    program: Program,
    code: str,
    reason: str,
    by: User | None = None,
    return_points: bool = True,
    reason_i18n: dict[str, str] | None = None,
) -> Coupon:
    """Cancel an unused coupon. A reward coupon's points come back unless told otherwise.
    ``reason_i18n``: the reason per language, as the member reads it."""
    if problem := reason_problem(reason):
        raise InvalidInput({"reason": [problem]})
    reason = reason.strip()
    translations = reason_translations(reason_i18n)
    role_check(user=by, permission=Permission.MANAGE, merchant_id=program.merchant_id)
    found = coupon_get(program=program, code=code)
    member = None
    if found.member is not None:
        member = member_locked(program=program, external_id=found.member.external_id)
    coupon = Coupon.objects.select_for_update().get(pk=found.pk)
    if coupon.status not in (Coupon.Status.ACTIVE, Coupon.Status.EXPIRED) or coupon.uses_count:
        raise CouponNotVoidable(code=coupon.display_code, status=coupon.get_status_display())
    status = coupon.status
    why = {"reason": reason, REASON_KEY: translations} if translations else {"reason": reason}
    _void(coupon, member=member, why=why, by=by, return_points=return_points)
    if by is not None:
        audit_record(
            merchant=program.merchant_id,
            actor=by,
            action=Action.COUPON_VOID,
            target=coupon,
            changes={
                "status": [status, coupon.status],
                "points_returned": coupon.points_spent if return_points and member else 0,
                **({REASON_KEY: translations} if translations else {}),
            },
            reason=reason,
        )
    return coupon


def _void(
    coupon: Coupon,
    *,
    member: Member | None,
    why: dict[str, Any],
    by: User | None,
    return_points: bool,
) -> None:
    """Void a locked, unused coupon; the member (if any) must be locked too. ``why``: staff's
    ``reason`` (and its ``reason_i18n``), or the ``refund`` and ``order`` that voided it."""
    reason = why.get("reason") or (
        f"refund {why.get('refund')} of order #{why.get('order')} took its points back"
    )
    Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.VOID)
    coupon.status = Coupon.Status.VOID
    CouponEvent.objects.create(
        coupon=coupon,
        kind=CouponEvent.Kind.VOIDED,
        reason=reason,
        reason_i18n=why.get(REASON_KEY) or {},
        by=by,
    )
    if return_points and coupon.points_spent and member is not None:
        ledger_append(
            member=member,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=coupon.points_spent,
            # For staff and the API (English); the member's history is told from the details.
            reason=f"Coupon {coupon.display_code} voided ({reason}): "
            f"its {coupon.points_spent} points come back",
            key=f"void:{coupon.pk}",
            coupon=coupon,
            created_by=by,
            details={"void": {"coupon": coupon.display_code, **why}},
        )


def coupons_void_for_refund(
    *, member: Member, points_needed: int, order: Order, refund_id: str
) -> int:
    """Void the member's unused reward coupons until ``points_needed`` are back (newest first,
    this order's own coupons before others). The member must be locked. Returns points back."""
    back = 0
    candidates = (
        Coupon.objects.select_for_update()
        .filter(
            member=member,
            source=Coupon.Source.REWARD,
            status=Coupon.Status.ACTIVE,
            uses_count=0,
            points_spent__gt=0,
        )
        .order_by("-id")
    )
    ordered = sorted(candidates, key=lambda c: c.order_id != order.pk)
    for coupon in ordered:
        if back >= points_needed:
            break
        _void(
            coupon,
            member=member,
            return_points=True,
            by=None,
            why={"refund": refund_id, "order": order.external_id},
        )
        back += coupon.points_spent
    return back
