"""Reads of the rewards shared by the API, the admin and the profile page."""

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from loyalty.idempotency import idempotency_answer
from loyalty.models import Member, Program
from loyalty.snapshot import settings_read
from rewards.models import AllowancePeriod, Coupon, Redemption, RewardThreshold
from rewards.periods import period_bounds, zone
from rewards.services.admin_ops import KEY_PREFIX, IssueReport


def coupon_status(coupon: Coupon, *, now: datetime | None = None) -> str:
    """The stored status, except that an active coupon past its window is expired already
    (the hourly expiry job only catches up with it)."""
    now = now or timezone.now()
    if coupon.status == Coupon.Status.ACTIVE and coupon.valid_until <= now:
        return Coupon.Status.EXPIRED
    return coupon.status


def member_coupons(*, member: Member, status: str | None = None) -> QuerySet[Coupon]:
    """The member's coupons, newest first, by status as of now (as ``CouponSerializer``
    shows it: an active coupon past its window counts as expired)."""
    now = timezone.now()
    coupons = (
        Coupon.objects.filter(member=member)
        .select_related("member", "program")
        .annotate(allowance_used=_allowance_used(time_zone=member.program.time_zone, now=now))
    )
    if status == Coupon.Status.ACTIVE:
        coupons = coupons.filter(status=status, valid_until__gt=now)
    elif status == Coupon.Status.EXPIRED:
        coupons = coupons.filter(
            Q(status=status) | Q(status=Coupon.Status.ACTIVE, valid_until__lte=now)
        )
    elif status:
        coupons = coupons.filter(status=status)
    return coupons.order_by("-id")


def _allowance_used(*, time_zone: str, now: datetime) -> Count:
    """Live redemptions since the start of the coupon's current allowance period."""
    tz = zone(time_zone)
    in_period = Q()
    for period in AllowancePeriod.values:
        start, _end = period_bounds(period, now=now, tz=tz)
        in_period |= Q(allowance_period=period, redemptions__redeemed_at__gte=start)
    return Count("redemptions", filter=Q(redemptions__released_at__isnull=True) & in_period)


def allowance_of(coupon: Coupon, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The perk allowance as the API shows it: ``{uses, period, left, resets_at}``; the
    uses of the current period are counted unless checkout or ``member_coupons`` did. A
    promotion coupon's ``left`` is one customer's: the member's at checkout, else all of it."""
    if coupon.allowance_uses is None:
        return None
    now = now or timezone.now()
    start, end = period_bounds(coupon.allowance_period, now=now, tz=zone(coupon.program.time_zone))
    if getattr(coupon, "allowance_used", None) is None:
        if coupon.member_id is None:
            # A promotion's allowance is each customer's (``rewards.services.checkout``):
            # counted for the member named at checkout; otherwise what a customer starts with.
            coupon.allowance_used = 0  # type: ignore[attr-defined]
        else:
            coupon.allowance_used = Redemption.objects.filter(  # type: ignore[attr-defined]
                coupon_id=coupon.pk, released_at__isnull=True, redeemed_at__gte=start
            ).count()
    return {
        "uses": coupon.allowance_uses,
        "period": coupon.allowance_period,
        "left": coupon.allowance_left,
        "resets_at": end,
    }


def thresholds_of(program: Program) -> list[RewardThreshold]:
    """The program's thresholds, largest first, with their templates (kept per process
    under the program's settings version, ``loyalty.snapshot``)."""
    return settings_read(
        "thresholds",
        program,
        lambda: list(
            RewardThreshold.objects.filter(program=program)
            .select_related("template")
            .order_by("-points")
        ),
    )


def report_get(*, key: str, merchant_id: int | None) -> IssueReport | None:
    """A batch's report by its key, within one merchant (None: any, for superusers)."""
    body = idempotency_answer(key=f"{KEY_PREFIX}{key}", merchant_id=merchant_id)
    if not isinstance(body, dict):
        return None
    return IssueReport.from_body(key, body, replayed=True)
