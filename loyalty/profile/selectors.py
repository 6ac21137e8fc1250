"""What the profile page shows, read in a fixed number of queries whatever the member's
history: the ledger is paged by keyset (no OFFSET, no count of it), the page shows the
newest coupons and the coupons page the rest by keyset, the tier's progress is summed by
PostgreSQL from the member's tier points by day, and everything else comes from the
member's row or the program's settings (a page of history with transfers on it reads them
in one more query)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import JSONField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone

from loyalty.content import localized
from loyalty.models import Member, Program
from loyalty.profile.explain import how_it_works
from loyalty.profile.history import history_page
from loyalty.profile.keyset import keyset_page
from loyalty.selectors import member_summary
from loyalty.services.tiers import badge_card_offered
from rewards.models import Coupon, CouponEvent, CouponTemplate, RewardThreshold
from rewards.selectors import coupon_status, member_coupons, thresholds_of
from rewards.terms import terms_text

# The page shows the newest few; the coupons page (``coupons_page``) lists them all.
ACTIVE_COUPONS_SHOWN = 6
PAST_COUPONS_SHOWN = 5
COUPONS_PAGE_SIZE = 20
# Points expiring within this many days are highlighted.
EXPIRY_WARNING_DAYS = 30


@dataclass
class CouponCard:
    coupon: Coupon
    code: str
    terms: str
    status: str
    status_label: str
    # The reward's name in the page's language; empty for a coupon without a template.
    name: str = ""
    # A tier perk: the tier's name in the page's language (``rewards.services.perks``).
    perk_tier: str = ""
    # Why staff gave it (a compensation or promotion), in the page's language; else empty.
    reason: str = ""
    # Why staff cancelled it (a void by hand), in the page's language; else empty.
    void_reason: str = ""


@dataclass
class RewardOption:
    points: int
    terms: str
    claimable: bool
    points_missing: int
    name: str = ""


def reward_name(template: CouponTemplate | None, *, language: str | None) -> str:
    """A coupon template's name as the member reads it (the base name as the fallback)."""
    return localized(template.name, template.name_i18n, language) if template else ""


def _coupon_card(coupon: Coupon, *, now: datetime, language: str | None) -> CouponCard:
    status = coupon_status(coupon, now=now)
    return CouponCard(
        coupon=coupon,
        code=coupon.display_code,
        terms=terms_text(coupon, currency=coupon.currency, localized=True),
        status=status,
        status_label=str(Coupon.Status(status).label),
        name=reward_name(coupon.template, language=language),
        perk_tier=_perk_tier_name(coupon, language=language),
        reason=_given_why(coupon, language=language),
        void_reason=_void_why(coupon, language=language),
    )


def _perk_tier_name(coupon: Coupon, *, language: str | None) -> str:
    tier = coupon.perk_tier if coupon.perk_tier_id is not None else None
    if tier is None:
        return ""
    return localized(tier.name, tier.name_i18n, language)


def _void_why(coupon: Coupon, *, language: str | None) -> str:
    """Staff's reason for cancelling the coupon, as its member reads it (the past cards'
    ``voided`` annotation: the coupon's last staff void)."""
    voided = getattr(coupon, "voided", None)
    if coupon.status != Coupon.Status.VOID or not isinstance(voided, dict):
        return ""
    return localized(str(voided.get("reason") or ""), voided.get("reason_i18n"), language)


def _given_why(coupon: Coupon, *, language: str | None) -> str:
    """A staff-given coupon's reason as its member reads it (the base reason the fallback)."""
    if coupon.source not in (Coupon.Source.COMPENSATION, Coupon.Source.PROMOTION):
        return ""
    return localized(coupon.reason, coupon.reason_i18n, language)


def _reward_options(
    program: Program, thresholds: list[RewardThreshold], balance: int, language: str | None
) -> list[RewardOption]:
    return [
        RewardOption(
            points=threshold.points,
            terms=terms_text(threshold.template, currency=program.currency, localized=True),
            claimable=balance >= threshold.points,
            points_missing=max(threshold.points - balance, 0),
            name=reward_name(threshold.template, language=language),
        )
        for threshold in sorted(thresholds, key=lambda t: t.points)
    ]


def _active(member: Member) -> QuerySet[Coupon]:
    return member_coupons(member=member, status="active").select_related("template", "perk_tier")


def _past(member: Member, *, now: datetime) -> QuerySet[Coupon]:
    return (
        Coupon.objects.filter(member=member)
        .exclude(Q(status=Coupon.Status.ACTIVE) & Q(valid_until__gt=now))
        .select_related("template", "perk_tier")
        .annotate(voided=_staff_void())
        .order_by("-id")
    )


