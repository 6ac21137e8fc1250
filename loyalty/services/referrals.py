"""Referral bonuses: the referrer and the new member each earn when the new member's
first order is paid.

Rules: the referral is recorded before the first order (``member_upsert``), never for
the member themself and never closing a loop. The bonus is paid with the first order
only (key ``referral:<referred member pk>`` on both ledgers, so never twice). If that
order is refunded in full, both bonuses are taken back (kind ``reversal``); a partial
refund keeps them.

Both members are locked in pk order (the order every two-member writer uses, see
``transfers``; ``storage.members.members_lock(referrers=True)``) before anything is
written, so a referral never deadlocks with a transfer between the same two members.
"""

from django.db.models import Q

from loyalty.models import EarningRule, LedgerEntry, Member, Order
from loyalty.rules.bonuses import referral, referral_key
from loyalty.services.bonuses import bonus_award, bonus_rule
from loyalty.services.ledger import ledger_append
from loyalty.storage import accounts


def referral_on_first_order(
    *, member: Member, referrer: Member | None, order: Order
) -> list[LedgerEntry]:
    """Pay the referral when ``order`` is the referred member's first (asked of the member's
    account before the order counts there). Both members locked."""
    if member.referred_by_id is None or referrer is None:
        return []
    rule = bonus_rule(program=member.program, kind=EarningRule.Kind.REFERRAL)
    if rule is None or accounts.has_orders(accounts.account(member)):
        return []
    referrer.program = member.program
    referred_bonus, referrer_bonus = referral(
        rule, referred_pk=member.pk, referred=member.external_id,
        referrer=referrer.external_id, order=order.external_id,
    )  # fmt: skip
    # Never paid before: the bonus goes only with the first order, which this is.
    entries = [
        bonus_award(member=member, bonus=referred_bonus, unseen=True),
        bonus_award(member=referrer, bonus=referrer_bonus, unseen=True),
    ]
    return [entry for entry in entries if entry is not None]


def referral_on_refund(*, member: Member, order: Order) -> list[LedgerEntry]:
    """Take both referral bonuses back when the order that paid them is fully refunded."""
    bonuses = list(
        LedgerEntry.objects.filter(
            Q(member=member) | Q(member_id=member.referred_by_id),
            idempotency_key=referral_key(member.pk),
            kind=LedgerEntry.Kind.BONUS,
            details__order=order.external_id,
        ).select_related("member")
    )
    reversed_: list[LedgerEntry] = []
    for bonus in bonuses:
        owner = member if bonus.member_id == member.pk else bonus.member
        owner.program = member.program
        key = f"{referral_key(member.pk)}:reversed"
        if LedgerEntry.objects.filter(member=owner, idempotency_key=key).exists():
            continue
        reversed_.append(
            ledger_append(
                member=owner,
                kind=LedgerEntry.Kind.REVERSAL,
                points=-bonus.points,
                reason=f"Referral bonus taken back: order #{order.external_id} was refunded",
                key=key,
                order=order,
            )
        )
    return reversed_
