"""Bonuses that are not an order's points: sign-up, birthday and referral, written.

Invariant: each bonus is one ledger entry of kind ``bonus`` whose reason names the rule
(``loyalty.rules.bonuses``), under an idempotency key that makes it happen at most once
(``signup``, ``birthday:<member>:<year>``, ``referral:<referred member>``); the writer holds
the member's lock. Rules come from ``EarningRule`` (the first active rule of a kind wins).
"""

from loyalty.models import EarningRule, LedgerEntry, Member, Program
from loyalty.rules.bonuses import Bonus, signup
from loyalty.services.earning_rules import program_rules
from loyalty.services.ledger import ledger_append
from notifications.services.webhooks import webhook_points_earned


def bonus_rule(*, program: Program, kind: str) -> EarningRule | None:
    return next((rule for rule in program_rules(program) if rule.kind == kind), None)


def bonus_award(*, member: Member, bonus: Bonus, unseen: bool = False) -> LedgerEntry | None:
    """Append the bonus once per key; None when it was given already. Member locked.
    ``unseen``: the caller knows the key was never given (a member it has just created, a
    first order), so nothing is asked of the database."""
    if not unseen and LedgerEntry.objects.filter(member=member, idempotency_key=bonus.key).exists():
        return None
    entry = ledger_append(
        member=member,
        kind=LedgerEntry.Kind.BONUS,
        points=bonus.points,
        reason=bonus.reason,
        key=bonus.key,
        details=bonus.details,
    )
    webhook_points_earned(member=member, entry=entry)
    return entry


def signup_bonus_award(*, member: Member, new: bool = False) -> LedgerEntry | None:
    """The sign-up bonus for a member just created (locked by its creator); ``new``: created
    by this very transaction (no bonus can be there yet)."""
    rule = bonus_rule(program=member.program, kind=EarningRule.Kind.SIGNUP)
    if rule is None:
        return None
    return bonus_award(member=member, bonus=signup(rule), unseen=new)