def _coupon_cards(
    member: Member, *, now: datetime, language: str | None
) -> tuple[list[CouponCard], list[CouponCard], bool]:
    """The member's newest usable coupons, the newest it can no longer use (each with its
    template, for the reward's name: a join, not a query), and whether it holds more than
    these (one row more is read, nothing counted)."""
    active = list(_active(member)[: ACTIVE_COUPONS_SHOWN + 1])
    past = list(_past(member, now=now)[: PAST_COUPONS_SHOWN + 1])
    more = len(active) > ACTIVE_COUPONS_SHOWN or len(past) > PAST_COUPONS_SHOWN
    return (
        [_coupon_card(c, now=now, language=language) for c in active[:ACTIVE_COUPONS_SHOWN]],
        [_coupon_card(c, now=now, language=language) for c in past[:PAST_COUPONS_SHOWN]],
        more,
    )


@dataclass
class CouponsPage:
    cards: list[CouponCard]
    past: bool
    newer: int | None
    older: int | None


def coupons_page(
    *,
    member: Member,
    past: bool = False,
    before: int | None = None,
    after: int | None = None,
    language: str | None = None,
) -> CouponsPage:
    """All the member's usable coupons (or, ``past``, those it can no longer use), a keyset
    page at a time, newest first: one query whatever their number."""
    now = timezone.now()
    rows = _past(member, now=now) if past else _active(member)
    page = keyset_page(rows, size=COUPONS_PAGE_SIZE, before=before, after=after)
    cards = [_coupon_card(c, now=now, language=language) for c in page.rows]
    return CouponsPage(cards=cards, past=past, newer=page.newer, older=page.older)


def _staff_void() -> Subquery:
    """A coupon's last void by staff, ``{"reason", "reason_i18n"}``: in the coupons' query
    (one index probe a card shown), not a query a card. A refund's void (no staff) has none:
    its history line says why."""
    events = CouponEvent.objects.filter(
        coupon=OuterRef("pk"), kind=CouponEvent.Kind.VOIDED, by__isnull=False
    ).order_by("-id")
    why = JSONObject(reason="reason", reason_i18n="reason_i18n")
    return Subquery(events.values_list(why)[:1], output_field=JSONField())


def _reward_progress(
    member: Member, summary: dict[str, Any], thresholds: list[RewardThreshold], language: str | None
) -> dict[str, Any] | None:
    next_reward = summary.get("next_reward")
    if not next_reward:
        return None
    threshold = next(t for t in thresholds if t.points == next_reward["threshold"])
    return {
        **next_reward,
        "terms": terms_text(threshold.template, currency=member.program.currency, localized=True),
        "name": reward_name(threshold.template, language=language),
        "percent": min(100, max(0, member.balance) * 100 // threshold.points),
    }


def _balance(member: Member) -> dict[str, Any]:
    return {
        # Only a refund pushes a balance below zero: it took back points already spent
        # on a coupon; the next orders fill the gap first.
        "negative_balance": member.balance < 0,
        # The unit's plural form follows the number as read: "-736 баллов", not "балла".
        "balance_count": abs(member.balance),
    }


def profile_page(
    *,
    member: Member,
    before: int | None = None,
    after: int | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """Everything the page shows about one member."""
    program = member.program
    now = timezone.now()
    summary = member_summary(member=member)
    thresholds = thresholds_of(program)

    next_tier = summary.get("next_tier")
    tier_progress = None
    if next_tier and next_tier.get("min_points"):
        tier_progress = min(100, next_tier.get("window_points", 0) * 100 // next_tier["min_points"])

    expire_at = summary.get("points_expire_at")
    expiry_near = bool(
        expire_at
        and summary.get("points_expiring")
        and expire_at - now <= timedelta(days=EXPIRY_WARNING_DAYS)
    )

    active, past, more_coupons = _coupon_cards(member, now=now, language=language)
    history = history_page(member=member, before=before, after=after)
    choice = program.conversion_mode == Program.ConversionMode.CHOICE
    return {
        "summary": summary,
        **_balance(member),
        "reward_progress": _reward_progress(member, summary, thresholds, language),
        "tier": summary.get("tier"),
        "next_tier": next_tier,
        "tier_progress": tier_progress,
        "pending_points": summary.get("pending_points") or 0,
        "pending_until": summary.get("pending_until"),
        "expiry_near": expiry_near,
        "active_coupons": active,
        "past_coupons": past,
        "more_coupons": more_coupons,
        "history": history,
        "history_lines": history.lines,
        "how": how_it_works(program=program, thresholds=thresholds, tier_id=member.tier_id),
        "choice_mode": choice,
        "reward_options": (
            _reward_options(program, thresholds, member.balance, language) if choice else []
        ),
        # The sections below read only the program and member rows loaded above: no query.
        "transfers_enabled": program.transfers_enabled,
        "badge": {
            # Offered by the tier's flag; a card already on can always be turned off.
            "offered": badge_card_offered((summary.get("tier") or {}).get("flags"))
            or member.badge_enabled,
            "enabled": member.badge_enabled,
            "token": member.badge_token if member.badge_enabled else None,
        },
    }
