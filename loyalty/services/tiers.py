"""Tiers: levels reached by points earned in a rolling window, with perks; changed here.

The rules (``loyalty.rules.tiers``):
- Window points are what a member *earned*: order earnings, less what refunds of those
  orders took back, plus grants flagged to count. An order's points count from the moment
  the order was *placed*; a grant's from when it was made.
- Up at once, down only by the daily job (``tier_job``): an order (or a counting grant)
  lifts a member immediately (``tier_on_earn``); to *keep* a tier, a member's points of the
  last ``window_days + tier_grace_days`` count.
- A staff override puts a member at a tier until a date (``tier_override``); meanwhile the
  job leaves the member alone.
- Every change is a ``TierChange`` row (from, to, kind, reason, when, by whom) and triggers
  the "tier changed" notification and webhook, in the same transaction.
- Writers hold the member's row lock, so two orders at once change a tier once.
"""

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_record
from loyalty.content import localized
from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import Member, Program, Tier, TierChange, User
from loyalty.roles import Permission, role_check
from loyalty.rules import tiers as tier_rules
from loyalty.services.members import member_lock
from loyalty.snapshot import settings_read
from loyalty.storage import accounts, unit
from notifications.models import Event, WebhookEvent
from notifications.services import notification_enqueue
from notifications.services.outbox import member_channels
from notifications.services.templates import language_for
from notifications.services.webhooks import webhook_enqueue
from rewards.services.perks import PerkMoves, perks_follow, perks_offered


class TierNotFound(LoyaltyError):
    code = "tier_not_found"
    status = 404
    message = _("This program has no tier named '%(name)s'.")


def program_tiers(program: Program) -> list[Tier]:
    """The program's tiers, lowest first."""
    return settings_read(
        "tiers", program, lambda: list(Tier.objects.filter(program=program).order_by("min_points"))
    )


# --- the multiplier -----------------------------------------------------------------------


def tier_multiplier(*, member: Member) -> tuple[Decimal, str | None]:
    """The earn multiplier of the member's tier and the tier's name ((1, None) without one)."""
    return tier_rules.multiplier(program_tiers(member.program), member.tier_id)


# --- changes ------------------------------------------------------------------------------


def _change(
    *, member: Member, to: Tier | None, kind: str, reason: str, now: datetime,
    created_by: User | None = None, until: datetime | None = None,
    from_tier: Tier | None = None,
) -> TierChange:  # fmt: skip
    """Record a change whose member row the caller has updated, and tell about it."""
    change = _change_row(
        member=member, to=to, kind=kind, reason=reason, now=now, created_by=created_by,
        until=until, from_tier=from_tier,
    )  # fmt: skip
    unit.add(change)
    _tell_changed(member=member, change=change, hooks=True)
    return change


def _change_row(
    *, member: Member, to: Tier | None, kind: str, reason: str, now: datetime,
    created_by: User | None = None, until: datetime | None = None,
    from_tier: Tier | None = None,
) -> TierChange:  # fmt: skip
    return TierChange(
        program_id=member.program_id,
        member=member,
        from_tier=from_tier,
        to_tier=to,
        from_name=from_tier.name if from_tier else "",
        to_name=to.name if to else "",
        kind=kind,
        reason=reason,
        until=until,
        created_by=created_by,
        created_at=now,
    )


def _tell_changed(*, member: Member, change: TierChange, hooks: bool) -> None:
    """The webhook (when ``hooks``: the merchant may have an endpoint for it) and the
    member's notification (only a member we can reach costs a query)."""
    program = member.program
    if hooks:
        webhook_enqueue(
            merchant_id=program.merchant_id,
            event=WebhookEvent.TIER_CHANGED,
            occasion=f"change:{change.pk}",
            payload={
                "member": member.external_id,
                "from": change.from_name or None,
                "to": change.to_name or None,
                "kind": change.kind,
                "reason": change.reason,
                "until": change.until,
            },
        )
    if not member_channels(member):
        return
    language = language_for(member.locale)
    name = change.to_name
    if change.to_tier is not None and name:
        # The tier as the member reads it (``loyalty.content``): its name, else the base one.
        name = localized(name, change.to_tier.name_i18n, language)
    if not name:
        with translation.override(language):
            name = gettext("basic member")
    notification_enqueue(
        member=member,
        event=Event.TIER_CHANGED,
        occasion=f"change:{change.pk}",
        context={"tier_name": name},
    )


def tier_on_earn(*, member: Member, now: datetime | None = None) -> TierChange | None:
    """After an earning: move the member up at once if its window points lift it.

    The member must be locked. Never moves a member down. The window points come from the
    member's account (``storage.accounts``): loaded with the order path's, else one query.
    """
    now = now or timezone.now()
    tiers = program_tiers(member.program)
    # Nothing above the top tier: no need to count the window.
    if not tiers or member.tier_id == tiers[-1].pk:
        return None
    sums = accounts.windows(accounts.account(member), days=tier_rules.windows_of(tiers), now=now)
    current = next((t for t in tiers if t.pk == member.tier_id), None)
    target = tier_rules.up(tiers, sums, member.rating, current)
    if target is None:
        return None
    unit.member_update(
        member,
        tier_id=target.pk,
        tier_since=now,
        tier_override=None,
        tier_override_reason="",
        tier_override_until=None,
    )
    change = _change_row(
        member=member, to=target, kind=TierChange.Kind.UP, now=now, from_tier=current,
        reason=f"Reached {target.name}: {tier_rules.points_text(sums, target)}",
    )  # fmt: skip
    unit.add(change)
    _tell_changed(member=member, change=change, hooks=True)
    tier_perks_follow(member=member, tiers=tiers, now=now, reason=change.reason)
    return change


