"""What the profile page shows, read in a fixed number of queries whatever the member's
history: the ledger is paged, past coupons are capped, everything else is per program
(a page of history with transfers on it, outside English, reads them in one more query)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import LedgerEntry, Member, Program, Transfer
from loyalty.selectors import member_ledger, member_summary
from loyalty.services.tiers import badge_card_offered
from rewards.models import Coupon, RewardThreshold
from rewards.selectors import coupon_status, member_coupons, thresholds_of
from rewards.terms import terms_text

HISTORY_PAGE_SIZE = 20
PAST_COUPONS_SHOWN = 20
# Points expiring within this many days are highlighted.
EXPIRY_WARNING_DAYS = 30
TRANSFER_KINDS = (LedgerEntry.Kind.TRANSFER_IN, LedgerEntry.Kind.TRANSFER_OUT)


@dataclass
class HistoryLine:
    entry: LedgerEntry
    kind: str
    text: str


@dataclass
class CouponCard:
    coupon: Coupon
    code: str
    terms: str
    status: str
    status_label: str


@dataclass
class RewardOption:
    points: int
    terms: str
    claimable: bool
    points_missing: int


def entry_text(entry: LedgerEntry, *, language: str, transfer: Transfer | None = None) -> str:
    """Why the points came or went, in the active language where the entry says enough;
    else (and in English) the reason stored with the entry."""
    if language == "en":
        return entry.reason
    if transfer is not None and entry.kind in TRANSFER_KINDS:
        if entry.kind == LedgerEntry.Kind.TRANSFER_OUT:
            text = _("Given to member %(member)s") % {"member": transfer.recipient.external_id}
        else:
            text = _("Received from member %(member)s") % {"member": transfer.sender.external_id}
        return f"{text}: {transfer.note}" if transfer.note else text
    if entry.kind == LedgerEntry.Kind.EARN and entry.order is not None:
        return _("Points for order %(order)s") % {"order": f"#{entry.order.external_id}"}
    if entry.kind == LedgerEntry.Kind.REVERSAL and entry.order is not None:
        return _("Refund of order %(order)s") % {"order": f"#{entry.order.external_id}"}
    if entry.kind == LedgerEntry.Kind.REWARD and entry.coupon is not None:
        return _("Converted into coupon %(code)s") % {"code": entry.coupon.display_code}
    if entry.kind == LedgerEntry.Kind.EXPIRE:
        return _("Points expired after their validity ran out")
    return entry.reason


def _coupon_card(coupon: Coupon, *, now: datetime) -> CouponCard:
    status = coupon_status(coupon, now=now)
    return CouponCard(
        coupon=coupon,
        code=coupon.display_code,
        terms=terms_text(coupon, currency=coupon.currency, localized=True),
        status=status,
        status_label=str(Coupon.Status(status).label),
    )


def _reward_options(
    program: Program, thresholds: list[RewardThreshold], balance: int
) -> list[RewardOption]:
    return [
        RewardOption(
            points=threshold.points,
            terms=terms_text(threshold.template, currency=program.currency, localized=True),
            claimable=balance >= threshold.points,
            points_missing=max(threshold.points - balance, 0),
        )
        for threshold in sorted(thresholds, key=lambda t: t.points)
    ]


def history_page(*, member: Member, page: Any, language: str) -> tuple[Page, list[HistoryLine]]:
    """One page of the ledger, newest first (two queries: the count and the page; a third
    for the transfers on it, when it has some and is not in English)."""
    paginator = Paginator(member_ledger(member=member), HISTORY_PAGE_SIZE)
    current = paginator.get_page(page)
    entries = list(current.object_list)
    transfers: dict[int | None, Transfer] = {}
    if language != "en":
        transfers = _page_transfers(entries)
    lines = [
        HistoryLine(
            entry=entry,
            kind=str(LedgerEntry.Kind(entry.kind).label),
            text=entry_text(entry, language=language, transfer=transfers.get(_transfer_id(entry))),
        )
        for entry in entries
    ]
    return current, lines


def _transfer_id(entry: LedgerEntry) -> int | None:
    if entry.kind not in TRANSFER_KINDS or not isinstance(entry.details, dict):
        return None
    found = entry.details.get("transfer")
    return found if isinstance(found, int) else None


def _page_transfers(entries: list[LedgerEntry]) -> dict[int | None, Transfer]:
    """The transfers behind a page's transfer entries, with both members: one query, and
    only when the page has such an entry (the stored reason is English)."""
    ids = {pk for pk in map(_transfer_id, entries) if pk is not None}
    if not ids:
        return {}
    found = Transfer.objects.filter(pk__in=ids).select_related("sender", "recipient")
    return {transfer.pk: transfer for transfer in found}


def _coupon_cards(member: Member, *, now: datetime) -> tuple[list[CouponCard], list[CouponCard]]:
    """The member's usable coupons, and the newest of those it can no longer use."""
    active = [_coupon_card(c, now=now) for c in member_coupons(member=member, status="active")]
    past_query = (
        Coupon.objects.filter(member=member)
        .exclude(Q(status=Coupon.Status.ACTIVE) & Q(valid_until__gt=now))
        .order_by("-id")
    )
    return active, [_coupon_card(c, now=now) for c in past_query[:PAST_COUPONS_SHOWN]]


def profile_page(*, member: Member, page: Any = 1, language: str = "en") -> dict[str, Any]:
    """Everything the page shows about one member."""
    program = member.program
    now = timezone.now()
    summary = member_summary(member=member)
    thresholds = thresholds_of(program)

    next_reward = summary.get("next_reward")
    reward_progress = None
    if next_reward:
        threshold = next(t for t in thresholds if t.points == next_reward["threshold"])
        reward_progress = {
            **next_reward,
            "terms": terms_text(threshold.template, currency=program.currency, localized=True),
            "percent": min(100, max(0, member.balance) * 100 // threshold.points),
        }

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

    active, past = _coupon_cards(member, now=now)
    history, lines = history_page(member=member, page=page, language=language)
    choice = program.conversion_mode == Program.ConversionMode.CHOICE
    return {
        "summary": summary,
        "reward_progress": reward_progress,
        "tier": summary.get("tier"),
        "next_tier": next_tier,
        "tier_progress": tier_progress,
        "pending_points": summary.get("pending_points") or 0,
        "pending_until": summary.get("pending_until"),
        "expiry_near": expiry_near,
        "active_coupons": active,
        "past_coupons": past,
        "history": history,
        "history_lines": lines,
        "choice_mode": choice,
        "reward_options": _reward_options(program, thresholds, member.balance) if choice else [],
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
