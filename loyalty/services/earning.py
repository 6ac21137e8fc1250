"""Earning settings and order lines, checked: what may be saved, and what an order may say.

The rules themselves (how an order earns) are plain functions in ``loyalty.rules.earning``;
this module checks what staff and integrators give them, and reads the program's campaigns.
"""

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

from loyalty import money
from loyalty.errors import InvalidInput
from loyalty.models import Campaign, Program
from loyalty.rules.earning import SEGMENT_FIELDS, STACKING_RULE
from loyalty.snapshot import settings_read

__all__ = ["STACKING_RULE", "campaign_check", "lines_clean", "program_campaigns", "rule_parameters"]

MAX_LINES = 200
MAX_RULE_POINTS = 1_000_000
MAX_MULTIPLIER = Decimal(100)


# --- rule parameters and segments: checked on save, so earning never meets bad ones -------


# Said when the parameters have the wrong shape for the kind; the ones with a single
# field to fix say which.
_NOT_VALID = _("Not valid for this kind of rule; see the documentation.")


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_RULE_POINTS else None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value.strip()) <= 100 and "\x00" not in value:
        return value.strip()
    return None


def rule_parameters(*, kind: str, parameters: Any) -> dict[str, Any]:
    """The rule's parameters, normalised; ``InvalidInput`` on ``parameters`` otherwise.

    signup, birthday, cap_day, cap_month: ``{"points": n}``; referral:
    ``{"referrer_points": n, "referred_points": n}``; product_bonus: ``{"sku": s}`` and
    category_bonus ``{"category": c}``, each with ``points_per_unit`` and/or
    ``multiplier`` (extra on the line's amount); exclusion: ``{"sku": s}`` or
    ``{"category": c}``.
    """
    if not isinstance(parameters, dict):
        raise InvalidInput({"parameters": [str(_NOT_VALID)]})
    if kind in ("signup", "birthday", "cap_day", "cap_month"):
        return _points_parameters(parameters)
    if kind == "referral":
        return _referral_parameters(parameters)
    if kind in ("product_bonus", "category_bonus", "exclusion"):
        return _line_parameters(kind, parameters)
    raise InvalidInput({"kind": [str(_("Unknown kind of rule."))]})


def _points_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    points = _positive_int(parameters.get("points"))
    if points is None or set(parameters) != {"points"}:
        raise InvalidInput({"parameters": [str(_('Give {"points": n} with n from 1 to 1000000.'))]})
    return {"points": points}


def _referral_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    referrer = _positive_int(parameters.get("referrer_points"))
    referred = _positive_int(parameters.get("referred_points"))
    if referrer is None or referred is None or len(parameters) != 2:
        raise InvalidInput(
            {"parameters": [str(_('Give {"referrer_points": n, "referred_points": m}.'))]}
        )
    return {"referrer_points": referrer, "referred_points": referred}


