"""A program's earning rules and campaigns as data: described for ``GET /api/v1/program``
and replaced as a whole by ``PUT /api/v1/program`` (either all valid and applied, or
nothing changes). Errors are named like ``earning_rules.0.parameters``.
"""

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.models import Campaign, EarningRule, Program
from loyalty.services.earning import campaign_check, rule_parameters
from loyalty.snapshot import settings_changed

MAX_ITEMS = 100


def rules_describe(*, program: Program) -> list[dict[str, Any]]:
    return [
        {"kind": r.kind, "name": r.name, "active": r.active, "parameters": r.parameters}
        for r in EarningRule.objects.filter(program=program).order_by("kind", "pk")
    ]


def campaigns_describe(*, program: Program) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "active": c.active,
            "start_date": c.start_date,
            "end_date": c.end_date,
            "multiplier": c.multiplier,
            "fixed_bonus": c.fixed_bonus,
            "min_order_amount": c.min_order_amount,
            "tiers": c.tiers,
            "segment": c.segment,
        }
        for c in Campaign.objects.filter(program=program).order_by("start_date", "pk")
    ]


def _prefixed(prefix: str, exc: InvalidInput) -> dict[str, list[str]]:
    return {f"{prefix}.{name}": messages for name, messages in exc.fields.items()}


def rule_clean(*, kind: Any, name: Any, parameters: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if kind not in EarningRule.Kind.values:
        errors["kind"] = [str(_("Choose one of: %s.")) % ", ".join(EarningRule.Kind.values)]
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors["name"] = [str(_("Give the rule a name (at most 100 characters)."))]
    cleaned: dict[str, Any] = {}
    if "kind" not in errors:
        try:
            cleaned = rule_parameters(kind=kind, parameters=parameters)
        except InvalidInput as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidInput(errors)
    return cleaned


@transaction.atomic
def rules_replace(*, program: Program, rules: list[dict[str, Any]]) -> None:
    if len(rules) > MAX_ITEMS:
        raise InvalidInput({"earning_rules": [str(_("At most 100 rules."))]})
    errors: dict[str, list[str]] = {}
    made = []
    for index, item in enumerate(rules):
        try:
            parameters = rule_clean(
                kind=item.get("kind"), name=item.get("name"), parameters=item.get("parameters")
            )
        except InvalidInput as exc:
            errors.update(_prefixed(f"earning_rules.{index}", exc))
            continue
        made.append(
            EarningRule(
                program=program,
                kind=item["kind"],
                name=item["name"].strip(),
                active=bool(item.get("active", True)),
                parameters=parameters,
            )
        )
    if errors:
        raise InvalidInput(errors)
    EarningRule.objects.filter(program=program).delete()
    EarningRule.objects.bulk_create(made)
    settings_changed(program)


@transaction.atomic
def campaigns_replace(*, program: Program, campaigns: list[dict[str, Any]]) -> None:
    if len(campaigns) > MAX_ITEMS:
        raise InvalidInput({"campaigns": [str(_("At most 100 campaigns."))]})
    errors: dict[str, list[str]] = {}
    made = []
    for index, item in enumerate(campaigns):
        try:
            made.append(_campaign(program, item))
        except InvalidInput as exc:
            errors.update(_prefixed(f"campaigns.{index}", exc))
    if errors:
        raise InvalidInput(errors)
    Campaign.objects.filter(program=program).delete()
    Campaign.objects.bulk_create(made)
    settings_changed(program)


def _campaign(program: Program, item: dict[str, Any]) -> Campaign:
    errors: dict[str, list[str]] = {}
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors["name"] = [str(_("Give the campaign a name (at most 100 characters)."))]
    start, end = item.get("start_date"), item.get("end_date")
    for label, value in (("start_date", start), ("end_date", end)):
        if not isinstance(value, date):
            errors[label] = [str(_("Give a date (YYYY-MM-DD)."))]
    try:
        multiplier = Decimal(str(item.get("multiplier", 1)))
        min_amount = Decimal(str(item.get("min_order_amount", 0)))
    except InvalidOperation:
        multiplier, min_amount = Decimal("NaN"), Decimal(0)
    if not min_amount.is_finite() or min_amount < 0:
        errors["min_order_amount"] = [str(_("An amount from 0."))]
    fixed_bonus = item.get("fixed_bonus", 0)
    if isinstance(fixed_bonus, bool) or not isinstance(fixed_bonus, int):
        errors["fixed_bonus"] = [str(_("A whole number of points."))]
        fixed_bonus = 0
    if errors:
        raise InvalidInput(errors)
    start, end = cast(date, start), cast(date, end)  # both checked above
    campaign = Campaign(
        program=program,
        name=str(name).strip(),
        active=bool(item.get("active", True)),
        start_date=start,
        end_date=end,
        multiplier=multiplier,
        fixed_bonus=fixed_bonus,
        min_order_amount=min_amount,
        tiers=item.get("tiers", []),
        segment=item.get("segment", {}),
    )
    campaign_check(
        start_date=start,
        end_date=end,
        multiplier=multiplier,
        fixed_bonus=fixed_bonus,
        tiers=campaign.tiers,
        segment=campaign.segment,
    )
    return campaign