def tier_perks_follow(
    *, member: Member, tiers: list[Tier], now: datetime, reason: str, by: User | None = None
) -> PerkMoves:
    """The member's perk coupons after its tier changed (``rewards.services.perks``); no
    query when no tier of the program names a perk."""
    if not perks_offered(tiers):
        return PerkMoves()
    return perks_follow(members=[member], tiers=tiers, now=now, reasons={member.pk: reason},
                        by=by)  # fmt: skip


def tier_preview(*, program: Program, sums: dict[int, int] | None, member: Member | None,
                 points: int) -> str | None:  # fmt: skip
    """The tier a member would hold after earning ``points`` now (the quote's answer), from
    its window ``sums`` (None: no points yet). The same rule as ``tier_on_earn``. Reads only."""
    tiers = program_tiers(program)
    if not tiers:
        return None
    days = tier_rules.windows_of(tiers)
    lifted = {d: (sums or {}).get(d, 0) + max(points, 0) for d in days}
    current = None if member is None else next((t for t in tiers if t.pk == member.tier_id), None)
    best = tier_rules.up(tiers, lifted, member.rating if member else None, current) or current
    return best.name if best is not None else None


@transaction.atomic
def tier_override(
    *, member: Member, tier: Tier | None, reason: str, until: datetime,
    created_by: User | None = None, now: datetime | None = None,
) -> TierChange:  # fmt: skip
    """Put a member at ``tier`` (None: no tier) until ``until``, with a reason.

    Until then the daily job leaves the member where staff put it; afterwards it sets
    the tier the member's points give. By staff (``created_by``) it takes a manager and
    goes to the audit trail.
    """
    role_check(user=created_by, permission=Permission.MANAGE)
    now = now or timezone.now()
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [str(_("A reason is required."))]
    if until is None or until <= now:
        errors["until"] = [str(_("The end of the override must be ahead."))]
    if tier is not None and tier.program_id != member.program_id:
        errors["tier"] = [str(_("This tier belongs to another program."))]
    if errors:
        raise InvalidInput(errors)
    locked = member_lock(program=member.program, external_id=member.external_id)
    current = locked.tier
    Member.objects.filter(pk=locked.pk).update(
        tier=tier,
        tier_since=now,
        tier_override=tier,
        tier_override_reason=reason,
        tier_override_until=until,
    )
    for target in (member, locked):
        target.tier, target.tier_since, target.tier_override = tier, now, tier
        target.tier_override_reason, target.tier_override_until = reason, until
    locked.program = member.program
    perks = tier_perks_follow(
        member=locked, tiers=program_tiers(member.program), now=now, reason=reason, by=created_by
    )
    if created_by is not None:
        perk_codes = perks.codes()
        audit_record(
            merchant=member.program.merchant_id,
            actor=created_by,
            action=Action.TIER_OVERRIDE,
            target=locked,
            changes={
                "tier": [getattr(current, "name", None), getattr(tier, "name", None)],
                "until": until,
                **({"perk_coupons": perk_codes} if perk_codes else {}),
            },
            reason=reason,
        )
    return _change(
        member=locked, to=tier, kind=TierChange.Kind.OVERRIDE, reason=reason, now=now,
        created_by=created_by, until=until, from_tier=current,
    )  # fmt: skip


# --- the daily job ------------------------------------------------------------------------


class BadgeCardNotOffered(LoyaltyError):
    code = "badge_card_not_offered"
    status = 403
    message = _("Your tier does not include a badge card.")


def badge_card_offered(tier_flags: list[str] | None) -> bool:
    """Whether a tier with these flags offers its members the public badge card."""
    return tier_rules.BADGE_CARD in (tier_flags or [])


def badge_card_toggle(*, member: Member, enabled: bool) -> Member:
    """The member's own switch (the profile page): on only while their tier offers the card;
    off always."""
    if enabled:
        flags = (
            Tier.objects.filter(pk=member.tier_id).values_list("flags", flat=True).first()
            if member.tier_id is not None
            else None
        )
        if not badge_card_offered(flags):
            raise BadgeCardNotOffered()
    return badge_card_set(member=member, enabled=enabled)


def badge_card_set(*, member: Member, enabled: bool) -> Member:
    """Turn the member's public badge card on or off. The first time it is turned on the
    card gets its unguessable address; turning it off and on again keeps that address."""
    updates: dict[str, Any] = {"badge_enabled": enabled}
    if enabled and not member.badge_token:
        updates["badge_token"] = secrets.token_urlsafe(24)
    Member.objects.filter(pk=member.pk).update(**updates)
    for name, value in updates.items():
        setattr(member, name, value)
    return member