def _line_parameters(kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The rules that pick order lines: the product or category first, so a rule that
    names neither is refused before its amounts are looked at."""
    target = "sku" if kind == "product_bonus" else "category"
    if kind == "exclusion":
        target = "sku" if "sku" in parameters else "category"
    value = _text(parameters.get(target))
    if value is None:
        raise InvalidInput(
            {"parameters": [str(_("Name the %(target)s it applies to.")) % {"target": target}]}
        )
    if kind == "exclusion":
        if len(parameters) != 1:
            raise InvalidInput({"parameters": [str(_NOT_VALID)]})
        return {target: value}
    if set(parameters) - {target, "points_per_unit", "multiplier"}:
        raise InvalidInput({"parameters": [str(_NOT_VALID)]})
    out = {target: value, **_bonus_amounts(parameters)}
    if len(out) == 1:
        raise InvalidInput({"parameters": [str(_("Give points_per_unit, a multiplier, or both."))]})
    return out


def _bonus_amounts(parameters: dict[str, Any]) -> dict[str, Any]:
    """A line bonus's ``points_per_unit`` and ``multiplier``, each only when given."""
    out: dict[str, Any] = {}
    if "points_per_unit" in parameters:
        per_unit = _positive_int(parameters["points_per_unit"])
        if per_unit is None:
            raise InvalidInput({"parameters": [str(_NOT_VALID)]})
        out["points_per_unit"] = per_unit
    if "multiplier" in parameters:
        try:
            factor = Decimal(str(parameters["multiplier"]))
        except InvalidOperation:
            factor = Decimal(0)
        if not factor.is_finite() or not Decimal(1) < factor <= MAX_MULTIPLIER:
            raise InvalidInput(
                {"parameters": [str(_("A multiplier is more than 1 and at most 100."))]}
            )
        # Text: the parameters are a JSON field (no Decimal there, and a float would round
        # it); earning reads it back with Decimal().
        out["multiplier"] = str(factor)
    return out


SEGMENT_LOOKUPS = ("exact", "in", "startswith", "endswith", "gte", "lte")


def segment_check(segment: Any) -> dict[str, Any]:
    """A saved member filter: ``{"field__lookup": value}``, only the fields and lookups
    above (no path into other tables, nothing run as SQL); all conditions must hold."""
    if not isinstance(segment, dict) or len(segment) > 10:
        raise InvalidInput({"segment": [str(_("Give an object of at most 10 conditions."))]})
    for key, value in segment.items():
        name, _sep, lookup = str(key).partition("__")
        lookup = lookup or "exact"
        kind = SEGMENT_FIELDS.get(name)
        if kind is None or lookup not in SEGMENT_LOOKUPS:
            raise InvalidInput(
                {
                    "segment": [
                        str(_("'%(key)s': use one of the fields %(fields)s with __%(lookups)s."))
                        % {
                            "key": key,
                            "fields": ", ".join(SEGMENT_FIELDS),
                            "lookups": ", __".join(SEGMENT_LOOKUPS),
                        }
                    ]
                }
            )
        values = value if lookup == "in" else [value]
        if not isinstance(values, list) or not all(_segment_value(kind, v) for v in values):
            raise InvalidInput(
                {"segment": [str(_("'%(key)s': the value has the wrong type.")) % {"key": key}]}
            )
        if kind is bool and lookup != "exact":
            message = _("'%(key)s': yes/no fields take only an exact value.")
            raise InvalidInput({"segment": [str(message) % {"key": key}]})
    return dict(segment)


def _segment_value(kind: type, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is date:
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True
    return isinstance(value, str) and len(value) <= 200 and "\x00" not in value  # JSON: no NUL


def campaign_check(
    *, start_date: date, end_date: date, multiplier: Decimal, fixed_bonus: int,
    tiers: Any, segment: Any,
) -> None:  # fmt: skip
    errors: dict[str, list[str]] = {}
    if end_date < start_date:
        errors["end_date"] = [str(_("The campaign must end on or after its first day."))]
    if not multiplier.is_finite() or not Decimal(1) <= multiplier <= MAX_MULTIPLIER:
        errors["multiplier"] = [str(_("A multiplier is from 1 to 100."))]
    elif multiplier == 1 and not fixed_bonus:
        errors["multiplier"] = [str(_("Give a multiplier above 1, a fixed bonus, or both."))]
    if fixed_bonus < 0 or fixed_bonus > MAX_RULE_POINTS:
        errors["fixed_bonus"] = [str(_("A fixed bonus is from 0 to 1000000 points."))]
    if not isinstance(tiers, list) or not all(isinstance(t, str) and t for t in tiers):
        errors["tiers"] = [str(_("Give a list of tier names (empty: every member)."))]
    try:
        segment_check(segment)
    except InvalidInput as exc:
        errors.update(exc.fields)
    if errors:
        raise InvalidInput(errors)


# --- order lines ---------------------------------------------------------------------------


def lines_clean(*, lines: Any, currency: str) -> list[dict[str, Any]]:
    """``[{sku, category, quantity, amount}]``: amounts as Decimal in the currency."""
    if lines is None:
        return []
    if not isinstance(lines, list) or len(lines) > MAX_LINES:
        raise InvalidInput({"lines": [str(_("Give a list of at most 200 lines."))]})
    errors: dict[str, list[str]] = {}
    cleaned = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            errors[f"lines.{index}"] = [str(_("A line is an object."))]
            continue
        sku = line.get("sku")
        category = line.get("category") or ""
        quantity = line.get("quantity", 1)
        try:
            amount = Decimal(str(line.get("amount")))
        except InvalidOperation:
            amount = Decimal(-1)
        if not isinstance(sku, str) or not sku.strip() or len(sku) > 100:
            errors[f"lines.{index}.sku"] = [str(_("Give the product's SKU (at most 100)."))]
        if not isinstance(category, str) or len(category) > 100:
            errors[f"lines.{index}.category"] = [str(_("At most 100 characters."))]
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= 10**6
        ):
            errors[f"lines.{index}.quantity"] = [str(_("A whole number from 1 to 1000000."))]
        if (
            not amount.is_finite()
            or amount < 0
            or amount > money.MAX_AMOUNT
            or not money.fits_currency(amount, currency)
        ):
            errors[f"lines.{index}.amount"] = [
                str(_("An amount from 0 in the currency's decimals."))
            ]
        cleaned.append({"sku": sku, "category": category, "quantity": quantity, "amount": amount})
    if errors:
        raise InvalidInput(errors)
    return cleaned


def program_campaigns(program: Program) -> list[Campaign]:
    """The program's active campaigns, running or not, by pk (``loyalty.snapshot`` keeps them)."""
    return settings_read(
        "campaigns",
        program,
        lambda: list(Campaign.objects.filter(program=program, active=True).order_by("pk")),
    )
