"""Readable refusals for what a coupon applies to and how often it may be used: the free
product, the scope, uses per member and the perk allowance per period (the fields of
``rewards.models.RewardTerms``). ``terms_check`` adds the money terms' refusals."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from rewards.lines import SCOPE_KEYS
from rewards.models import AllowancePeriod, CouponKind

REWARD_FIELDS = (
    "product_sku",
    "product_category",
    "product_quantity",
    "scope",
    "uses_per_member",
    "allowance_uses",
    "allowance_period",
)
MAX_SCOPE_ITEMS = 100
MAX_NAME = 100
MAX_FREE_QUANTITY = 100


def _name_ok(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.strip() == value


def _product_errors(terms: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    sku, category = terms.product_sku or "", terms.product_category or ""
    if terms.kind != CouponKind.FREE_PRODUCT:
        for name, value in (("product_sku", sku), ("product_category", category)):
            if value:
                errors[name] = [str(_("Only a free product names a product: leave it empty."))]
        return errors
    if bool(sku) == bool(category):
        errors["product_sku"] = [str(_("Give the free product's SKU or its category (one)."))]
    for name, value in (("product_sku", sku), ("product_category", category)):
        if value and not _name_ok(value):
            errors[name] = [str(_("Give 1 to 100 characters, without spaces around."))]
    quantity = terms.product_quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        quantity = 0
    if not 0 < quantity <= MAX_FREE_QUANTITY:
        errors["product_quantity"] = [str(_("Give 1 to 100 items."))]
    return errors


def _scope_errors(terms: Any) -> dict[str, list[str]]:
    scope = terms.scope
    if scope in (None, {}):
        return {}
    if not isinstance(scope, dict) or set(scope) - set(SCOPE_KEYS):
        keys = ", ".join(SCOPE_KEYS)
        return {"scope": [str(_("Give the scope as lists under %(keys)s.")) % {"keys": keys}]}
    errors: dict[str, list[str]] = {}
    for key, names in scope.items():
        if not isinstance(names, list) or len(names) > MAX_SCOPE_ITEMS:
            errors[f"scope.{key}"] = [str(_("Give a list of at most 100 names."))]
        elif not all(_name_ok(name) for name in names):
            errors[f"scope.{key}"] = [str(_("Give 1 to 100 characters, without spaces around."))]
    if terms.kind == CouponKind.FREE_PRODUCT and any(scope.values()):
        errors["scope"] = [str(_("A free product applies to its product: leave the scope empty."))]
    return errors


def _whole(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def _uses_errors(terms: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    uses = terms.uses if isinstance(terms.uses, int) else 0
    per_member = _whole(terms.uses_per_member)
    if per_member is not None and not 0 < per_member <= uses:
        errors["uses_per_member"] = [
            str(_("Give 1 to %(uses)s uses (at most the coupon's uses).")) % {"uses": uses}
        ]
    allowance, period = _whole(terms.allowance_uses), terms.allowance_period or ""
    if allowance is not None and not 0 < allowance <= uses:
        errors["allowance_uses"] = [
            str(_("Give 1 to %(uses)s uses (at most the coupon's uses).")) % {"uses": uses}
        ]
    if period and period not in AllowancePeriod.values:
        errors["allowance_period"] = [str(_("Choose month, quarter or year."))]
    elif (allowance is None) != (not period):
        name = "allowance_period" if allowance is not None else "allowance_uses"
        errors.setdefault(name, [str(_("Give both the uses per period and the period."))])
    return errors


def reward_terms_errors(terms: Any) -> dict[str, list[str]]:
    """Every problem of the free product, the scope and the uses, by field."""
    return {**_product_errors(terms), **_scope_errors(terms), **_uses_errors(terms)}
