"""Tiers: levels reached by points earned in a rolling window, with perks.

The rules kept here:
- Window points are what a member *earned*: order earnings, less what refunds of
  those orders took back, plus grants flagged to count (``counts_for_tier`` in the
  entry's details). Rewards, expiry and deductions do not move them. An order's
  points count from the moment the order was *placed* (orders may be recorded
  late); a grant's from when it was made. A point placed exactly ``window_days``
  ago still counts; one a second older does not.
- Tiers rank by ``min_points``; a member qualifies for a tier when its window
  points reach ``min_points`` and, if the tier asks for one, its rating reaches
  ``min_rating``.
- Up at once, down only by the daily job: an order (or a counting grant) lifts a
  member immediately (``tier_on_earn``); only ``tiers_evaluate`` takes a tier
  away. To *keep* a tier it already holds, a member's points of the last
  ``window_days + program.tier_grace_days`` count (the grace period).
- A staff override puts a member at a tier until a date; meanwhile the job leaves
  the member alone (an order may still lift it higher, which ends the override).
  When it ends, the job sets the tier the member's points give.
- Every change is a ``TierChange`` row (from, to, kind, reason, when, by whom) and
  triggers the "tier changed" notification and webhook, in the same transaction.
- Writers hold the member's row lock (``member_lock``, or the job's
  ``SELECT ... FOR UPDATE SKIP LOCKED``), so two orders at once change a tier once.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_record, audit_replace
from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import Member, Order, Program, Tier, TierChange, User
from loyalty.roles import Permission, role_check
from loyalty.rules import tiers as tier_rules
from loyalty.services.members import MAX_RATING, member_lock
from loyalty.snapshot import settings_changed, settings_read
from loyalty.storage import accounts, unit
from notifications.models import Event, WebhookEndpoint, WebhookEvent
from notifications.services import notification_enqueue
from notifications.services.outbox import member_channels
from notifications.services.webhooks import webhook_enqueue

DEFAULT_TIERS = (("Gold", 200), ("Platinum", 1000), ("Diamond", 2000))
DEFAULT_WINDOW_DAYS = 90
MAX_TIERS = 20
MAX_MULTIPLIER = Decimal(100)
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")
FLAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


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
    name = change.to_name
    if not name:
        with translation.override(member.locale):
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
    return change


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
    if created_by is not None:
        audit_record(
            merchant=member.program.merchant_id,
            actor=created_by,
            action=Action.TIER_OVERRIDE,
            target=locked,
            changes={
                "tier": [getattr(current, "name", None), getattr(tier, "name", None)],
                "until": until,
            },
            reason=reason,
        )
    return _change(
        member=locked, to=tier, kind=TierChange.Kind.OVERRIDE, reason=reason, now=now,
        created_by=created_by, until=until, from_tier=current,
    )  # fmt: skip


# --- the daily job ------------------------------------------------------------------------


@dataclass
class TierRun:
    members: int = 0
    up: int = 0
    down: int = 0
    overrides_ended: int = 0
    notices: int = 0
    changes: list[int] = field(default_factory=list)


def tiers_evaluate(*, now: datetime | None = None, batch_size: int = 1000) -> TierRun:
    """Re-evaluate every member who holds a tier, had one overridden, or ordered recently.

    Per program, batches of members in id order; each batch locks its members with
    SKIP LOCKED (a member an order is writing right now is evaluated at the next run,
    and that order can only have lifted it), reads all their window sums with one
    query, and commits on its own. Running twice changes nothing the second time.
    """
    now = now or timezone.now()
    run = TierRun()
    # A removed tier takes its members with it (SET NULL): only programs with tiers remain.
    programs = Program.objects.filter(Exists(Tier.objects.filter(program=OuterRef("pk"))))
    for program in programs.select_related("merchant").order_by("pk"):
        last = 0
        while (last := _evaluate_batch(program, now, batch_size, last, run)) > 0:
            pass
    return run


@transaction.atomic
def _evaluate_batch(program: Program, now: datetime, batch_size: int, after: int,
                    run: TierRun) -> int:  # fmt: skip
    tiers = program_tiers(program)
    grace = program.tier_grace_days
    longest = max((t.window_days for t in tiers), default=0) + grace
    candidates = (
        Q(tier__isnull=False)
        | Q(tier_override_until__isnull=False)
        | Q(last_order_at__gte=now - timedelta(days=longest))
    )
    members = list(
        Member.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(candidates, program=program, pk__gt=after)
        .order_by("pk")[:batch_size]
    )
    if not members:
        return 0
    for member in members:
        member.program = program
    by_pk = {t.pk: t for t in tiers}
    days = tier_rules.windows_of(tiers, grace=grace) | _notice_windows(tiers, program)
    sums = accounts.window_sums(member_ids=[m.pk for m in members], days=days, now=now)
    changed: list[Member] = []
    rows: list[TierChange] = []
    at_risk: list[tuple[Member, Tier]] = []
    for member in members:
        run.members += 1
        if member.tier_override_until is not None and member.tier_override_until > now:
            continue  # staff put it there until then
        ending = member.tier_override_until is not None
        held = by_pk.get(member.tier_id) if member.tier_id else None
        # After an override, the tier the points give: the override's tier was not earned.
        target = tier_rules.target(
            tiers, sums[member.pk], member.rating, held=None if ending else held, grace=grace
        )
        if target == held and not ending:
            if held is not None and _notice_due(held, sums[member.pk], program):
                at_risk.append((member, held))
            continue
        if ending:
            kind, reason = TierChange.Kind.OVERRIDE_END, "Override ended"
            run.overrides_ended += 1
        elif tier_rules.rank(target) > tier_rules.rank(held):
            kind, reason = TierChange.Kind.UP, "Re-evaluation: reached"
            run.up += 1
        else:
            kind, reason = TierChange.Kind.DOWN, "Re-evaluation: below"
            run.down += 1
        shown = held if kind == TierChange.Kind.DOWN else target
        if shown is not None:
            window = shown.window_days + (grace if kind == TierChange.Kind.DOWN else 0)
            reason += f" {shown.name}: {sums[member.pk].get(window, 0)} points in {window} days"
            if kind == TierChange.Kind.DOWN:
                reason += f", {shown.min_points} needed"
        if target != held:
            member.tier_since = now
        member.tier = target
        member.tier_override = None
        member.tier_override_reason = ""
        member.tier_override_until = None
        changed.append(member)
        rows.append(_change_row(member=member, to=target, kind=kind, reason=reason, now=now,
                                from_tier=held))  # fmt: skip
    if changed:
        # Set-based: one UPDATE for the members, one INSERT for their history; then the
        # webhooks (only if the merchant listens) and the notifications (only members we
        # can reach).
        groups: dict[tuple[int | None, bool], list[int]] = {}
        for member, change in zip(changed, rows, strict=True):
            key = (member.tier_id, change.from_tier_id != change.to_tier_id)
            groups.setdefault(key, []).append(member.pk)
        # One UPDATE per target tier (a CASE per row would cost more than all of them).
        for (tier_id, moved), pks in groups.items():
            since = {"tier_since": now} if moved else {}
            Member.objects.filter(pk__in=pks).update(
                tier_id=tier_id,
                tier_override=None,
                tier_override_reason="",
                tier_override_until=None,
                **since,
            )
        TierChange.objects.bulk_create(rows)
        hooks = WebhookEndpoint.objects.filter(
            merchant_id=program.merchant_id,
            active=True,
            events__contains=[WebhookEvent.TIER_CHANGED],
        ).exists()
        for member, change in zip(changed, rows, strict=True):
            _tell_changed(member=member, change=change, hooks=hooks)
            run.changes.append(change.pk)
    run.notices += _send_notices(at_risk, program=program, now=now)
    return members[-1].pk


# --- keeping a tier -----------------------------------------------------------------------


def _notice_windows(tiers: list[Tier], program: Program) -> set[int]:
    """Windows that tell who will fall below within the notice period: the keep window
    shortened by the notice days (the points still counting then)."""
    notice = program.tier_notice_days
    if not notice:
        return set()
    keep = {t.window_days + program.tier_grace_days for t in tiers}
    return {d - notice for d in keep if d - notice > 0}


def _notice_due(tier: Tier, sums: dict[int, int], program: Program) -> bool:
    notice = program.tier_notice_days
    if not notice or tier.min_points <= 0:
        return False
    days = tier.window_days + program.tier_grace_days - notice
    # A notice period longer than the window: every holder will be asked to keep it up.
    return days <= 0 or sums.get(days, 0) < tier.min_points


@dataclass(frozen=True)
class Keep:
    points_needed: int
    by: date


def tier_keep(
    *, tier: Tier, contributions: list[tuple[datetime, int]], grace: int, now: datetime
) -> tuple[date | None, Keep | None]:
    """Until when the tier is safe without new points, and what keeps it beyond that.

    ``contributions`` are the member's counting points by moment, oldest first, of at
    least the keep window. The tier is safe while the points of the keep window
    (``window_days + grace``) reach ``min_points``; each contribution leaves it
    ``window_days + grace`` days after it counts from.
    """
    if tier.min_points <= 0:
        return None, None
    keep = timedelta(days=tier.window_days + grace)
    counting = [(at, points) for at, points in contributions if at >= now - keep]
    running = sum(points for _at, points in counting)
    if running < tier.min_points:
        today = timezone.localdate(now)
        return today, Keep(points_needed=tier.min_points - running, by=today)
    for at, points in counting:
        running -= points
        if running < tier.min_points:
            by = timezone.localdate(at + keep)
            return by, Keep(points_needed=tier.min_points - running, by=by)
    return None, None


def _send_notices(at_risk: list[tuple[Member, Tier]], *, program: Program, now: datetime) -> int:
    """The 'keep your tier' notice for members who fall below within the notice period:
    one query for all their contributions, one notification per member and deadline."""
    # Only members we can reach: the others cost nothing.
    at_risk = [(member, tier) for member, tier in at_risk if member_channels(member)]
    if not at_risk:
        return 0
    grace = program.tier_grace_days
    longest = max(t.window_days for _m, t in at_risk) + grace
    by_member = accounts.window_contributions(
        member_ids=[m.pk for m, _t in at_risk], days=longest, now=now
    )
    sent = 0
    for member, tier in at_risk:
        _safe, keep = tier_keep(
            tier=tier, contributions=by_member.get(member.pk, []), grace=grace, now=now
        )
        if keep is None:
            continue
        written = notification_enqueue(
            member=member,
            event=Event.TIER_EXPIRING,
            occasion=f"keep:{tier.pk}:{keep.by.isoformat()}",
            context={"tier_name": tier.name, "points": keep.points_needed,
                     "expiry_date": keep.by},
        )  # fmt: skip
        sent += 1 if written else 0
    return sent


# --- what a member sees -------------------------------------------------------------------


def tier_status(*, member: Member, now: datetime | None = None) -> dict[str, Any]:
    """``{"tier": ..., "next_tier": ...}`` as ``member_summary`` shows them (INTERFACES.md).

    Two queries: the program's tiers and the member's counting points of the longest window.
    """
    now = now or timezone.now()
    tiers = program_tiers(member.program)
    if not tiers:
        return {"tier": None, "next_tier": None}
    grace = member.program.tier_grace_days
    longest = max(t.window_days for t in tiers) + grace
    contributions = accounts.window_contributions(member_ids=[member.pk], days=longest, now=now)[
        member.pk
    ]

    def points_in(days: int) -> int:
        start = now - timedelta(days=days)
        return sum(points for at, points in contributions if at >= start)

    current = next((t for t in tiers if t.pk == member.tier_id), None)
    tier: dict[str, Any] | None = None
    if current is not None:
        overridden = member.tier_override_until is not None and member.tier_override_until > now
        if overridden:
            assert member.tier_override_until is not None
            safe_until: date | None = timezone.localdate(member.tier_override_until)
            keep = None
        else:
            safe_until, keep = tier_keep(
                tier=current, contributions=contributions, grace=grace, now=now
            )
        tier = {
            "name": current.name,
            "badge": current.badge,
            "benefits": list(current.benefits),
            "flags": list(current.flags),
            "earn_multiplier": current.earn_multiplier,
            "since": member.tier_since,
            "safe_until": safe_until,
            "keep": {"points_needed": keep.points_needed, "by": keep.by} if keep else None,
            "override_until": member.tier_override_until if overridden else None,
        }
    above = [t for t in tiers if t.min_points > tier_rules.rank(current)]
    next_tier = None
    if above:
        nxt = above[0]
        points = points_in(nxt.window_days)
        next_tier = {
            "name": nxt.name,
            "min_points": nxt.min_points,
            "points_missing": max(nxt.min_points - points, 0),
            "window_points": points,
            "min_rating": nxt.min_rating,
        }
    return {"tier": tier, "next_tier": next_tier}


def tier_history(*, member: Member) -> QuerySet[TierChange]:
    return TierChange.objects.filter(member=member).select_related("created_by").order_by("-id")


# --- the badge card -----------------------------------------------------------------------


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


def badge_card(*, member: Member) -> dict[str, Any]:
    """What the public card shows: the tier, how many orders, member since. No name, no
    contact, no points."""
    tier = Tier.objects.filter(pk=member.tier_id).first() if member.tier_id else None
    orders = Order.objects.filter(member=member).exclude(status=Order.Status.REFUNDED).count()
    return {
        "enabled": member.badge_enabled,
        "token": member.badge_token if member.badge_enabled else None,
        "tier": tier.name if tier else None,
        "badge": tier.badge if tier else "",
        # Only a real colour reaches the page's style attribute.
        "colour": tier.badge if tier and COLOUR.fullmatch(tier.badge) else None,
        "orders": orders,
        "member_since": timezone.localdate(member.created_at),
        "merchant": member.program.merchant.name,
    }


def badge_card_member(*, token: str) -> Member | None:
    """The member whose card this is, if it is turned on."""
    if not token or len(token) > 43:
        return None
    return (
        Member.objects.select_related("program__merchant")
        .filter(badge_token=token, badge_enabled=True)
        .first()
    )


# --- definitions --------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_tier(index: int, item: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    def err(name: str, text: Any) -> None:
        errors.setdefault(f"tiers.{index}.{name}", []).append(str(text))

    name = str(item.get("name") or "").strip()
    if not name or len(name) > 100:
        err("name", _("Give the tier a name of at most 100 characters."))
    points = _whole(item.get("min_points"))
    if points is None or not 0 <= points <= 2**31 - 1:
        err("min_points", _("Give whole points, zero or more."))
    window = _whole(item.get("window_days", DEFAULT_WINDOW_DAYS))
    if window is None or not 1 <= window <= 3650:
        err("window_days", _("Give a window from 1 to 3650 days."))
    multiplier = _decimal(item.get("earn_multiplier", 1))
    if multiplier is None or not Decimal(1) <= multiplier <= MAX_MULTIPLIER:
        err("earn_multiplier", _("Give a multiplier from 1 to 100 (1: no extra points)."))
    elif multiplier != multiplier.quantize(Decimal("0.001")):
        err("earn_multiplier", _("Give at most 3 decimals."))
    rating = item.get("min_rating")
    min_rating = _decimal(rating)
    if rating is not None and (
        min_rating is None
        or not 0 <= min_rating <= MAX_RATING
        or min_rating != min_rating.quantize(Decimal("0.01"))
    ):
        err("min_rating", _("Give a rating from 0 to 999.99 with at most 2 decimals, or null."))
    badge = item.get("badge") or ""
    if not isinstance(badge, str) or len(badge) > 50:
        err("badge", _("Give a label of at most 50 characters."))
    benefits = item.get("benefits") or []
    if (
        not isinstance(benefits, list)
        or len(benefits) > 20
        or not all(isinstance(b, str) and b.strip() and len(b) <= 200 for b in benefits)
    ):
        err("benefits", _("Give at most 20 texts of at most 200 characters each."))
        benefits = []
    flags = item.get("flags") or []
    if (
        not isinstance(flags, list)
        or len(flags) > 20
        or not all(isinstance(f, str) and 0 < len(f) <= 50 and set(f) <= FLAG_CHARS for f in flags)
    ):
        err("flags", _("Give at most 20 names of lowercase letters, digits, '_' and '-'."))
        flags = []
    return {
        "id": item.get("id"),
        "name": name,
        "min_points": points,
        "window_days": window,
        "earn_multiplier": multiplier,
        "min_rating": min_rating,
        "badge": badge if isinstance(badge, str) else "",
        "benefits": [b.strip() for b in benefits],
        "flags": list(dict.fromkeys(flags)),
    }


@transaction.atomic
def tiers_replace(
    *,
    program: Program,
    tiers: list[dict[str, Any]],
    actor: User | None = None,
    actor_name: str = "",
) -> list[Tier]:
    """Make the program's tiers exactly these (``PUT /program``'s ``tiers``, the admin).

    A tier keeps its row (and its members) when it is sent again under the same name
    (case-insensitively) or, from the admin, under its id. Members of a removed tier
    lose it; the next daily run places them. Nothing changes unless all is valid.
    A staff ``actor`` must be a manager of the program's merchant; a person's change is
    audited.
    """
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=program.merchant_id)
    errors: dict[str, list[str]] = {}
    if len(tiers) > MAX_TIERS:
        raise InvalidInput({"tiers": [str(_("At most 20 tiers."))]})
    wanted = [_check_tier(i, item if isinstance(item, dict) else {}, errors)
              for i, item in enumerate(tiers)]  # fmt: skip
    names: set[str] = set()
    points: set[int] = set()
    for index, item in enumerate(wanted):
        if item["name"] and item["name"].lower() in names:
            errors.setdefault(f"tiers.{index}.name", []).append(str(_("Two tiers with one name.")))
        if item["min_points"] is not None and item["min_points"] in points:
            errors.setdefault(f"tiers.{index}.min_points", []).append(
                str(_("Two tiers at the same points."))
            )
        names.add(item["name"].lower())
        if item["min_points"] is not None:
            points.add(item["min_points"])
    if errors:
        raise InvalidInput(errors)
    # Lock the program row: concurrent replacements queue up.
    Program.objects.select_for_update().filter(pk=program.pk).first()
    before = tiers_describe(program=program)
    current = list(Tier.objects.filter(program=program))
    by_id = {t.pk: t for t in current}
    by_name = {t.name.lower(): t for t in current}
    kept: list[tuple[Tier, dict[str, Any]]] = []
    fresh: list[dict[str, Any]] = []
    for item in wanted:
        row = by_id.get(item["id"]) if item["id"] else None
        row = row or by_name.get(item["name"].lower())
        if row is not None and all(row is not k for k, _i in kept):
            kept.append((row, item))
        else:
            fresh.append(item)
    keep_ids = {row.pk for row, _item in kept}
    removed = Tier.objects.filter(program=program).exclude(pk__in=keep_ids)
    _record_removal(removed)
    removed.delete()
    # Move kept tiers out of the way first, so swapping points or names never trips the
    # unique constraints half-way.
    for n, (row, _item) in enumerate(kept):
        Tier.objects.filter(pk=row.pk).update(name=f"\x01{row.pk}", min_points=2**31 - 1 - n)
    fields = ("name", "min_points", "window_days", "earn_multiplier", "min_rating", "badge",
              "benefits", "flags")  # fmt: skip
    for row, item in kept:
        for name in fields:
            setattr(row, name, item[name])
        row.save()
    for item in fresh:
        Tier.objects.create(program=program, **{name: item[name] for name in fields})
    settings_changed(program)
    audit_replace(
        merchant=program.merchant_id,
        target=program,
        action=Action.TIERS_REPLACE,
        name="tiers",
        before=before,
        after=tiers_describe(program=program),
        actor=actor,
        actor_name=actor_name,
    )
    return program_tiers(program)


def _record_removal(removed: QuerySet[Tier]) -> None:
    """The members of removed tiers lose them: a 'down' in each one's history (the daily
    job then places them in the tiers that remain)."""
    now = timezone.now()
    names = dict(removed.values_list("pk", "name"))
    if not names:
        return
    holders = (
        Member.objects.filter(tier_id__in=names)
        .values_list("pk", "program_id", "tier_id")
        .iterator()
    )
    TierChange.objects.bulk_create(
        (
            TierChange(
                program_id=program_id,
                member_id=pk,
                from_name=names[tier_id],
                kind=TierChange.Kind.DOWN,
                reason=f"Tier {names[tier_id]} removed from the program",
                created_at=now,
            )
            for pk, program_id, tier_id in holders
        ),
        batch_size=1000,
    )


def tiers_describe(*, program: Program) -> list[dict[str, Any]]:
    """The tiers in the shape ``PUT /api/v1/program`` takes, lowest first."""
    return [
        {
            "name": t.name,
            "min_points": t.min_points,
            "window_days": t.window_days,
            "earn_multiplier": t.earn_multiplier,
            "min_rating": t.min_rating,
            "badge": t.badge,
            "benefits": t.benefits,
            "flags": t.flags,
        }
        for t in program_tiers(program)
    ]


def tiers_seed_defaults(*, program: Program) -> list[Tier]:
    """The three default tiers (Gold 200, Platinum 1,000, Diamond 2,000 in 90 days)."""
    defaults = [
        {"name": "Gold", "min_points": 200, "earn_multiplier": Decimal("1.1"), "badge": "#c9a227",
         "benefits": ["10% more points on every order"], "flags": []},
        {"name": "Platinum", "min_points": 1000, "earn_multiplier": Decimal("1.5"),
         "badge": "#7f8c8d", "benefits": ["50% more points on every order",
                                          "Early access to sales"], "flags": ["early_access"]},
        {"name": "Diamond", "min_points": 2000, "earn_multiplier": Decimal(2), "badge": "#3b82f6",
         "benefits": ["Double points on every order", "Early access to sales",
                      "Free shipping"], "flags": ["early_access", "free_shipping"]},
    ]  # fmt: skip
    return tiers_replace(program=program, tiers=defaults)


def tier_by_name(*, program: Program, name: str) -> Tier:
    tier = Tier.objects.filter(program=program, name__iexact=name).first()
    if tier is None:
        raise TierNotFound(name=name)
    return tier
