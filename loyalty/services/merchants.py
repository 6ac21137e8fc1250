"""Merchants and their program settings."""

import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from loyalty import money
from loyalty.audit import Action, audit_changes, audit_record
from loyalty.errors import CurrencyLocked, InvalidInput, ValidityModeLocked
from loyalty.models import LedgerEntry, Merchant, Order, Program, User
from loyalty.roles import Permission, role_check
from loyalty.services.tier_settings import tiers_seed_defaults
from rewards.services.thresholds import thresholds_replace

CURRENCY_CODE = re.compile(r"[A-Za-z]{3}")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _check_currency(currency: str) -> str:
    if not CURRENCY_CODE.fullmatch(currency or ""):
        raise InvalidInput({"currency": [str(_("Use a three-letter ISO 4217 code such as EUR."))]})
    return currency.upper()


# /profile/<slug>/ is a shop's profile page; these paths under /profile/ are pages of their own.
RESERVED_SLUGS = frozenset(
    {
        "sign-out",
        "language",
        "notifications",
        "rewards",
        "push",
        "link",
        "transfer",
        "feedback",
        "badge",
        "coupons",
        "static",
        "admin",
        "api",
    }
)


@transaction.atomic
def merchant_create(*, slug: str, name: str, currency: str = "EUR") -> Merchant:
    """A merchant with the default program (``program_defaults_apply``)."""
    errors: dict[str, list[str]] = {}
    if not SLUG.fullmatch(slug or ""):
        errors["slug"] = [str(_("Use lowercase letters, digits and hyphens (at most 64)."))]
    elif slug in RESERVED_SLUGS:
        errors["slug"] = [str(_("This slug is taken by a page of the profile; choose another."))]
    elif Merchant.objects.filter(slug=slug).exists():
        errors["slug"] = [str(_("A merchant with this slug exists already."))]
    if not (name or "").strip():
        errors["name"] = [str(_("A merchant needs a name."))]
    if errors:
        raise InvalidInput(errors)
    currency = _check_currency(currency)
    merchant = Merchant.objects.create(slug=slug, name=name)
    program = Program.objects.create(merchant=merchant, name=f"{name} Rewards", currency=currency)
    program_defaults_apply(program=program)
    return merchant


# The program a new merchant starts from, and the demo shows (one definition): 10 points per
# 1.00 (the model's defaults: points valid 365 days, reset by each order, reminders 60, 30, 14
# and 7 days before), a reward at 5,000 points and the tiers of ``DEFAULT_TIERS``.
DEFAULT_THRESHOLDS: tuple[dict[str, Any], ...] = (
    {
        "points": 5000,
        "coupon": {
            "kind": "percent",
            "value": Decimal(10),
            "min_order_amount": Decimal(100),
            "valid_days": 30,
            "uses": 1,
        },
    },
)


def program_defaults_apply(*, program: Program) -> None:
    """Give a program the default reward and tiers (staff change them afterwards)."""
    thresholds_replace(
        program=program,
        thresholds=[{**row, "coupon": dict(row["coupon"])} for row in DEFAULT_THRESHOLDS],
    )
    tiers_seed_defaults(program=program)


PROGRAM_FIELDS = (
    "name",
    "currency",
    "earn_rate",
    "points_validity_days",
    "reset_validity_on_order",
    "reminder_offsets_days",
    "pending_days",
    "conversion_mode",
    "refund_after_conversion",
    "earn_on_discount",
    "earn_on_shipping",
    "earn_on_tax",
    "earn_on_gift_card",
    "time_zone",
    "transfers_enabled",
    "transfer_min_points",
    "transfer_monthly_limit",
    "tier_grace_days",
    "tier_notice_days",
    "point_value",
    "support_grant_limit",
    "support_coupon_max_amount",
    "support_coupon_max_percent",
    "support_coupon_max_days",
    "support_daily_member_limit",
    "support_job_limit",
    "grant_confirmation_points",
)


MAX_EARN_RATE = Decimal(100000)
MAX_PENDING_DAYS = 365


Errors = dict[str, list[str]]


def _check_earning(changes: dict[str, Any], errors: Errors) -> None:
    """The earn rate (a Decimal from anything numeric) and the currency."""
    if "earn_rate" in changes:
        try:
            rate = Decimal(str(changes["earn_rate"]))
        except ArithmeticError:
            rate = Decimal("NaN")
        if not rate.is_finite() or not 0 <= rate <= MAX_EARN_RATE:
            errors["earn_rate"] = [str(_("Give points per 1.00 between 0 and 100000."))]
        else:
            changes["earn_rate"] = rate
    if "currency" in changes:
        try:
            changes["currency"] = _check_currency(changes["currency"])
        except InvalidInput as exc:
            errors.update(exc.fields)


def _check_validity(changes: dict[str, Any], errors: Errors) -> None:
    """How long points last, stay pending, and when reminders go out."""
    days = changes.get("points_validity_days")
    if days is not None and (not isinstance(days, int) or not 0 < days <= 36500):
        errors["points_validity_days"] = [
            str(
                _("Give a number of days from 1 to 36500, or nothing for points that never expire.")
            )
        ]
    pending_days = changes.get("pending_days", 0)
    if (
        not isinstance(pending_days, int)
        or isinstance(pending_days, bool)
        or not (0 <= pending_days <= MAX_PENDING_DAYS)
    ):
        errors["pending_days"] = [
            str(_("Give a number of days from 0 (points count at once) to 365."))
        ]
    if "reminder_offsets_days" in changes:
        offsets = changes["reminder_offsets_days"]
        if not isinstance(offsets, list | tuple) or not all(
            isinstance(day, int) and 0 < day <= 3650 for day in offsets
        ):
            errors["reminder_offsets_days"] = [
                str(_("Give a list of whole days before expiry, each from 1 to 3650."))
            ]
        else:
            changes["reminder_offsets_days"] = sorted(set(offsets), reverse=True)


