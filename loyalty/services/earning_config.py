"""A program's earning rules and campaigns as data: described for ``GET /api/v1/program``,
replaced as a whole by ``PUT /api/v1/program`` (either all valid and applied, or nothing
changes; errors are named like ``earning_rules.0.parameters``), or added, changed and
deleted one at a time in the backoffice.

Invariants: every write here is refused unless the acting staff user is a manager of
the program's merchant (or a superuser), and every change made by a person (a staff
user, or an integrator's API key named by ``actor_name``) is in the audit trail, with
the values before and after, in the transaction of the change.
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_changes, audit_record, audit_replace
from loyalty.content import translations_clean, translations_problems
from loyalty.errors import InvalidInput
from loyalty.models import Campaign, EarningRule, Program, User
from loyalty.roles import Permission, role_check
from loyalty.selectors import campaigns_describe, rules_describe
from loyalty.services.earning import campaign_check, rule_parameters
from loyalty.snapshot import settings_changed

MAX_ITEMS = 100

RULE_FIELDS = ("kind", "name", "active", "parameters")
CAMPAIGN_FIELDS = ("name", "active", "start_date", "end_date", "multiplier", "fixed_bonus",
                   "min_order_amount", "tiers", "segment", "name_i18n")  # fmt: skip

_Row = TypeVar("_Row", EarningRule, Campaign)


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


def _may_configure(actor: User | None, *programs: Program | int | None) -> None:
    """The actor's role must allow configuring programs, and each program be its merchant's."""
    role_check(user=actor, permission=Permission.MANAGE)
    for program in programs:
        if program is None:
            continue
        merchant_id = (
            program.merchant_id
            if isinstance(program, Program)
            else Program.objects.values_list("merchant_id", flat=True).get(pk=program)
        )
        role_check(user=actor, permission=Permission.MANAGE, merchant_id=merchant_id)


def _lock(program: Program) -> None:
    """Writes of one program's configuration queue up behind its row (as ``program_update``)."""
    Program.objects.select_for_update().filter(pk=program.pk).first()


@transaction.atomic
def rules_replace(
    *,
    program: Program,
    rules: list[dict[str, Any]],
    actor: User | None = None,
    actor_name: str = "",
) -> None:
    _may_configure(actor, program)
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
    _lock(program)
    before = rules_describe(program=program)
    EarningRule.objects.filter(program=program).delete()
    EarningRule.objects.bulk_create(made)
    settings_changed(program)
    audit_replace(
        merchant=program.merchant_id,
        target=program,
        action=Action.RULES_REPLACE,
        name="earning_rules",
        before=before,
        after=rules_describe(program=program),
        actor=actor,
        actor_name=actor_name,
    )


@transaction.atomic
def campaigns_replace(
    *,
    program: Program,
    campaigns: list[dict[str, Any]],
    actor: User | None = None,
    actor_name: str = "",
) -> None:
    _may_configure(actor, program)
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
    _lock(program)
    before = campaigns_describe(program=program)
    _keep_translations(program, made, sent=campaigns)
    Campaign.objects.filter(program=program).delete()
    Campaign.objects.bulk_create(made)
    settings_changed(program)
    audit_replace(
        merchant=program.merchant_id,
        target=program,
        action=Action.CAMPAIGNS_REPLACE,
        name="campaigns",
        before=before,
        after=campaigns_describe(program=program),
        actor=actor,
        actor_name=actor_name,
    )


def _keep_translations(program: Program, made: list[Campaign], *, sent: list[Any]) -> None:
    """A campaign sent again under its name without ``name_i18n`` keeps its translations
    (an integrator that knows nothing of them does not wipe the merchant's)."""
    kept = dict(Campaign.objects.filter(program=program).values_list("name", "name_i18n"))
    for campaign, item in zip(made, sent, strict=True):
        if "name_i18n" not in item:
            campaign.name_i18n = kept.get(campaign.name) or {}


