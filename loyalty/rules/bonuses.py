"""Bonuses that are not an order's points: sign-up and referral, as plain functions.

Each bonus is one ledger entry of kind ``bonus`` whose reason names the rule, under an
idempotency key that makes it happen at most once (``signup``; ``referral:<referred member>``
on both members' ledgers, paid with the referred member's first order).
"""

from dataclasses import dataclass, field
from typing import Any

from loyalty.models import EarningRule


@dataclass(frozen=True)
class Bonus:
    points: int
    key: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def signup(rule: EarningRule) -> Bonus:
    points = int(rule.parameters["points"])
    return Bonus(
        points=points,
        key="signup",
        reason=f"Sign-up bonus (rule '{rule.name}'): {points} points",
        details={"rule": rule.pk},
    )


def referral_key(referred_pk: int) -> str:
    return f"referral:{referred_pk}"


def referral(
    rule: EarningRule, *, referred_pk: int, referred: str, referrer: str, order: str
) -> tuple[Bonus, Bonus]:
    """The referred member's bonus and the referrer's, for the referred member's first order
    ``order`` (external ids: ``referred``, ``referrer``)."""
    details = {"rule": rule.pk, "order": order}
    key = referral_key(referred_pk)
    return (
        Bonus(
            points=int(rule.parameters["referred_points"]),
            key=key,
            reason=(
                f"Referral bonus (rule '{rule.name}'): first order #{order}, referred by {referrer}"
            ),
            details=details,
        ),
        Bonus(
            points=int(rule.parameters["referrer_points"]),
            key=key,
            reason=(
                f"Referral bonus (rule '{rule.name}'): {referred} you referred paid a first order"
            ),
            details=details,
        ),
    )
