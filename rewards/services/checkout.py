"""Coupons at checkout: validate, redeem, release.

Every refusal names what is wrong and what to do. A redemption locks the coupon
row, so of any number of concurrent redemptions of a single-use coupon exactly
one succeeds; the check constraint ``uses_count <= uses_allowed`` is the
guarantee underneath. Uses per member and per period are counted under the same
lock, and only for coupons that have such limits (no extra query otherwise). A promotion
coupon (bound to no member) counts its allowance per customer: the redemption must name the
member (``coupon_member_required``), and one customer's uses leave the others' alone.

With the order's lines, the discount is answered line by line (``rewards.lines``);
without them, off the order amount as before. A free product or a scoped coupon
needs the lines; free shipping needs the shipping amount.
"""

from dataclasses import dataclass, field
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
    CouponAllowanceUsedUp,
    CouponAlreadyRedeemed,
    CouponCurrencyMismatch,
    CouponExpired,
    CouponLinesRequired,
    CouponMemberLimitReached,
    CouponMemberRequired,
    CouponMinOrderNotMet,
    CouponNotFound,
    CouponNotYetValid,
    CouponVoid,
    CouponWrongMember,
    NoEligibleItems,
    RedemptionNotFound,
)
from rewards.lines import Line, LineDiscount, answer, needs_lines, scope_of, shipping_discount
from rewards.models import Coupon, CouponEvent, Redemption
from rewards.periods import period_bounds, zone
from rewards.ratelimit import LookupGuard
from rewards.terms import applies_to, discount_for


@dataclass
class CheckoutResult:
    """``discount`` is all the coupon takes off: the lines' part and ``shipping_discount``."""

    coupon: Coupon
    discount: Decimal
    created: bool = True
    shipping_discount: Decimal = Decimal(0)
    lines: list[LineDiscount] = field(default_factory=list)


@dataclass(frozen=True)
class Basket:
    """What checkout knows of the order: its amount, and optionally its lines and shipping."""

    order_amount: Decimal
    currency: str
    lines: list[Line] | None = None
    shipping_amount: Decimal | None = None


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


def _basket_check(basket: Basket) -> str:
    """The basket's amounts, in the currency: the currency upper case, or InvalidInput."""
    currency, amount = basket.currency.upper(), basket.order_amount
    if not amount.is_finite() or amount <= 0 or amount > money.MAX_AMOUNT:
        raise InvalidInput({"order_amount": [str(_("Give the order amount, above zero."))]})
    errors: dict[str, list[str]] = {}
    too_many = str(_("Too many decimals for %s.")) % currency
    if not money.fits_currency(amount, currency):
        errors["order_amount"] = [too_many]
    lines = enumerate(basket.lines or [])
    prices = [(f"lines.{n}.unit_price", line.unit_price) for n, line in lines]
    if basket.shipping_amount is not None:
        prices.append(("shipping_amount", basket.shipping_amount))
    for name, price in prices:
        if not price.is_finite() or price < 0 or price > money.MAX_AMOUNT:
            errors[name] = [str(_("Give an amount of zero or more."))]
        elif not money.fits_currency(price, currency):
            errors[name] = [too_many]
    if errors:
        raise InvalidInput(errors)
    return currency


def _check_usable(coupon: Coupon, *, member_external_id: str | None, basket: Basket) -> None:
    """Why this coupon cannot be used on this order, in the order a customer can act on."""
    currency = _basket_check(basket)
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
    if basket.order_amount < coupon.min_order_amount:
        raise CouponMinOrderNotMet(
            missing=money.format_money(coupon.min_order_amount - basket.order_amount, currency),
            minimum=money.format_money(coupon.min_order_amount, currency),
        )


def _member_of(coupon: Coupon, member_external_id: str | None) -> str:
    """Whose use this is: the member given, or the member the coupon belongs to."""
    if member_external_id:
        return member_external_id
    return coupon.member.external_id if coupon.member is not None else ""


def _check_limits(coupon: Coupon, *, program: Program, member: str) -> None:
    """Uses per member and the allowance of the current period. Counted only for coupons
    that have them; under the row lock when redeeming, so they hold under concurrency."""
    live = Redemption.objects.filter(coupon_id=coupon.pk, released_at__isnull=True)
    if coupon.uses_per_member is not None:
        if not member:
            raise CouponMemberRequired()
        if live.filter(member_reference=member).count() >= coupon.uses_per_member:
            raise CouponMemberLimitReached(uses=coupon.uses_per_member)
    if coupon.allowance_uses is not None:
        start, end = period_bounds(
            coupon.allowance_period, now=timezone.now(), tz=zone(program.time_zone)
        )
        in_period = live.filter(redeemed_at__gte=start)
        if coupon.member_id is None:
            # A promotion's allowance is each customer's: "2 uses a quarter" per customer,
            # counted by the member named at checkout, so it needs one.
            if not member:
                raise CouponMemberRequired()
            in_period = in_period.filter(member_reference=member)
        used = in_period.count()
        coupon.allowance_used = used  # type: ignore[attr-defined]  # for the answer
        if used >= coupon.allowance_uses:
            raise CouponAllowanceUsedUp(uses=coupon.allowance_uses, date=_date(end))


