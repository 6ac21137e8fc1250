"""A program's reward thresholds, replaced as a whole (``PUT /api/v1/program``, the admin)."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_replace
from loyalty.errors import InvalidInput
from loyalty.models import Program, User
from loyalty.roles import Permission, role_check
from loyalty.snapshot import settings_changed
from rewards.models import VALUELESS_KINDS, CouponTemplate, RewardThreshold
from rewards.services.coupons import CouponTerms, terms_check
from rewards.services.reward_terms import REWARD_FIELDS

MONEY_TERM_FIELDS = ("kind", "value", "max_discount", "min_order_amount", "valid_days", "uses")
TERM_FIELDS = MONEY_TERM_FIELDS + REWARD_FIELDS


def _whole(value: Any) -> int:
    """A whole number, or ValueError (True, 1.5 and "2" are not whole numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


def _reward_terms(raw: dict[str, Any]) -> dict[str, Any]:
    """The free product, scope and uses in ``raw`` (``terms_check`` judges them)."""

    def optional(name: str) -> int | None:
        value = raw.get(name)
        return None if value is None else _whole(value)

    return {
        "product_sku": str(raw.get("product_sku") or ""),
        "product_category": str(raw.get("product_category") or ""),
        "product_quantity": _whole(raw.get("product_quantity", 1)),
        "scope": raw.get("scope") or {},
        "uses_per_member": optional("uses_per_member"),
        "allowance_uses": optional("allowance_uses"),
        "allowance_period": str(raw.get("allowance_period") or ""),
    }


def _terms(raw: Any) -> CouponTerms:
    """The coupon terms in ``raw``, or TypeError/ValueError when they are not terms at all
    (imports and admin forms call the service without the API's serializers)."""
    if not isinstance(raw, dict):
        raise TypeError(raw)

    def amount(name: str, default: Decimal | None) -> Decimal | None:
        value = raw.get(name, default)
        try:
            return None if value is None else Decimal(str(value))
        except InvalidOperation:
            return Decimal("NaN")

    kind = str(raw.get("kind", ""))
    value = amount("value", Decimal(0) if kind in VALUELESS_KINDS else None)
    return CouponTerms(
        kind=kind,
        value=value if value is not None else Decimal("NaN"),
        max_discount=amount("max_discount", None),
        min_order_amount=amount("min_order_amount", Decimal(0)) or Decimal(0),
        valid_days=_whole(raw.get("valid_days", 30)),
        uses=_whole(raw.get("uses", 1)),
        **_reward_terms(raw),
    )


@transaction.atomic
def thresholds_replace(
    *,
    program: Program,
    thresholds: list[dict[str, Any]],
    actor: User | None = None,
    actor_name: str = "",
) -> None:
    """Make the program's thresholds exactly these: ``[{points, coupon: {kind, value, ...}}]``.

    A threshold kept at the same points keeps its template, with the new terms;
    coupons already issued keep the terms they were issued with. A staff ``actor`` must
    be a manager of the program's merchant; a person's change is audited.
    """
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=program.merchant_id)
    wanted = _thresholds_check(thresholds, currency=program.currency)

    # Lock the program row: concurrent replacements queue up.
    Program.objects.select_for_update().filter(pk=program.pk).first()
    before = thresholds_describe(program=program)
    _thresholds_write(program, wanted)
    settings_changed(program)
    audit_replace(
        merchant=program.merchant_id,
        target=program,
        action=Action.THRESHOLDS_REPLACE,
        name="thresholds",
        before=before,
        after=thresholds_describe(program=program),
        actor=actor,
        actor_name=actor_name,
    )


def _thresholds_check(thresholds: list[dict[str, Any]], *, currency: str) -> dict[int, CouponTerms]:
    """Each threshold's coupon terms by its points: every problem at once, before the
    program is locked."""
    wanted: dict[int, CouponTerms] = {}
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(thresholds):
        points = item.get("points") if isinstance(item, dict) else None
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            errors[f"thresholds.{index}.points"] = [str(_("Give whole points above zero."))]
            continue
        if points in wanted:
            errors[f"thresholds.{index}.points"] = [str(_("Two thresholds at the same points."))]
            continue
        try:
            terms = _terms(item.get("coupon", {}))
            terms_check(terms, currency=currency)
        except (TypeError, ValueError):
            errors[f"thresholds.{index}.coupon"] = [str(_("Give the coupon's terms."))]
            continue
        except InvalidInput as exc:
            for name, messages in exc.fields.items():
                errors[f"thresholds.{index}.coupon.{name}"] = messages
            continue
        wanted[points] = terms
    if errors:
        raise InvalidInput(errors)
    return wanted


def _thresholds_write(program: Program, wanted: dict[int, CouponTerms]) -> None:
    """A threshold kept at the same points keeps its template (updated in place: coupons
    issued from it keep the terms copied into them); a removed one takes its template
    along once no threshold (and no tier's perk) uses it."""
    current = {
        t.points: t
        for t in RewardThreshold.objects.filter(program=program).select_related("template")
    }
    for points, threshold in current.items():
        if points not in wanted:
            template = threshold.template
            threshold.delete()
            # A template that is also a tier's perk stays (``Tier.perk`` protects it).
            if not template.thresholds.exists() and not template.perk_tiers.exists():
                template.delete()
    for points, terms in wanted.items():
        values = {name: getattr(terms, name) for name in TERM_FIELDS}
        if points in current:
            CouponTemplate.objects.filter(pk=current[points].template_id).update(**values)
        else:
            template = CouponTemplate.objects.create(
                program=program, name=f"Reward at {points} points", **values
            )
            RewardThreshold.objects.create(program=program, points=points, template=template)


def thresholds_describe(*, program: Program) -> list[dict[str, Any]]:
    """The thresholds in the shape ``PUT /api/v1/program`` takes."""
    return [
        {"points": t.points, "coupon": {name: getattr(t.template, name) for name in TERM_FIELDS}}
        for t in RewardThreshold.objects.filter(program=program)
        .select_related("template")
        .order_by("points")
    ]
