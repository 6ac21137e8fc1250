"""The member's history on the profile page: one page of ledger entries, each told in the
active language with its calculation.

A page is found by keyset (``loyalty.profile.keyset``), and nothing counts the whole
history: a page costs the same at entry 20 as at entry 10,000. Each line is built from the
entry's structured fields (kind, points, ``details``, its order, refund and coupon), not
from the English ``reason`` stored for staff; only texts that staff typed (a grant's
reason) are shown as they were written.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models.fields.json import KeyTransform
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty import money
from loyalty.content import REASON_KEY, localized
from loyalty.models import LedgerEntry, Member, Tier, Transfer
from loyalty.profile.keyset import keyset_page
from loyalty.selectors import member_ledger
from loyalty.services.tiers import program_tiers

HISTORY_PAGE_SIZE = 20
TRANSFER_KINDS = (LedgerEntry.Kind.TRANSFER_IN, LedgerEntry.Kind.TRANSFER_OUT)


@dataclass
class HistoryLine:
    entry: LedgerEntry
    kind: str
    text: str
    # The order's date for an order's points (a batch sent later still shows when the
    # customer bought), else when the entry was written.
    when: datetime


@dataclass
class HistoryPage:
    lines: list[HistoryLine]
    # Ids to page from: the "Newer" link shows entries after ``newer``, "Older" before ``older``.
    newer: int | None
    older: int | None


def history_page(
    *, member: Member, before: int | None = None, after: int | None = None
) -> HistoryPage:
    """One page of the ledger, newest first: the newest entries, those just older than
    ``before`` or just newer than ``after``. One query (a second for the transfers on it)."""
    # An order's lines and full breakdown are large JSON the line does not need (the
    # entry's own details carry its calculation); only the breakdown's campaigns, which
    # keep their names per language, are read.
    entries = (
        member_ledger(member=member)
        .defer("order__lines", "order__earning")
        .annotate(order_campaigns=KeyTransform("campaigns", "order__earning"))
    )
    page = keyset_page(entries, size=HISTORY_PAGE_SIZE, before=before, after=after)
    rows = page.rows
    transfers = _page_transfers(rows)
    # The tiers' names per language, kept per process with the program's settings: no query.
    tiers = {tier.name: tier for tier in program_tiers(member.program)}
    lines = [
        HistoryLine(
            entry=entry,
            kind=str(LedgerEntry.Kind(entry.kind).label),
            text=entry_text(entry, transfer=transfers.get(_transfer_id(entry)), tiers=tiers),
            when=_when(entry),
        )
        for entry in rows
    ]
    return HistoryPage(lines=lines, newer=page.newer, older=page.older)


def _when(entry: LedgerEntry) -> datetime:
    if entry.kind == LedgerEntry.Kind.EARN and entry.order is not None:
        return entry.order.placed_at
    return entry.created_at


def _number(value: Any) -> str:
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return formats.number_format(found.normalize(), use_l10n=True, force_grouping=True)


def _points(value: int) -> str:
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def earn_text(entry: LedgerEntry, tiers: dict[str, Tier] | None = None) -> str:
    """'Order #1042: 309.00 EUR × 10 points × 2 (Diamond) = 3,090 points', from the entry's
    details (base, rate, tier multiplier, total) and its order's currency."""
    order = entry.order
    assert order is not None
    label = f"#{order.external_id}"
    details = entry.details if isinstance(entry.details, dict) else {}
    campaigns = _campaign_names(getattr(entry, "order_campaigns", None))
    if "base" not in details or "rate" not in details:
        if "pending_since" in details:
            text = _("Points for order %(order)s, counted once its return window ended") % {
                "order": label
            }
        else:
            text = _("Points for order %(order)s") % {"order": label}
        return f"{text} ({campaigns})" if campaigns else text
    try:
        base = money.format_money_localized(Decimal(str(details["base"])), order.currency)
    except (InvalidOperation, ValueError):
        base = str(details["base"])
    try:
        factor = Decimal(str(details.get("tier_multiplier") or 1)) if details.get("tier") else 1
        plain = money.floor_points(
            Decimal(str(details["base"])) * Decimal(str(details["rate"])) * factor
        )
    except (InvalidOperation, ValueError):
        plain = entry.points
    text = _("Order %(order)s: %(amount)s × %(rate)s points per %(currency)s") % {
        "order": label,
        "amount": base,
        "rate": _number(details["rate"]),
        "currency": order.currency,
    }
    if details.get("tier"):
        tier = (tiers or {}).get(str(details["tier"]))
        text += " " + _("× %(factor)s for your tier %(tier)s") % {
            "factor": _number(details.get("tier_multiplier") or 1),
            "tier": localized(tier.name, tier.name_i18n) if tier else details["tier"],
        }
    text += " = " + ngettext("%(points)s point", "%(points)s points", plain) % {
        "points": _points(plain)
    }
    if plain != entry.points:
        # Bonus rules, campaigns or a cap changed the plain calculation.
        text += " · " + ngettext(
            "%(points)s point with bonus rules, campaigns and limits",
            "%(points)s points with bonus rules, campaigns and limits",
            entry.points,
        ) % {"points": _points(entry.points)}
    if campaigns:
        text += " · " + campaigns
    return text