def _campaign(program: Program, item: dict[str, Any]) -> Campaign:
    errors: dict[str, list[str]] = {}
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors["name"] = [str(_("Give the campaign a name (at most 100 characters)."))]
    problems = translations_problems(item.get("name_i18n"), max_length=100)
    if problems:
        errors["name_i18n"] = problems
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
        name_i18n=translations_clean(item.get("name_i18n"), max_length=100),
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


# One rule or campaign at a time (the backoffice)


def _stored(row: _Row, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """The row's values as stored (with its program), or None for a new row."""
    if row.pk is None:
        return None
    return type(row).objects.filter(pk=row.pk).values("program_id", *fields).first()


def _values(row: EarningRule | Campaign, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


def _row_save(
    row: _Row,
    fields: tuple[str, ...],
    check: Callable[[_Row], dict[str, Any]],
    actions: tuple[str, str],
    *,
    actor: User | None,
) -> _Row:
    stored = _stored(row, fields)
    moved = stored is not None and stored["program_id"] != row.program_id
    # A change may not take a row from another merchant's program, nor give it to one.
    _may_configure(actor, row.program, stored["program_id"] if moved and stored else None)
    for name, value in check(row).items():
        setattr(row, name, value)
    _lock(row.program)
    row.save()
    settings_changed(row.program)
    before = {name: stored[name] for name in fields} if stored else {}
    # As stored on both sides (a multiplier of 2 reads back as 2.00).
    after = _stored(row, fields) or {}
    changes = audit_changes(before, {name: after[name] for name in fields})
    if moved and stored:
        changes["program"] = [stored["program_id"], row.program_id]
    if changes:
        audit_record(
            merchant=row.program.merchant_id,
            actor=actor,
            action=actions[1] if stored else actions[0],
            target=row,
            changes=changes,
        )
    return row


def _row_delete(row: _Row, fields: tuple[str, ...], action: str, *, actor: User | None) -> None:
    _may_configure(actor, row.program)
    stored = _stored(row, fields)
    if stored is None or stored["program_id"] != row.program_id:
        return  # already gone
    _lock(row.program)
    audit_record(
        merchant=row.program.merchant_id,
        actor=actor,
        action=action,
        target=row,
        changes=audit_changes({name: stored[name] for name in fields}, dict.fromkeys(fields)),
    )
    row.delete()
    settings_changed(row.program)


def _rule_checked(rule: EarningRule) -> dict[str, Any]:
    parameters = rule_clean(kind=rule.kind, name=rule.name, parameters=rule.parameters)
    return {"name": rule.name.strip(), "parameters": parameters}


def _campaign_checked(campaign: Campaign) -> dict[str, Any]:
    checked = _campaign(campaign.program, _values(campaign, CAMPAIGN_FIELDS))
    return _values(checked, CAMPAIGN_FIELDS)


@transaction.atomic
def earning_rule_save(*, rule: EarningRule, actor: User | None) -> EarningRule:
    """Add or change one rule, checked as ``PUT /api/v1/program`` checks it."""
    return _row_save(
        rule, RULE_FIELDS, _rule_checked, (Action.RULE_CREATE, Action.RULE_UPDATE), actor=actor
    )


@transaction.atomic
def earning_rule_delete(*, rule: EarningRule, actor: User | None) -> None:
    _row_delete(rule, RULE_FIELDS, Action.RULE_DELETE, actor=actor)


@transaction.atomic
def campaign_save(*, campaign: Campaign, actor: User | None) -> Campaign:
    """Add or change one campaign, checked as ``PUT /api/v1/program`` checks it."""
    return _row_save(
        campaign,
        CAMPAIGN_FIELDS,
        _campaign_checked,
        (Action.CAMPAIGN_CREATE, Action.CAMPAIGN_UPDATE),
        actor=actor,
    )


@transaction.atomic
def campaign_delete(*, campaign: Campaign, actor: User | None) -> None:
    _row_delete(campaign, CAMPAIGN_FIELDS, Action.CAMPAIGN_DELETE, actor=actor)
