"""Points granted or taken by hand (staff in the admin, or an integrator with `manage`).

A reason is required and recorded with who did it. A deduction never takes the
balance below zero (the ledger's check constraint guarantees it; this gives the
readable refusal). The same idempotency key applies the change once.

A change of more points (either way) than the program's ``grant_confirmation_points`` is
refused (``grant_confirmation_required``, nothing changed) unless the caller says the amount
was confirmed: the backoffice asks its staff user on a second page; starting a previewed
bulk job confirms its rows (the preview showed each and the totals); the API's integrators
send an amount their system computed, and are exempt (``loyalty.api.views``). A typo of a
few zeros is easy and costly to undo.

Support's day: the points that staff below a manager granted or deducted for one member
since the program's local midnight (single changes and bulk rows alike, both signs) never
exceed the program's ``support_daily_member_limit``. They are counted under the member's
row lock, which every change of the member's points takes first, so two changes sent at
once are counted one after the other, never both against the same total.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Abs
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_record
from loyalty.content import REASON_KEY, localized, translations_clean, translations_problems
from loyalty.errors import (
    GrantConfirmationRequired,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidInput,
)
from loyalty.models import LedgerEntry, Member, Program, User
from loyalty.roles import SupportDailyLimitExceeded, role_check_points, role_limited
from loyalty.rules.earning import day_bounds, local_date
from loyalty.services.conversion import rewards_convert
from loyalty.services.ledger import ledger_append
from loyalty.services.members import member_lock
from loyalty.services.tiers import tier_on_earn
from notifications.models import Event
from notifications.services import notification_enqueue
from notifications.services.templates import language_for
from notifications.services.webhooks import webhook_points_earned
from rewards.models import Coupon

MAX_GRANT = 100_000_000
# The longest reason a member reads in a language (the API's ``reason`` takes as many).
MAX_REASON = 500


@dataclass
class GrantResult:
    entry: LedgerEntry
    created: bool
    balance: int
    coupons_issued: list[Coupon] = field(default_factory=list)


@transaction.atomic
def points_grant(
    *,
    program: Program,
    member_external_id: str,
    points: int,
    reason: str,
    created_by: User | None = None,
    idempotency_key: str | None = None,
    expires_at: datetime | None = None,
    counts_for_tier: bool = False,
    reason_i18n: dict[str, str] | None = None,
    confirmed: bool = False,
) -> GrantResult:
    """Grant (points > 0) or deduct (points < 0) points with a reason.

    A grant may carry its own expiry (programs where each earning expires on its own
    date); otherwise it follows the program's validity. Granted points count toward
    tiers only when ``counts_for_tier`` says so (then they may lift the member at once).

    With ``created_by`` (a staff user) the user's role must allow it (support: up to the
    program's limit), and the change is written to the audit trail. ``reason_i18n``: the
    reason per language (``loyalty.content``), ``reason`` being the fallback. ``confirmed``:
    the amount was confirmed (the module's rule; asked after every other refusal).
    """
    reason = (reason or "").strip()
    translations = _grant_check(
        points=points, reason=reason, expires_at=expires_at, counts_for_tier=counts_for_tier,
        reason_i18n=reason_i18n,
    )  # fmt: skip
    role_check_points(user=created_by, program=program, points=points)

    member = member_lock(program=program, external_id=member_external_id)
    key = f"grant:{idempotency_key or uuid.uuid4()}"
    existing = LedgerEntry.objects.filter(member=member, idempotency_key=key).first()
    if existing is not None:
        if _change_of(existing) != (points, reason, translations):
            raise IdempotencyConflict()
        return GrantResult(entry=existing, created=False, balance=member.balance)
    _locked_checks(
        program=program, member=member, points=points, created_by=created_by, confirmed=confirmed
    )
    entry = ledger_append(
        member=member,
        kind=LedgerEntry.Kind.GRANT if points > 0 else LedgerEntry.Kind.DEDUCT,
        points=points,
        reason=reason,
        key=key,
        created_by=created_by,
        expires_at=expires_at,
        details=_details(counts_for_tier=counts_for_tier, translations=translations),
    )
    _grant_announce(
        program=program, member=member, entry=entry, created_by=created_by,
        counts_for_tier=counts_for_tier,
    )  # fmt: skip
    coupons = rewards_convert(member=member, program=program) if points > 0 else []
    return GrantResult(entry=entry, created=True, balance=member.balance, coupons_issued=coupons)


def _change_of(entry: LedgerEntry) -> tuple[int, str, dict[str, str]]:
    """What a grant changed and said, to tell a replay from another change under its key."""
    details = entry.details if isinstance(entry.details, dict) else {}
    return entry.points, entry.reason, details.get(REASON_KEY) or {}


def _details(*, counts_for_tier: bool, translations: dict[str, str]) -> dict[str, Any] | None:
    details: dict[str, Any] = {"counts_for_tier": True} if counts_for_tier else {}
    if translations:
        details[REASON_KEY] = translations
    return details or None


def _grant_check(
    *, points: int, reason: str, expires_at: datetime | None, counts_for_tier: bool,
    reason_i18n: dict[str, str] | None,
) -> dict[str, str]:  # fmt: skip
    """Every problem with the request at once, before any row is locked; the reason's
    translations as they are kept."""
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [str(_("A reason is required; the member will see it."))]
    problems = translations_problems(reason_i18n, max_length=MAX_REASON)
    if problems:
        errors["reason_i18n"] = problems
    if points == 0 or abs(points) > MAX_GRANT:
        errors["points"] = [str(_("Give a whole number of points other than zero, "
                                  "at most 100000000 either way."))]  # fmt: skip
    if counts_for_tier and points < 0:
        errors["counts_for_tier"] = [str(_("Only a grant can count toward tiers."))]
    if expires_at is not None and (points < 0 or expires_at <= timezone.now()):
        errors["expires_at"] = [str(_("Only a grant can carry an expiry, and it must be ahead."))]
    if errors:
        raise InvalidInput(errors)
    return translations_clean(reason_i18n, max_length=MAX_REASON)


def _locked_checks(
    *, program: Program, member: Member, points: int, created_by: User | None, confirmed: bool
) -> None:
    """The refusals that read the locked member (its balance, support's day), then the
    confirmation: a change refused anyway is not confirmed first for nothing."""
    if points < 0 and member.balance + points < 0:
        raise InsufficientPoints(balance=member.balance, points=-points)
    if role_limited(created_by):
        # Counted under the member's lock, taken by the caller: two changes sent at once
        # are counted one after the other, never both against the same total.
        _support_day_check(program=program, member_pk=member.pk, points=points)
    if abs(points) > program.grant_confirmation_points and not confirmed:
        raise GrantConfirmationRequired(points=abs(points), limit=program.grant_confirmation_points)


def _support_day_check(*, program: Program, member_pk: int, points: int) -> None:
    used = support_points_today(program=program, members=[member_pk]).get(member_pk, 0)
    if used + abs(points) > program.support_daily_member_limit:
        raise SupportDailyLimitExceeded(
            limit=program.support_daily_member_limit, used=used, points=abs(points)
        )


def _grant_announce(
    *, program: Program, member: Member, entry: LedgerEntry, created_by: User | None,
    counts_for_tier: bool,
) -> None:  # fmt: skip
    """What follows a written change: the staff user's audit trail; for a grant, the
    webhook, the member's notification and, when it counts, the tier."""
    points = entry.points
    if created_by is not None:
        audit_record(
            merchant=program.merchant_id,
            actor=created_by,
            action=Action.POINTS_GRANT if points > 0 else Action.POINTS_DEDUCT,
            target=member,
            changes={
                "points": points,
                "balance": [entry.balance_after - points, entry.balance_after],
                **_translations_changed(entry),
            },
            reason=entry.reason,
        )
    if points > 0:
        webhook_points_earned(member=member, entry=entry)
        notification_enqueue(
            member=member,
            event=Event.POINTS_GRANTED,
            occasion=f"entry:{entry.pk}",
            context={"points": points, "reason": _member_reason(member, entry)},
        )
        if counts_for_tier:
            tier_on_earn(member=member)


def _translations_changed(entry: LedgerEntry) -> dict[str, Any]:
    """The reason per language, for the audit trail, when staff gave one."""
    translations = (entry.details or {}).get(REASON_KEY)
    return {REASON_KEY: translations} if translations else {}


def _member_reason(member: Member, entry: LedgerEntry) -> str:
    """The reason in the member's language, for its notification (the base one else)."""
    translations = (entry.details or {}).get(REASON_KEY)
    return localized(entry.reason, translations, language_for(member.locale))


def support_points_today(*, program: Program, members: list[int]) -> dict[int, int]:
    """Points granted or deducted (both counted) today, in the program's time zone, by staff
    below a manager, per member id (members without any are left out).

    A staff user is counted by the role they hold now: a support user made manager no
    longer uses up the day; one made viewer still does.
    """
    if not members:
        return {}
    start, _end = day_bounds(program, local_date(program, timezone.now()))
    by_support = Q(created_by__isnull=False) & ~Q(created_by__is_superuser=True)
    by_support &= ~Q(created_by__role=User.Role.MANAGER)
    rows = (
        LedgerEntry.objects.filter(
            by_support,
            member_id__in=members,
            kind__in=[LedgerEntry.Kind.GRANT, LedgerEntry.Kind.DEDUCT],
            created_at__gte=start,
        )
        .order_by()
        .values("member_id")
        .annotate(points=Sum(Abs("points")))
        .values_list("member_id", "points")
    )
    return {member_id: int(points) for member_id, points in rows}
