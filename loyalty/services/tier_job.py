"""The daily tier job: members re-evaluated in batches, down when their points no longer keep
their tier (with the grace period), and "keep your tier" notices before a tier would be lost.

Set-based and safe to run twice or twice at once: each batch locks its members with SKIP
LOCKED, counts their windows in one query and writes their changes together.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from loyalty.content import localized
from loyalty.models import Member, Program, Tier, TierChange
from loyalty.rules import tiers as tier_rules
from loyalty.services.tiers import _change_row, _tell_changed, program_tiers
from loyalty.storage import accounts, unit
from notifications.models import Event, WebhookEndpoint, WebhookEvent
from notifications.services import notification_enqueue
from notifications.services.outbox import member_channels
from notifications.services.templates import language_for
from rewards.services.perks import perks_follow, perks_offered


@dataclass
class TierRun:
    members: int = 0
    up: int = 0
    down: int = 0
    overrides_ended: int = 0
    notices: int = 0
    perks_issued: int = 0
    perks_ended: int = 0
    perks_renewed: int = 0
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
    members = _batch_locked(program, tiers=tiers, now=now, batch_size=batch_size, after=after)
    if not members:
        return 0
    for member in members:
        member.program = program
    grace = program.tier_grace_days
    days = tier_rules.windows_of(tiers, grace=grace) | _notice_windows(tiers, program)
    sums = accounts.window_sums(member_ids=[m.pk for m in members], days=days, now=now)
    changed, rows, at_risk = _evaluate_members(
        members, program=program, tiers=tiers, sums=sums, now=now, run=run
    )
    if changed:
        _changes_write(changed, rows, program=program, now=now, run=run)
    if perks_offered(tiers):
        # Every member of the batch, not only those who changed: a perk set on a tier after
        # its members reached it reaches them here, one that was removed ends here.
        reasons = {change.member_id: change.reason for change in rows}
        with unit.unit_of_work(expected=len(members)):
            moves = perks_follow(members=members, tiers=tiers, now=now, reasons=reasons)
        run.perks_issued += len(moves.issued) + len(moves.reactivated)
        run.perks_ended += len(moves.ended)
        run.perks_renewed += len(moves.renewed)
    run.notices += _send_notices(at_risk, program=program, now=now)
    return members[-1].pk


def _batch_locked(
    program: Program, *, tiers: list[Tier], now: datetime, batch_size: int, after: int
) -> list[Member]:
    """The next members after ``after`` who may change, locked, in id order: they hold a
    tier, had one overridden, or ordered within the longest window and its grace."""
    longest = max((t.window_days for t in tiers), default=0) + program.tier_grace_days
    candidates = (
        Q(tier__isnull=False)
        | Q(tier_override_until__isnull=False)
        | Q(last_order_at__gte=now - timedelta(days=longest))
    )
    return list(
        Member.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(candidates, program=program, pk__gt=after)
        .order_by("pk")[:batch_size]
    )


def _evaluate_members(
    members: list[Member], *, program: Program, tiers: list[Tier],
    sums: dict[int, dict[int, int]], now: datetime, run: TierRun,
) -> tuple[list[Member], list[TierChange], list[tuple[Member, Tier]]]:  # fmt: skip
    """Each member's new tier, in memory: the members that change with their history rows,
    and the members who keep their tier but should be told how to keep it."""
    grace = program.tier_grace_days
    by_pk = {t.pk: t for t in tiers}
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
        kind, reason = _change_kind(
            target=target, held=held, ending=ending, sums=sums[member.pk], grace=grace, run=run
        )
        if target != held:
            member.tier_since = now
        member.tier = target
        member.tier_override = None
        member.tier_override_reason = ""
        member.tier_override_until = None
        changed.append(member)
        rows.append(_change_row(member=member, to=target, kind=kind, reason=reason, now=now,
                                from_tier=held))  # fmt: skip
    return changed, rows, at_risk


def _change_kind(
    *, target: Tier | None, held: Tier | None, ending: bool, sums: dict[int, int], grace: int,
    run: TierRun,
) -> tuple[str, str]:  # fmt: skip
    """The kind of a change and its reason in the member's history: the points behind the
    tier reached, or behind the tier lost against what it needs (over its grace window)."""
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
        reason += f" {shown.name}: {sums.get(window, 0)} points in {window} days"
        if kind == TierChange.Kind.DOWN:
            reason += f", {shown.min_points} needed"
    return kind, reason


def _changes_write(
    changed: list[Member], rows: list[TierChange], *, program: Program, now: datetime,
    run: TierRun,
) -> None:  # fmt: skip
    """Set-based: one UPDATE per target tier for the members, one INSERT for their history;
    then the webhooks (only if the merchant listens) and the notifications (only members we
    can reach)."""
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


def keep_ask(
    *, tier: Tier | None, grace: int, now: datetime, count: Tier | None = None
) -> accounts.StandingAsk:
    """What ``accounts.keep_standings`` sums for a holder of ``tier`` (None: no keep
    window): the keep window (``window_days + grace``) and the tier's points; and the
    window of the tier ``count`` (the next one), whose points to count."""
    return accounts.StandingAsk(
        keep_from=now - timedelta(days=tier.window_days + grace) if tier else None,
        need=tier.min_points if tier else 0,
        count_from=now - timedelta(days=count.window_days) if count else None,
    )


def tier_keep(
    *, tier: Tier, standing: accounts.KeepStanding, grace: int, now: datetime
) -> tuple[date | None, Keep | None]:
    """Until when the tier is safe without new points, and what keeps it beyond that.

    The tier is safe while the points of the keep window (``window_days + grace``) reach
    ``min_points``; each contribution leaves it ``window_days + grace`` days after it counts
    from. ``standing`` (of ``keep_ask``'s window) says when the points left first fall
    short, and how many are left then.
    """
    if tier.min_points <= 0:
        return None, None
    if standing.points < tier.min_points:
        today = timezone.localdate(now)
        return today, Keep(points_needed=tier.min_points - standing.points, by=today)
    if standing.falls_at is None:
        return None, None
    by = timezone.localdate(standing.falls_at + timedelta(days=tier.window_days + grace))
    return by, Keep(points_needed=tier.min_points - standing.left, by=by)


def _send_notices(at_risk: list[tuple[Member, Tier]], *, program: Program, now: datetime) -> int:
    """The 'keep your tier' notice for members who fall below within the notice period:
    one query for all their standings, one notification per member and deadline."""
    # Only members we can reach: the others cost nothing.
    at_risk = [(member, tier) for member, tier in at_risk if member_channels(member)]
    if not at_risk:
        return 0
    grace = program.tier_grace_days
    standings = accounts.keep_standings(
        asks={m.pk: keep_ask(tier=t, grace=grace, now=now) for m, t in at_risk}
    )
    sent = 0
    for member, tier in at_risk:
        _safe, keep = tier_keep(tier=tier, standing=standings[member.pk], grace=grace, now=now)
        if keep is None:
            continue
        written = notification_enqueue(
            member=member,
            event=Event.TIER_EXPIRING,
            occasion=f"keep:{tier.pk}:{keep.by.isoformat()}",
            context={"tier_name": localized(tier.name, tier.name_i18n,
                                            language_for(member.locale)),
                     "points": keep.points_needed,
                     "expiry_date": keep.by},
        )  # fmt: skip
        sent += 1 if written else 0
    return sent


# --- what a member sees -------------------------------------------------------------------