def _check_choices(changes: dict[str, Any], errors: Errors) -> None:
    """Tier days, conversion and refund modes, the time zone and transfers."""
    for name in ("tier_grace_days", "tier_notice_days"):
        value = changes.get(name)
        if name in changes and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365
        ):
            errors[name] = [str(_("Give a whole number of days from 0 to 365."))]
    for name, choices in (
        ("conversion_mode", Program.ConversionMode.values),
        ("refund_after_conversion", Program.RefundAfterConversion.values),
    ):
        if name in changes and changes[name] not in choices:
            errors[name] = [str(_("Choose one of: %s.")) % ", ".join(choices)]
    if "time_zone" in changes:
        try:
            ZoneInfo(str(changes["time_zone"]))
        except (ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = [str(_("Give an IANA time zone name such as Europe/Madrid."))]
    minimum = changes.get("transfer_min_points", 1)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= 10**8:
        errors["transfer_min_points"] = [str(_("A whole number from 1 to 100000000."))]
    limit = changes.get("transfer_monthly_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        errors["transfer_monthly_limit"] = [
            str(_("A whole number of points above zero, or nothing for no limit."))
        ]


def _check_backoffice(changes: dict[str, Any], errors: Errors) -> None:
    """The point's value and what support staff may grant or issue."""
    if "point_value" in changes and changes["point_value"] is not None:
        try:
            value = Decimal(str(changes["point_value"]))
        except ArithmeticError:
            value = Decimal("NaN")
        if not value.is_finite() or not 0 <= value <= 1000:
            errors["point_value"] = [str(_("Give the value of one point, from 0 to 1000."))]
        else:
            changes["point_value"] = value
    for name in ("support_grant_limit", "support_daily_member_limit", "support_job_limit",
                 "grant_confirmation_points"):  # fmt: skip
        limit = changes.get(name)
        if name in changes and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 100_000_000
        ):
            errors[name] = [str(_("Give a whole number of points, at least 0."))]
    for name, top, places in (
        ("support_coupon_max_amount", money.MAX_AMOUNT, Decimal("0.001")),
        ("support_coupon_max_percent", Decimal(100), Decimal("0.01")),
    ):
        if name not in changes:
            continue
        try:
            value = Decimal(str(changes[name]))
        except ArithmeticError:
            value = Decimal("NaN")
        if not value.is_finite() or not 0 <= value <= top or value != value.quantize(places):
            errors[name] = [str(_("Give a number from 0 to %(top)s.")) % {"top": top}]
        else:
            changes[name] = value
    days = changes.get("support_coupon_max_days")
    if "support_coupon_max_days" in changes and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650
    ):
        errors["support_coupon_max_days"] = [str(_("Give 1 to 3650 days."))]


def program_settings_check(changes: dict[str, Any]) -> dict[str, Any]:
    """Readable refusals for every setting (``InvalidInput`` naming each field; the admin's
    form asks before saving), the values normalised; the check constraints are the
    guarantee."""
    errors: Errors = {}
    unknown = set(changes) - set(PROGRAM_FIELDS)
    for name in sorted(unknown):
        errors[name] = [str(_("Unknown setting."))]
    if "name" in changes and not str(changes["name"] or "").strip():
        errors["name"] = [str(_("A program needs a name."))]
    for check in (_check_earning, _check_validity, _check_choices, _check_backoffice):
        check(changes, errors)
    if errors:
        raise InvalidInput(errors)
    return changes


@transaction.atomic
def program_update(
    *,
    program: Program,
    actor: User | None = None,
    actor_name: str = "",
    reason: str = "",
    **changes: Any,
) -> Program:
    """Change a program's settings (the admin and ``PUT /api/v1/program`` both come here).

    With an ``actor`` (a staff user) the role must allow it, for this program's merchant.
    A change by a staff user or by an API key (``actor_name``) goes to the audit trail
    with the old and new values.
    """
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=program.merchant_id)
    changes = program_settings_check(dict(changes))
    program = Program.objects.select_for_update().get(pk=program.pk)
    before = {name: getattr(program, name) for name in changes}
    currency = changes.get("currency", program.currency)
    if currency != program.currency and Order.objects.filter(program=program).exists():
        raise CurrencyLocked(currency=program.currency)
    # Per-earning lots exist only for points earned under that mode: switching either way
    # would leave balances whose expiry nobody can tell.
    mode = changes.get("reset_validity_on_order", program.reset_validity_on_order)
    if (
        mode != program.reset_validity_on_order
        and LedgerEntry.objects.filter(program=program).exists()
    ):
        raise ValidityModeLocked()
    for name, value in changes.items():
        setattr(program, name, value)
    program.save()
    changed = audit_changes(before, changes)
    if changed and (actor is not None or actor_name):
        audit_record(
            merchant=program.merchant_id,
            actor=actor,
            actor_name=actor_name,
            action=Action.PROGRAM_UPDATE,
            target=program,
            changes=changed,
            reason=reason,
        )
    return program