def _quote(coupon: Coupon, *, basket: Basket) -> CheckoutResult:
    """The discount: line by line when the lines are given, plus the shipping's."""
    currency = coupon.currency
    rows: list[LineDiscount] = []
    if basket.lines is None:
        if needs_lines(coupon):
            raise CouponLinesRequired(applies=applies_to(coupon))
        items = discount_for(coupon, order_amount=basket.order_amount, currency=currency)
    else:
        result = answer(coupon, lines=basket.lines, currency=currency)
        if needs_lines(coupon) and not result.any_eligible:
            raise NoEligibleItems(
                applies=applies_to(coupon),
                extra={
                    "lines": [_line_out(row, currency) for row in result.lines],
                    "scope": _scope_out(coupon),
                },
            )
        items, rows = min(result.discount, basket.order_amount), result.lines
    shipping = Decimal(0)
    if coupon.kind == "free_shipping":
        if basket.shipping_amount is None:
            message = _("Give the order's shipping amount: this coupon takes it off.")
            raise InvalidInput({"shipping_amount": [str(message)]})
        shipping = shipping_discount(
            coupon, shipping_amount=basket.shipping_amount, currency=currency
        )
    return CheckoutResult(
        coupon=coupon,
        discount=money.round_money(items + shipping, currency),
        created=False,
        shipping_discount=money.round_money(shipping, currency),
        lines=rows,
    )


def _line_out(row: LineDiscount, currency: str) -> dict[str, Any]:
    """A line's answer as stored with a redemption and shown in a refusal."""
    discount = money.money_str(row.discount, currency)
    return {"index": row.index, "sku": row.sku, "eligible": row.eligible, "discount": discount}


def _line_in(data: dict[str, Any]) -> LineDiscount:
    return LineDiscount(
        index=data["index"], sku=data["sku"], eligible=data["eligible"],
        discount=Decimal(data["discount"]),
    )  # fmt: skip


def _scope_out(coupon: Coupon) -> dict[str, Any]:
    """What would qualify: the scope's lists, or the free product."""
    if coupon.kind == "free_product":
        return {"product_sku": coupon.product_sku, "product_category": coupon.product_category}
    return scope_of(coupon)


def _check(
    coupon: Coupon, *, program: Program, member_external_id: str | None, basket: Basket
) -> CheckoutResult:
    _check_usable(coupon, member_external_id=member_external_id, basket=basket)
    _check_limits(coupon, program=program, member=_member_of(coupon, member_external_id))
    return _quote(coupon, basket=basket)


def coupon_validate(
    *,
    program: Program,
    code: str,
    order_amount: Decimal,
    currency: str,
    member_external_id: str | None = None,
    guard: LookupGuard | None = None,
    lines: list[Line] | None = None,
    shipping_amount: Decimal | None = None,
) -> CheckoutResult:
    """Would this coupon apply to this order, and for what discount? Changes nothing."""
    coupon = _find(program=program, code=code, guard=guard, lock=False)
    coupon.program = program
    basket = Basket(order_amount, currency, lines, shipping_amount)
    return _check(coupon, program=program, member_external_id=member_external_id, basket=basket)


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
    lines: list[Line] | None = None,
    shipping_amount: Decimal | None = None,
) -> CheckoutResult:
    """Use the coupon on an order. The same order redeeming again gets its first answer."""
    if not order_reference or len(order_reference) > 191:
        raise InvalidInput({"order": [str(_("Give the order's reference (1 to 191 characters)."))]})
    coupon = _find(program=program, code=code, guard=guard, lock=True)
    coupon.program = program
    live = coupon.redemptions.filter(order_reference=order_reference, released_at__isnull=True)
    existing = live.first()
    if existing is not None:
        return CheckoutResult(
            coupon=coupon,
            discount=existing.discount,
            created=False,
            shipping_discount=existing.shipping_discount,
            lines=[_line_in(line) for line in existing.lines],
        )
    basket = Basket(order_amount, currency, lines, shipping_amount)
    result = _check(coupon, program=program, member_external_id=member_external_id, basket=basket)
    _redemption_write(
        program=program,
        coupon=coupon,
        result=result,
        order_reference=order_reference,
        member=_member_of(coupon, member_external_id),
        order_amount=order_amount,
    )
    result.created = True
    return result


def _redemption_write(
    *,
    program: Program,
    coupon: Coupon,
    result: CheckoutResult,
    order_reference: str,
    member: str,
    order_amount: Decimal,
) -> None:
    """The redemption, the coupon's use (and status), its event and the webhook."""
    discount = result.discount
    Redemption.objects.create(
        coupon=coupon,
        order_reference=order_reference,
        order_amount=order_amount,
        discount=discount,
        shipping_discount=result.shipping_discount,
        lines=[_line_out(row, coupon.currency) for row in result.lines],
        member_reference=member,
    )
    coupon.uses_count += 1
    if hasattr(coupon, "allowance_used"):
        coupon.allowance_used += 1
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
            "discount": money.money_str(discount, coupon.currency),
            "shipping_discount": money.money_str(result.shipping_discount, coupon.currency),
            "currency": coupon.currency,
        },
    )


@transaction.atomic
def coupon_release(
    *, program: Program, code: str, order_reference: str, guard: LookupGuard | None = None
) -> Coupon:
    """Undo the redemption of a cancelled order. The coupon is active again if still valid;
    one that expired meanwhile stays expired. Releasing twice changes nothing more."""
    coupon = _find(program=program, code=code, guard=guard, lock=True)
    coupon.program = program
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
