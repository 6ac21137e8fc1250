"""Bonuses that are not an order's points: sign-up, birthday and referral.

Invariant: each bonus is one ledger entry of kind ``bonus`` whose reason names the
rule, under an idempotency key that makes it happen at most once (``signup``,
``birthday:<member>:<year>``, ``referral:<referred member>``); the writer holds the
member's lock. Rules come from ``EarningRule`` (the first active rule of a kind wins).
"""

from typing import Any

from loyalty.models import EarningRule, LedgerEntry, Member, Program
from loyalty.services.earning_rules import program_rules
from loyalty.services.ledger import ledger_append
from notifications.services.webhooks import webhook_points_earned


def bonus_rule(*, program: Program, kind: str) -> EarningRule | None:
    return next((rule for rule in program_rules(program) if rule.kind == kind), None)


def bonus_award(
    *, member: Member, points: int, key: str, reason: str, details: dict[str, Any] | None = None
) -> LedgerEntry | None:
    """Append the bonus once per ``key``; None when it was given already. Member locked."""
    if LedgerEntry.objects.filter(member=member, idempotency_key=key).exists():
        return None
    entry = ledger_append(
        member=member,
        kind=LedgerEntry.Kind.BONUS,
        points=points,
        reason=reason,
        key=key,
        details=details,
    )
    webhook_points_earned(member=member, entry=entry)
    return entry


def signup_bonus_award(*, member: Member) -> LedgerEntry | None:
    """The sign-up bonus for a member just created (locked by its creator)."""
    rule = bonus_rule(program=member.program, kind=EarningRule.Kind.SIGNUP)
    if rule is None:
        return None
    points = int(rule.parameters["points"])
    return bonus_award(
        member=member,
        points=points,
        key="signup",
        reason=f"Sign-up bonus (rule '{rule.name}'): {points} points",
        details={"rule": rule.pk},
    )
