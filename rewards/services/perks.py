"""Tier perks: a member who holds a tier that names a perk (``Tier.perk``, a coupon template of
the same program) holds one coupon from it, bound to them.

Invariants:
- one perk coupon per member and tier, ever: the unique constraint
  ``one_perk_coupon_per_member_tier`` is the guarantee, and every caller holds the member's
  row lock (every tier writer does), so reading the member's perk coupons and then writing
  is safe against a second writer of the same member;
- a member holds the perk of the tier it is in, only: leaving a tier (down, up to another,
  an override, the tier removed) voids its perk coupon, with an event that says why;
- re-reaching a tier reactivates the same coupon (same code): its terms are taken again from
  the tier's perk template, its validity starts again and it gets the template's uses again,
  but the uses of the current allowance period still count, so leaving a tier and coming back
  within a quarter gives no fresh "2 uses a quarter";
- while the member keeps the tier the coupon keeps its terms and uses, and does not run out
  of time: once less than half its validity (the template's ``valid_days``) is left, the
  next pass (the daily job passes every member) gives it the whole validity again from
  that day, an expired one too (a perk lasts as long as the tier).

Writes go through ``loyalty.storage.unit``: at once, or with the order path's rows.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loyalty.models import Member, Tier, User
from loyalty.storage import unit
from rewards.models import Coupon, CouponEvent, CouponTemplate
from rewards.services.coupons import coupon_issue
from rewards.services.reward_terms import REWARD_FIELDS

# How the event of a perk's ending starts (``_ended_here`` reads it back).
ENDED = "Tier perk ended: "
# The terms a reactivated perk coupon takes again from its template (``coupon_issue``'s).
_TERMS = ("kind", "value", "max_discount", "min_order_amount", *REWARD_FIELDS)


@dataclass
class PerkMoves:
    """What ``perks_follow`` did, for the callers' audit trail and tests."""

    issued: list[Coupon] = field(default_factory=list)
    reactivated: list[Coupon] = field(default_factory=list)
    renewed: list[Coupon] = field(default_factory=list)
    ended: list[Coupon] = field(default_factory=list)

    def codes(self) -> dict[str, list[str]]:
        return {
            name: [c.display_code for c in getattr(self, name)]
            for name in ("issued", "reactivated", "renewed", "ended")
            if getattr(self, name)
        }


def perks_offered(tiers: Sequence[Tier]) -> bool:
    """Whether any of these tiers names a perk (no perk: nothing to read or write)."""
    return any(tier.perk_id is not None for tier in tiers)


def perks_follow(
    *,
    members: Sequence[Member],
    tiers: Sequence[Tier],
    now: datetime,
    reasons: dict[int, str] | None = None,
    by: User | None = None,
) -> PerkMoves:
    """Make the members' perk coupons follow their tiers (``member.tier_id`` as it is now):
    the perk of a tier not held is voided, the perk of the tier held is issued or
    reactivated. The members must be locked. ``reasons``: why each member's tier changed
    (those who just reached their tier), for the coupons' events; a member not named there
    gets back a void perk coupon only if a perk ending voided it (not staff by hand). Safe
    to call again: what is in place is left alone."""
    moves = PerkMoves()
    members = [m for m in members if m.pk is not None]
    by_pk = {tier.pk: tier for tier in tiers}
    held = _perk_coupons(members) if members else {}
    templates: dict[int, CouponTemplate] = {}
    for member in members:
        tier = by_pk.get(member.tier_id) if member.tier_id is not None else None
        wanted = tier if tier is not None and tier.perk_id is not None else None
        reason = (reasons or {}).get(member.pk, "")
        mine = held.get(member.pk, [])
        for coupon in mine:
            leaves = wanted is None or coupon.perk_tier_id != wanted.pk
            if leaves and coupon.status != Coupon.Status.VOID:
                _end(coupon, tier=by_pk.get(coupon.perk_tier_id or 0), reason=reason, by=by)
                moves.ended.append(coupon)
        if wanted is None:
            continue
        template = _template(wanted, templates)
        found = next((c for c in mine if c.perk_tier_id == wanted.pk), None)
        if found is None:
            coupon = coupon_issue(
                program=member.program,
                terms=template,
                member=member,
                source=Coupon.Source.PERK,
                reason=f"Perk of {wanted.name}",
                issued_by=by,
                valid_from=now,
                perk_tier_id=wanted.pk,
            )
            moves.issued.append(coupon)
        elif found.status == Coupon.Status.VOID and (
            member.pk in (reasons or {}) or _ended_here(found)
        ):
            _reactivate(found, template=template, tier=wanted, now=now, by=by)
            moves.reactivated.append(found)
        elif found.status in RENEWABLE and found.valid_until - now < _half(template):
            _renew(found, template=template, tier=wanted, now=now)
            moves.renewed.append(found)
    return moves