def _campaign_names(campaigns: Any) -> str:
    """The campaigns that raised an order's points, named in the active language (their
    names are kept with the order's earning: no query)."""
    names = [
        localized(str(line.get("campaign") or ""), line.get("name_i18n"))
        for line in campaigns or []
        if isinstance(line, dict)
    ]
    return ", ".join(dict.fromkeys(name for name in names if name))


def _transfer_text(entry: LedgerEntry, transfer: Transfer | None) -> str:
    if transfer is None:
        if entry.kind == LedgerEntry.Kind.TRANSFER_OUT:
            return _("Points given to another member")
        return _("Points received from another member")
    if entry.kind == LedgerEntry.Kind.TRANSFER_OUT:
        text = _("Given to member %(member)s") % {"member": transfer.recipient.external_id}
    else:
        text = _("Received from member %(member)s") % {"member": transfer.sender.external_id}
    return f"{text}: {transfer.note}" if transfer.note else text


def _reversal_text(entry: LedgerEntry) -> str:
    order = entry.order
    if entry.refund is not None and order is not None:
        return _("Refund of %(amount)s on order %(order)s: its points are taken back") % {
            "amount": money.format_money_localized(entry.refund.amount, order.currency),
            "order": f"#{order.external_id}",
        }
    if order is not None:
        return _("Refund of order %(order)s") % {"order": f"#{order.external_id}"}
    details = entry.details if isinstance(entry.details, dict) else {}
    if details.get("order"):
        return _("Bonus taken back: order %(order)s was refunded") % {
            "order": f"#{details['order']}"
        }
    return _("Points taken back after a refund")


def _bonus_text(entry: LedgerEntry) -> str:
    details = entry.details if isinstance(entry.details, dict) else {}
    if entry.idempotency_key.startswith("referral:"):
        return _("Referral bonus for the first order %(order)s") % {
            "order": f"#{details.get('order', '')}"
        }
    if entry.idempotency_key == "signup":
        return _("Welcome bonus for joining")
    if "year" in details:
        return _("Birthday bonus %(year)s") % {"year": details["year"]}
    return _("Bonus points")


def entry_text(
    entry: LedgerEntry, *, transfer: Transfer | None = None, tiers: dict[str, Tier] | None = None
) -> str:
    """Why the points came or went, in the active language."""
    kind = entry.kind
    if kind == LedgerEntry.Kind.EARN and entry.order is not None:
        return earn_text(entry, tiers)
    if kind in TRANSFER_KINDS:
        return _transfer_text(entry, transfer)
    if kind == LedgerEntry.Kind.REVERSAL:
        return _reversal_text(entry)
    if kind == LedgerEntry.Kind.REWARD and entry.coupon is not None:
        return _("Converted into coupon %(code)s") % {"code": entry.coupon.display_code}
    if kind == LedgerEntry.Kind.EXPIRE:
        return _("Points expired after their validity ran out")
    if kind == LedgerEntry.Kind.BONUS:
        return _bonus_text(entry)
    details = entry.details if isinstance(entry.details, dict) else {}
    if kind == LedgerEntry.Kind.ADJUSTMENT and isinstance(details.get("void"), dict):
        return _void_text(details["void"])
    # Grants, deductions and adjustments: the reason the shop's staff wrote, in the
    # member's language where they wrote it in that language too.
    return localized(entry.reason, details.get(REASON_KEY))


def _void_text(void: dict[str, Any]) -> str:
    """A cancelled coupon's points back: staff's reason in the member's language (where they
    gave it in that language, else as written), or the refund that cancelled it."""
    code = str(void.get("coupon") or "")
    if not void.get("reason"):
        text = _("Coupon %(code)s was cancelled after the refund of order %(order)s: its "
                 "points are back")  # fmt: skip
        return text % {"code": code, "order": f"#{void.get('order', '')}"}
    reason = localized(str(void["reason"]), void.get(REASON_KEY))
    return _("Coupon %(code)s was cancelled (%(reason)s): its points are back") % {
        "code": code,
        "reason": reason,
    }


def _transfer_id(entry: LedgerEntry) -> int | None:
    if entry.kind not in TRANSFER_KINDS or not isinstance(entry.details, dict):
        return None
    found = entry.details.get("transfer")
    return found if isinstance(found, int) else None


def _page_transfers(entries: Sequence[LedgerEntry]) -> dict[int | None, Transfer]:
    """The transfers behind a page's transfer entries, with both members: one query, and
    only when the page has such an entry."""
    ids = {pk for pk in map(_transfer_id, entries) if pk is not None}
    if not ids:
        return {}
    found = Transfer.objects.filter(pk__in=ids).select_related("sender", "recipient")
    return {transfer.pk: transfer for transfer in found}
