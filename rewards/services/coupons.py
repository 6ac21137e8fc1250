"""Issuing, voiding and expiring coupons. Every change leaves a CouponEvent with its reason."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty import money
from loyalty.audit import Action, audit_record
from loyalty.content import translations_clean, translations_problems
from loyalty.errors import InvalidInput
from loyalty.models import Member, Order, Program, User
from loyalty.roles import Permission, role_allows, role_check
from loyalty.storage import unit
from loyalty.storage.members import member_get
from rewards.codes import code_generate, code_normalise
from rewards.errors import CouponLimitExceeded, CouponNotFound
from rewards.models import VALUELESS_KINDS, Coupon, CouponEvent, CouponKind, CouponTemplate
from rewards.services.reward_terms import REWARD_FIELDS, reward_terms_errors


@dataclass(frozen=True)
class CouponTerms:
    """Terms for a coupon issued without a template (compensation, promotion)."""

    kind: str
    value: Decimal = Decimal(0)
    max_discount: Decimal | None = None
    min_order_amount: Decimal = Decimal(0)
    valid_days: int = 30
    uses: int = 1
    product_sku: str = ""
    product_category: str = ""
    product_quantity: int = 1
    scope: dict[str, list[str]] = field(default_factory=dict)
    uses_per_member: int | None = None
    allowance_uses: int | None = None
    allowance_period: str = ""


def terms_check(terms: CouponTerms | CouponTemplate, *, currency: str) -> None:
    """Readable refusals for coupon terms (the check constraints are the guarantee)."""
    errors: dict[str, list[str]] = reward_terms_errors(terms)
    if terms.kind not in CouponKind.values:
        errors["kind"] = [str(_("Choose percent, fixed, free product or free shipping."))]
    value = terms.value
    if terms.kind in VALUELESS_KINDS:
        if not value.is_finite() or value != 0:
            errors["value"] = [str(_("A free product or free shipping has no value: give 0."))]
    elif not value.is_finite() or value <= 0 or value > money.MAX_AMOUNT:
        errors["value"] = [str(_("Give a value above zero."))]
    elif terms.kind == CouponKind.PERCENT and value > 100:
        errors["value"] = [str(_("A percentage is at most 100."))]
    elif terms.kind == CouponKind.FIXED and not money.fits_currency(value, currency):
        errors["value"] = [str(_("Too many decimals for %s.")) % currency]
    for name in ("max_discount", "min_order_amount"):
        amount = getattr(terms, name)
        if amount is None:
            continue
        if not amount.is_finite() or amount < 0 or amount > money.MAX_AMOUNT:
            errors[name] = [str(_("Give an amount of zero or more."))]
        elif not money.fits_currency(amount, currency):
            errors[name] = [str(_("Too many decimals for %s.")) % currency]
    if not 0 < terms.valid_days <= 3650:
        errors["valid_days"] = [str(_("Give 1 to 3650 days."))]
    if not 0 < terms.uses <= 1000:
        errors["uses"] = [str(_("Give 1 to 1000 uses."))]
    if errors:
        raise InvalidInput(errors)


def coupon_limit_check(
    *, program: Program, terms: CouponTerms | CouponTemplate, user: User | None
) -> None:
    """A coupon issued by a support user stays within the program's limits for support:
    what it may take off in all (its value, or a percent coupon's maximum discount, times
    its uses), its percentage and how long it is valid. A percent coupon without a
    maximum discount has no limit, so support may not issue one. Managers, superusers and
    integrators (``user`` None) are not limited; a template's terms count like typed ones.
    """
    if user is None or role_allows(user, Permission.MANAGE):
        return
    currency = program.currency
    problems: list[str] = []
    limit = program.support_coupon_max_amount
    per_use: Decimal | None = terms.value
    if terms.kind != CouponKind.FIXED:
        per_use = terms.max_discount
    if terms.kind in VALUELESS_KINDS and per_use is None:
        problems.append(gettext("a free product or free shipping needs a maximum value."))
    if terms.kind == CouponKind.PERCENT:
        limit_percent = program.support_coupon_max_percent
        if terms.value > limit_percent:
            problems.append(
                gettext("it takes off %(value)s%%, above the limit of %(limit)s%%.")
                % {"value": _percent(terms.value), "limit": _percent(limit_percent)}
            )
        if per_use is None:
            problems.append(gettext("a percent coupon needs a maximum discount."))
    if per_use is not None and per_use * terms.uses > limit:
        problems.append(
            gettext(
                "it may take off %(total)s in all (%(per_use)s x %(uses)s uses), above the "
                "limit of %(limit)s."
            )
            % {
                "total": money.format_money_localized(per_use * terms.uses, currency),
                "per_use": money.format_money_localized(per_use, currency),
                "uses": terms.uses,
                "limit": money.format_money_localized(limit, currency),
            }
        )
    if terms.valid_days > program.support_coupon_max_days:
        problems.append(
            gettext("it stays valid %(days)s days, above the limit of %(limit)s days.")
            % {"days": terms.valid_days, "limit": program.support_coupon_max_days}
        )
    if problems:
        raise CouponLimitExceeded(problems=" ".join(problems))


def _percent(value: Decimal) -> str:
    """12.50 as "12.5", 100 as "100" (not "1E+2")."""
    return format(value.normalize(), "f")


def reason_problem(reason: str | None) -> str | None:
    """Staff and integrators give a reason for every coupon they issue or void."""
    if not (reason or "").strip():
        return str(_("A reason is required; it is recorded."))
    return None


# The longest reason a member reads in a language (a grant's reason takes as many).
MAX_REASON = 500


def reason_translations(reason_i18n: Any) -> dict[str, str]:
    """The reason per language as kept (``loyalty.content``), or ``InvalidInput`` naming the
    language that is wrong. The member reads the reason in its language, the base one else."""
    if problems := translations_problems(reason_i18n, max_length=MAX_REASON):
        raise InvalidInput({"reason_i18n": problems})
    return translations_clean(reason_i18n, max_length=MAX_REASON)


def coupon_issue(
    *,
    program: Program,
    terms: CouponTerms | CouponTemplate,
    member: Member | None,
    source: str,
    reason: str = "",
    issued_by: User | None = None,
    order: Order | None = None,
    points_spent: int = 0,
    valid_from: datetime | None = None,
    perk_tier_id: int | None = None,
    reason_i18n: dict[str, str] | None = None,
) -> Coupon:
    """Make a coupon with a fresh code and its 'issued' event (``perk_tier_id``: a tier's perk,
    ``rewards.services.perks``; ``reason_i18n``: the reason per language, as
    ``reason_translations`` keeps it)."""
    valid_from = valid_from or timezone.now()
    coupon = Coupon(
        program=program,
        member=member,
        # 74 random bits: a collision is too unlikely (< 1e-13 at a billion coupons) to retry.
        code=code_generate(),
        template=terms if isinstance(terms, CouponTemplate) else None,
        source=source,
        kind=terms.kind,
        value=terms.value,
        max_discount=terms.max_discount,
        min_order_amount=terms.min_order_amount,
        currency=program.currency,
        valid_from=valid_from,
        valid_until=valid_from + timedelta(days=terms.valid_days),
        uses_allowed=terms.uses,
        **{name: getattr(terms, name) for name in REWARD_FIELDS},
        points_spent=points_spent,
        order=order,
        reason=reason,
        reason_i18n=reason_i18n or {},
        issued_by=issued_by,
        perk_tier_id=perk_tier_id,
    )
    # Inserted at once, or with the rest of the order path's rows (loyalty.storage.unit).
    unit.add(coupon)
    unit.add(
        CouponEvent(
            coupon=coupon,
            kind=CouponEvent.Kind.ISSUED,
            reason=reason,
            reason_i18n=reason_i18n or {},
            by=issued_by,
        )
    )
    return coupon


def coupon_get(*, program: Program, code: str) -> Coupon:
    coupon = (
        Coupon.objects.select_related("member")
        .filter(program=program, code=code_normalise(code))
        .first()
    )
    if coupon is None:
        raise CouponNotFound()
    return coupon


@transaction.atomic
def coupon_issue_compensation(
    *,
    program: Program,
    member_external_id: str,
    terms: CouponTerms | CouponTemplate,
    reason: str,
    issued_by: User | None = None,
    source: str = Coupon.Source.COMPENSATION,
    reason_i18n: dict[str, str] | None = None,
) -> Coupon:
    """Staff or an integrator give a member a coupon (compensation or promotion), with a
    reason (and the reason per language: the member reads it on the coupon's card)."""
    if problem := reason_problem(reason):
        raise InvalidInput({"reason": [problem]})
    reason = reason.strip()
    translations = reason_translations(reason_i18n)
    terms_check(terms, currency=program.currency)
    role_check(user=issued_by, permission=Permission.COUPONS, merchant_id=program.merchant_id)
    coupon_limit_check(program=program, terms=terms, user=issued_by)
    member = member_get(program=program, external_id=member_external_id)
    coupon = coupon_issue(
        program=program,
        terms=terms,
        member=member,
        source=source,
        reason=reason,
        reason_i18n=translations,
        issued_by=issued_by,
    )
    if issued_by is not None:
        coupon_audit_issue(coupon=coupon, by=issued_by)
    return coupon


def coupon_audit_issue(*, coupon: Coupon, by: User) -> None:
    """A coupon issued by staff, in the audit trail (in the issuing transaction)."""
    audit_record(
        merchant=coupon.program.merchant_id,
        actor=by,
        action=Action.COUPON_ISSUE,
        target=coupon,
        changes={
            "member": coupon.member.external_id if coupon.member else None,
            "source": coupon.source,
            "kind": coupon.kind,
            "value": coupon.value,
            "valid_until": coupon.valid_until,
            **({"reason_i18n": coupon.reason_i18n} if coupon.reason_i18n else {}),
        },
        reason=coupon.reason,
    )


def coupons_expire(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Mark active coupons past their validity as expired, in batches. Safe to run twice or
    concurrently: each batch locks its rows and skips rows another run holds."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            ids = list(
                Coupon.objects.select_for_update(skip_locked=True)
                .filter(status=Coupon.Status.ACTIVE, valid_until__lte=now)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return expired
            Coupon.objects.filter(pk__in=ids).update(status=Coupon.Status.EXPIRED)
            CouponEvent.objects.bulk_create(
                CouponEvent(coupon_id=pk, kind=CouponEvent.Kind.EXPIRED, created_at=now)
                for pk in ids
            )
            expired += len(ids)
