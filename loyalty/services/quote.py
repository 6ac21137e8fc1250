"""The quote: what an order would earn, computed exactly as ``order_record`` would, and
written nowhere.

Invariant: no INSERT, UPDATE or lock; the numbers come from the same functions the
order uses (``earn_breakdown``, the bonus rules, the reward thresholds), so recording
the same order right after gives the same points, bonuses and coupons.
"""

from dataclasses import dataclass, field
from typing import Any, Unpack

from django.utils import timezone

from loyalty.models import EarningRule, Member, Order, Program, Tier
from loyalty.rules import bonuses
from loyalty.rules import tiers as tier_rules
from loyalty.rules.conversion import conversions
from loyalty.rules.earning import EarnBreakdown
from loyalty.services.bonuses import bonus_rule
from loyalty.services.earning import program_campaigns
from loyalty.services.earning_rules import program_rules
from loyalty.services.order_input import OrderFields, order_input
from loyalty.services.tiers import program_tiers, tier_preview
from loyalty.storage import accounts
from rewards.selectors import thresholds_of
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
    **fields: Unpack[OrderFields],
) -> Quote:
    """What ``order_record`` with the same arguments would earn now. Changes nothing."""
    # The same checks as the order's, in the same order: the same refusals.
    checked = order_input(program=program, **fields)
    member = Member.objects.filter(program=program, external_id=checked.member_external_id).first()
    exists = member is not None
    if member is None:
        # The member the order would create, as the order path makes it.
        member = Member(program=program, external_id=checked.member_external_id)
    member.program = program
    # The member's account, read as the order path reads it (nothing locked, nothing written).
    account = accounts.Account(member) if exists else None
    tiers = program_tiers(program)
    earned = checked.earning(
        program=program,
        member=member,
        rules=program_rules(program),
        campaigns=program_campaigns(program),
        tiers=tiers,
        earned=lambda start, end: accounts.earned(account, (start, end)) if account else 0,
    )
    found = _bonuses(program=program, member=member, account=account)
    balance = member.balance
    after = balance + earned.total + sum(b.points for b in found)
    return Quote(
        external_id=checked.external_id,
        member=checked.member_external_id,
        member_exists=exists,
        already_recorded=Order.objects.filter(
            program=program, external_id=checked.external_id
        ).exists(),
        earning=earned,
        bonuses=found,
        balance_before=balance,
        balance_after=after,
        coupons=_coupons(program=program, balance=after),
        tier=_tier(program=program, tiers=tiers, account=account, points=earned.total),
    )


def _tier(
    *, program: Program, tiers: list[Tier], account: accounts.Account | None, points: int
) -> str | None:
    """The tier the member would hold after the order (``tier_on_earn``'s rule)."""
    sums = (
        accounts.windows(account, days=tier_rules.windows_of(tiers), now=timezone.now())
        if account is not None and tiers
        else None
    )
    member = account.member if account is not None else None
    return tier_preview(program=program, sums=sums, member=member, points=points)


def _bonuses(
    *, program: Program, member: Member, account: accounts.Account | None
) -> list[QuoteBonus]:
    """The sign-up bonus of a member the order creates; the referred member's share of a
    referral the first order pays (the order path's rules, ``loyalty.rules.bonuses``)."""
    if account is None:
        rule = bonus_rule(program=program, kind=EarningRule.Kind.SIGNUP)
        if rule is None:
            return []
        bonus = bonuses.signup(rule)
        return [QuoteBonus(kind="signup", points=bonus.points, reason=bonus.reason)]
    rule = bonus_rule(program=program, kind=EarningRule.Kind.REFERRAL)
    if rule is None or member.referred_by_id is None or accounts.has_orders(account):
        return []
    referrer = Member.objects.filter(pk=member.referred_by_id).values_list("external_id", flat=True)
    for_member, _for_referrer = bonuses.referral(
        rule, referred_pk=member.pk, referred=member.external_id,
        referrer=referrer.first() or "", order="",
    )  # fmt: skip
    return [QuoteBonus(kind="referral", points=for_member.points, reason=for_member.reason)]


def _coupons(*, program: Program, balance: int) -> list[dict[str, Any]]:
    """The coupons automatic conversion would issue from ``balance`` (``rewards_convert``'s
    rule)."""
    if program.conversion_mode != Program.ConversionMode.AUTOMATIC:
        return []
    return [
        {
            "points": threshold.points,
            "coupon": {name: getattr(threshold.template, name) for name in TERM_FIELDS},
        }
        for threshold in conversions(balance=balance, thresholds=thresholds_of(program))
    ]
