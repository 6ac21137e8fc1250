"""The quote: what an order would earn, computed exactly as ``order_record`` would, and
written nowhere.

Invariant: no INSERT, UPDATE or lock; the numbers come from the same functions the
order uses (``earn_breakdown``, the bonus rules, the reward thresholds), so recording
the same order right after gives the same points, bonuses and coupons.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.models import EarningRule, LedgerEntry, Member, Order, Program
from loyalty.services.bonuses import bonus_rule
from loyalty.services.earning import EarnBreakdown, earn_breakdown
from loyalty.services.orders import order_input
from loyalty.services.tiers import tier_preview
from rewards.models import RewardThreshold
from rewards.services.conversion import MAX_CONVERSIONS_PER_WRITE, thresholds_of
from rewards.services.thresholds import TERM_FIELDS


@dataclass
class QuoteBonus:
    kind: str
    points: int
    reason: str


@dataclass
class Quote:
    external_id: str
    member: str
    member_exists: bool
    already_recorded: bool
    earning: EarnBreakdown
    bonuses: list[QuoteBonus]
    balance_before: int
    balance_after: int
    coupons: list[dict[str, Any]] = field(default_factory=list)
    tier: str | None = None


def order_quote(
    *,
    program: Program,
    external_id: str,
    member_external_id: str,
    amount: Decimal,
    currency: str,
    placed_at: datetime | None = None,
    breakdown: dict[str, Decimal] | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> Quote:
    """What ``order_record`` with the same arguments would earn now. Changes nothing."""
    # The same checks as the order's, in the same order: the same refusals.
    checked = order_input(
        program=program, external_id=external_id, member_external_id=member_external_id,
        amount=amount, currency=currency, placed_at=placed_at, breakdown=breakdown, lines=lines,
    )  # fmt: skip
    currency, placed_at, parts = checked.currency, checked.placed_at, checked.parts
    member = Member.objects.filter(program=program, external_id=member_external_id).first()
    exists = member is not None
    if member is None:
        # The member the order would create, as member_lock makes it.
        member = Member(program=program, external_id=member_external_id)
    member.program = program
    earned = earn_breakdown(
        program=program,
        member=member,
        external_id=external_id,
        amount=amount,
        currency=currency,
        breakdown=parts,
        lines=checked.lines,
        placed_at=placed_at,
    )
    bonuses = _bonuses(program=program, member=member, exists=exists)
    balance = member.balance
    after = balance + earned.total + sum(b.points for b in bonuses)
    return Quote(
        external_id=external_id,
        member=member_external_id,
        member_exists=exists,
        already_recorded=Order.objects.filter(program=program, external_id=external_id).exists(),
        earning=earned,
        bonuses=bonuses,
        balance_before=balance,
        balance_after=after,
        coupons=_coupons(program=program, balance=after),
        tier=tier_preview(program=program, member=member, points=earned.total),
    )


def _bonuses(*, program: Program, member: Member, exists: bool) -> list[QuoteBonus]:
    """The sign-up bonus of a member the order creates; the referred member's share of a
    referral the first order pays (as ``signup_bonus_award`` / ``referral_on_first_order``)."""
    found: list[QuoteBonus] = []
    if not exists:
        rule = bonus_rule(program=program, kind=EarningRule.Kind.SIGNUP)
        if rule is not None:
            points = int(rule.parameters["points"])
            found.append(
                QuoteBonus(
                    kind="signup", points=points, reason=f"Sign-up bonus (rule '{rule.name}')"
                )
            )
        return found
    if member.referred_by_id is None or Order.objects.filter(member=member).exists():
        return found
    rule = bonus_rule(program=program, kind=EarningRule.Kind.REFERRAL)
    if (
        rule is not None
        and not LedgerEntry.objects.filter(
            member=member, idempotency_key=f"referral:{member.pk}"
        ).exists()
    ):
        points = int(rule.parameters["referred_points"])
        found.append(
            QuoteBonus(
                kind="referral", points=points, reason=f"Referral bonus (rule '{rule.name}')"
            )
        )
    return found


def _coupons(*, program: Program, balance: int) -> list[dict[str, Any]]:
    """The coupons automatic conversion would issue from ``balance`` (as ``rewards_convert``)."""
    if program.conversion_mode != Program.ConversionMode.AUTOMATIC:
        return []
    thresholds: list[RewardThreshold] = thresholds_of(program)
    issued: list[dict[str, Any]] = []
    while len(issued) < MAX_CONVERSIONS_PER_WRITE:
        threshold = next((t for t in thresholds if t.points <= balance), None)
        if threshold is None:
            break
        balance -= threshold.points
        issued.append(
            {
                "points": threshold.points,
                "coupon": {name: getattr(threshold.template, name) for name in TERM_FIELDS},
            }
        )
    return issued