# A perk running out of time while its tier is held: active, or expired by the coupon job.
RENEWABLE = (Coupon.Status.ACTIVE, Coupon.Status.EXPIRED)


def _half(template: CouponTemplate) -> timedelta:
    return timedelta(days=template.valid_days) / 2


def _renew(coupon: Coupon, *, template: CouponTemplate, tier: Tier, now: datetime) -> None:
    """The member still holds the tier: the perk's whole validity again from now."""
    coupon.status = Coupon.Status.ACTIVE
    coupon.valid_until = now + timedelta(days=template.valid_days)
    unit.changed(coupon, "status", "valid_until")
    text = f"Tier perk renewed: the member still holds {tier.name}"
    unit.add(CouponEvent(coupon=coupon, kind=CouponEvent.Kind.REACTIVATED, reason=text))


def _perk_coupons(members: Sequence[Member]) -> dict[int, list[Coupon]]:
    """The members' perk coupons, locked (a checkout redeeming one waits, or is waited for),
    and those this unit of work added and has not written yet."""
    ids = {member.pk for member in members}
    rows = list(
        Coupon.objects.select_for_update()
        .filter(member_id__in=ids, perk_tier__isnull=False)
        .order_by("pk")
    )
    rows += [c for c in unit.waiting(Coupon) if c.perk_tier_id and c.member_id in ids]
    held: dict[int, list[Coupon]] = {}
    for coupon in rows:
        held.setdefault(coupon.member_id or 0, []).append(coupon)
    return held


def _ended_here(coupon: Coupon) -> bool:
    """Whether the coupon's last void was a perk ending (the member left the tier, the perk
    was taken off): for a member who did not just reach the tier, a coupon staff voided by
    hand stays void."""
    last = CouponEvent.objects.filter(coupon_id=coupon.pk).order_by("-id").first()
    return (
        last is not None
        and last.kind == CouponEvent.Kind.VOIDED
        and (last.reason.startswith(ENDED))
    )


def _template(tier: Tier, known: dict[int, CouponTemplate]) -> CouponTemplate:
    assert tier.perk_id is not None  # noqa: S101  # the caller checked
    if tier.perk_id not in known:
        known[tier.perk_id] = CouponTemplate.objects.get(pk=tier.perk_id)
    return known[tier.perk_id]


def _end(coupon: Coupon, *, tier: Tier | None, reason: str, by: User | None) -> None:
    """Void a perk coupon whose tier the member left."""
    coupon.status = Coupon.Status.VOID
    unit.changed(coupon, "status")
    name = tier.name if tier is not None else "its tier"
    text = f"{ENDED}the member left {name}" + (f" ({reason})" if reason else "")
    unit.add(CouponEvent(coupon=coupon, kind=CouponEvent.Kind.VOIDED, reason=text, by=by))


def _reactivate(
    coupon: Coupon, *, template: CouponTemplate, tier: Tier, now: datetime, by: User | None
) -> None:
    """The member is back in the tier: the same coupon, with the template's terms again."""
    for name in _TERMS:
        setattr(coupon, name, getattr(template, name))
    coupon.template = template
    coupon.status = Coupon.Status.ACTIVE
    coupon.valid_until = max(now, coupon.valid_from) + timedelta(days=template.valid_days)
    # The uses spent stay counted (the check constraint); the template's uses come again.
    coupon.uses_allowed = coupon.uses_count + template.uses
    unit.changed(coupon, *_TERMS, "template", "status", "valid_until", "uses_allowed")
    text = f"Tier perk reactivated: the member reached {tier.name} again"
    unit.add(CouponEvent(coupon=coupon, kind=CouponEvent.Kind.REACTIVATED, reason=text, by=by))


def perks_end_for_tiers(
    *, tier_names: dict[int, str], now: datetime, why: str = "{tier} removed from the program"
) -> int:
    """The perk coupons of these tiers end (set-based: a tier may have many members): the
    tiers are about to be removed, or their perk was taken off. ``why`` names the tier."""
    ending = list(
        Coupon.objects.select_for_update()
        .filter(perk_tier_id__in=tier_names)
        .exclude(status=Coupon.Status.VOID)
        .order_by("pk")
        .values_list("pk", "perk_tier_id")
    )
    if not ending:
        return 0
    Coupon.objects.filter(pk__in=[pk for pk, _tier in ending]).update(status=Coupon.Status.VOID)
    CouponEvent.objects.bulk_create(
        (
            CouponEvent(
                coupon_id=pk,
                kind=CouponEvent.Kind.VOIDED,
                reason=ENDED + why.format(tier=tier_names[tier]),
                created_at=now,
            )
            for pk, tier in ending
        ),
        batch_size=1000,
    )
    return len(ending)
