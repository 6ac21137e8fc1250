"""Referral bonuses: the referrer and the new member each earn when the new member's
first order is paid.

Rules: the referral is recorded before the first order (``member_upsert``), never for
the member themself and never closing a loop. The bonus is paid with the first order
only (key ``referral:<referred member pk>`` on both ledgers, so never twice). If that
order is refunded in full, both bonuses are taken back (kind ``reversal``); a partial
refund keeps them.

Both members are locked in pk order (the order every two-member writer uses, see
``transfers``) before anything is written, so a referral never deadlocks with a
transfer between the same two members.
"""

from functools import cache

from django.db.models import Q

from loyalty import sql
from loyalty.models import EarningRule, LedgerEntry, Member, Order, Program
from loyalty.services.bonuses import bonus_award, bonus_rule
from loyalty.services.ledger import ledger_append
from loyalty.services.members import member_create_locked


def members_lock(*, pks: list[int]) -> dict[int, Member]:
    """Lock these members in pk order; returns them by pk."""
    return {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=pks).order_by("pk")}


def order_member_lock(*, program: Program, external_id: str) -> Member:
    """``member_lock(create=True)`` for an order, which also locks the referrer when this
    order may pay a referral: both in one statement, in pk order (the order every
    two-member writer uses). Every order runs it: its SQL is kept (``loyalty.sql``)."""
    locked = [sql.load(Member, row) for row in sql.run(_lock_sql(), [program.pk, external_id] * 2)]
    member = next((m for m in locked if m.external_id == external_id), None)
    if member is None:
        return member_create_locked(program=program, external_id=external_id)
    member.program = program
    return member


@cache
def _lock_sql() -> str:
    # Two scalar subqueries, so each side is an index lookup: ``… OR pk IN (subquery)``
    # made PostgreSQL scan every member of every program (1.2 ms at 6,000 members).
    table = sql.quote(Member._meta.db_table)

    def col(name: str) -> str:
        return sql.column(Member, name)

    me = f"FROM {table} WHERE {col('program')} = %s AND {col('external_id')} = %s"
    return (
        f"SELECT {sql.columns(Member)} FROM {table} "  # noqa: S608 - names from the model
        f"WHERE {col('id')} = (SELECT {col('id')} {me}) "
        f"OR {col('id')} = (SELECT {col('referred_by')} {me}) "
        f"ORDER BY {col('id')} FOR UPDATE"
    )


def _key(referred: Member) -> str:
    return f"referral:{referred.pk}"


def referral_on_first_order(*, member: Member, order: Order) -> list[LedgerEntry]:
    """Pay the referral when ``order`` is the referred member's first. Both locked."""
    if member.referred_by_id is None:
        return []
    rule = bonus_rule(program=member.program, kind=EarningRule.Kind.REFERRAL)
    if rule is None or Order.objects.filter(member=member).exclude(pk=order.pk).exists():
        return []
    referrer = Member.objects.get(pk=member.referred_by_id)  # locked by order_member_lock
    referrer.program = member.program
    details = {"rule": rule.pk, "order": order.external_id}
    entries = [
        bonus_award(
            member=member,
            points=int(rule.parameters["referred_points"]),
            key=_key(member),
            reason=(
                f"Referral bonus (rule '{rule.name}'): first order #{order.external_id}, "
                f"referred by {referrer.external_id}"
            ),
            details=details,
        ),
        bonus_award(
            member=referrer,
            points=int(rule.parameters["referrer_points"]),
            key=_key(member),
            reason=(
                f"Referral bonus (rule '{rule.name}'): {member.external_id} you referred "
                f"paid a first order"
            ),
            details=details,
        ),
    ]
    return [entry for entry in entries if entry is not None]


def referral_on_refund(*, member: Member, order: Order) -> list[LedgerEntry]:
    """Take both referral bonuses back when the order that paid them is fully refunded."""
    bonuses = list(
        LedgerEntry.objects.filter(
            Q(member=member) | Q(member_id=member.referred_by_id),
            idempotency_key=_key(member),
            kind=LedgerEntry.Kind.BONUS,
            details__order=order.external_id,
        ).select_related("member")
    )
    reversed_: list[LedgerEntry] = []
    for bonus in bonuses:
        owner = member if bonus.member_id == member.pk else bonus.member
        owner.program = member.program
        key = f"{_key(member)}:reversed"
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
