"""Coupons at checkout: validate, redeem, release.

Every refusal names what is wrong and what to do. A redemption locks the coupon
row, so of any number of concurrent redemptions of a single-use coupon exactly
one succeeds; the check constraint ``uses_count <= uses_allowed`` is the
guarantee underneath.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from loyalty import money
from loyalty.errors import InvalidInput
from loyalty.models import Member, Program
from loyalty.storage import sql
from notifications.models import WebhookEvent
from notifications.services.webhooks import webhook_enqueue
from rewards.codes import code_normalise
from rewards.errors import (
    CouponAlreadyRedeemed,
    CouponCurrencyMismatch,
    CouponExpired,
    CouponMinOrderNotMet,
    CouponNotFound,
    CouponNotYetValid,
    CouponVoid,
    CouponWrongMember,
    RedemptionNotFound,
)
from rewards.models import Coupon, CouponEvent, Redemption
from rewards.ratelimit import LookupGuard
from rewards.terms import discount_for


@dataclass
class CheckoutResult:
    coupon: Coupon
    discount: Decimal
    created: bool = True


def _date(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


def _find(*, program: Program, code: str, guard: LookupGuard | None, lock: bool) -> Coupon:
    """The coupon with this code. Codes that do not exist count against the guard's limits;
    the guard refuses before the look-up once a limit is reached."""
    normalised = code_normalise(code)
    if guard is not None:
        guard.reserve()
    rows = sql.run(_find_sql(lock), [program.pk, normalised]) if normalised else []
    if not rows:
        if guard is not None:
            guard.missed()
        raise CouponNotFound()
    coupon = _loaded(rows[0])
    if guard is not None:
        guard.give_back()  # a real code is no guess
    return coupon


@cache
def _find_sql(lock: bool) -> str:
    """The coupon of a code with its member (or NULLs), locked or not; kept
    (``loyalty.storage.sql``): every checkout runs it, and Django took three times longer to
    build it than to run it."""
    coupon, member = sql.quote(Coupon._meta.db_table), sql.quote(Member._meta.db_table)
    return (
        f"SELECT {sql.columns(Coupon, 'c')}, {sql.columns(Member, 'm')} "  # noqa: S608
        f"FROM {coupon} c LEFT JOIN {member} m ON m.{sql.column(Member, 'pk')} = "
        f"c.{sql.column(Coupon, 'member')} WHERE c.{sql.column(Coupon, 'program')} = %s "
        f"AND c.{sql.column(Coupon, 'code')} = %s" + (" FOR UPDATE OF c" if lock else "")
    )


def _loaded(row: tuple[Any, ...]) -> Coupon:
    """A row of ``_find_sql`` as ``select_related("member")`` loads it."""
    width = len(Coupon._meta.concrete_fields)
    coupon = sql.load(Coupon, row[:width])
    coupon.member = sql.load(Member, row[width:]) if coupon.member_id is not None else None
    return coupon


def _check(
    coupon: Coupon, *, member_external_id: str | None, order_amount: Decimal, currency: str
) -> Decimal:
    """Why this coupon cannot be used on this order, in the order a customer can act on."""
    currency = currency.upper()
    if not order_amount.is_finite() or order_amount <= 0 or order_amount > money.MAX_AMOUNT:
        raise InvalidInput({"order_amount": [str(_("Give the order amount, above zero."))]})
    if not money.fits_currency(order_amount, currency):
        raise InvalidInput({"order_amount": [str(_("Too many decimals for %s.")) % currency]})
    now = timezone.now()
    if coupon.status == Coupon.Status.VOID:
        raise CouponVoid()
    if coupon.status == Coupon.Status.REDEEMED or coupon.uses_count >= coupon.uses_allowed:
        raise CouponAlreadyRedeemed()
    if coupon.status == Coupon.Status.EXPIRED or coupon.valid_until <= now:
        raise CouponExpired(date=_date(coupon.valid_until))
    if coupon.valid_from > now:
        raise CouponNotYetValid(date=_date(coupon.valid_from))
    if coupon.member is not None and member_external_id not in (None, coupon.member.external_id):
        raise CouponWrongMember()
    if currency != coupon.currency:
        raise CouponCurrencyMismatch(expected=coupon.currency, given=currency)
    if order_amount < coupon.min_order_amount:
        raise CouponMinOrderNotMet(
            missing=money.format_money(coupon.min_order_amount - order_amount, currency),
            minimum=money.format_money(coupon.min_order_amount, currency),
        )
    return discount_for(coupon, order_amount=order_amount, currency=currency)


def coupon_validate(
    *,
    program: Program,
    code: str,
    order_amount: Decimal,
    currency: str,
    member_external_id: str | None = None,
    guard: LookupGuard | None = None,
) -> CheckoutResult:
    """Would this coupon apply to this order, and for what discount? Changes nothing."""
    coupon = _find(program=program, code=code, guard=guard, lock=False)
    discount = _check(
        coupon, member_external_id=member_external_id, order_amount=order_amount, currency=currency
    )
    return CheckoutResult(coupon=coupon, discount=discount, created=False)


@transaction.atomic
def coupon_redeem(
    *,
    program: Program,
    code: str,
    order_reference: str,
    order_amount: Decimal,
    currency: str,
    member_external_id: str | None = None,
    guard: LookupGuard | None = None,
) -> CheckoutResult:
    """Use the coupon on an order. The same order redeeming again gets its first answer."""
    if not order_reference or len(order_reference) > 191:
        raise InvalidInput({"order": [str(_("Give the order's reference (1 to 191 characters)."))]})
    coupon = _find(program=program, code=code, guard=guard, lock=True)
    live = coupon.redemptions.filter(order_reference=order_reference, released_at__isnull=True)
    existing = live.first()
    if existing is not None:
        return CheckoutResult(coupon=coupon, discount=existing.discount, created=False)
    discount = _check(
        coupon, member_external_id=member_external_id, order_amount=order_amount, currency=currency
    )
    Redemption.objects.create(
        coupon=coupon,
        order_reference=order_reference,
        order_amount=order_amount,
        discount=discount,
    )
    coupon.uses_count += 1
    if coupon.uses_count >= coupon.uses_allowed:
        coupon.status = Coupon.Status.REDEEMED
    Coupon.objects.filter(pk=coupon.pk).update(uses_count=F("uses_count") + 1, status=coupon.status)
    CouponEvent.objects.create(
        coupon=coupon,
        kind=CouponEvent.Kind.REDEEMED,
        order_reference=order_reference,
        reason=f"{money.format_money(discount, coupon.currency)} off "
        f"{money.format_money(order_amount, coupon.currency)}",
    )
    webhook_enqueue(
        merchant_id=program.merchant_id,
        event=WebhookEvent.COUPON_REDEEMED,
        occasion=f"{coupon.pk}:{order_reference}",
        payload={
            "coupon": coupon.display_code,
            "member": coupon.member.external_id if coupon.member else None,
            "order": order_reference,
            "discount": str(discount),
            "currency": coupon.currency,
        },
    )
    return CheckoutResult(coupon=coupon, discount=discount)


@transaction.atomic
def coupon_release(
    *, program: Program, code: str, order_reference: str, guard: LookupGuard | None = None
) -> Coupon:
    """Undo the redemption of a cancelled order. The coupon is active again if still valid;
    one that expired meanwhile stays expired. Releasing twice changes nothing more."""
    coupon = _find(program=program, code=code, guard=guard, lock=True)
    redemption = coupon.redemptions.filter(
        order_reference=order_reference, released_at__isnull=True
    ).first()
    if redemption is None:
        if coupon.redemptions.filter(order_reference=order_reference).exists():
            return coupon  # released before: the same answer again
        raise RedemptionNotFound(code=coupon.display_code, order=order_reference)
    now = timezone.now()
    Redemption.objects.filter(pk=redemption.pk).update(released_at=now)
    coupon.uses_count -= 1
    if coupon.status == Coupon.Status.REDEEMED:
        coupon.status = Coupon.Status.ACTIVE if coupon.valid_until > now else Coupon.Status.EXPIRED
    Coupon.objects.filter(pk=coupon.pk).update(uses_count=F("uses_count") - 1, status=coupon.status)
    CouponEvent.objects.create(
        coupon=coupon,
        kind=CouponEvent.Kind.RELEASED,
        order_reference=order_reference,
        reason=f"order cancelled; coupon {coupon.get_status_display()}",
    )
    return coupon
